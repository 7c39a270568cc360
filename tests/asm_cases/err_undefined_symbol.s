# Undefined symbols, with near misses suggested; every use is reported.
loop:   nop
        beq r1, r2, lopo        # error: did you mean 'loop'
        li r1, nowhere          # error: undefined symbol 'nowhere'
        addi r1, r0, COUNT      # error: undefined symbol 'COUNT'
        j row                   # error: 'row' is a sreg operand name
.data
        .word missing           # error: undefined symbol 'missing'
