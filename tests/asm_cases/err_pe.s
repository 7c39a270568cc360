# Bad PE selections.
.pe 16,0                        # error: PE range 16:16 is not within 0..15
.pe 2:1,0                       # error: PE range 2:1 is not within 0..15 (low to high)
.pe everything                  # error: bad PE selection
.pe 1                           # error: expected: .pe all | .pe R,C | .pe R0:R1,C0:C1
.pe ROW,0                       # error: 'ROW' must be defined above this line
.pe 0,0
        nop
.equ ROW, 1
