# .rept N (an expression known here) repeats its body; nested; 0 times is nothing.
.equ TIMES, 3
        .rept TIMES
        nop                     # = 0xf0000000, 0xf0000000, 0xf0000000
        .endr
        .rept 2
        .rept 2
        halt                    # = 0xf0000001, 0xf0000001, 0xf0000001, 0xf0000001
        .endr
        .endr
        .rept 0
        sync
        .endr
data:   .rept 2
        .word data              # = 0x0000001c, 0x0000001c
        .endr
