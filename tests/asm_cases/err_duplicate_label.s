# A label (or .equ name) defined twice; the first definition is named.
start:  nop
start:  nop                     # error: duplicate symbol 'start'
.equ start, 4                   # error: duplicate symbol 'start'
.equ K, 1
K:      nop                     # error: duplicate symbol 'K'
