# The machine's parameters cannot be redefined; the array's size is not one of them.
.equ LM_SIZE, 5                 # error: 'LM_SIZE' is predefined
LM_BASE: nop                    # error: 'LM_BASE' is predefined
        addi r1, r0, ROWS       # error: read them with `mfs rd, rows`
        addi r1, r0, LM_SZE     # error: did you mean 'LM_SIZE'
