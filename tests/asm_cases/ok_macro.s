# Macros as in GNU as: parameters \name, defaults, named arguments, \@ for unique labels.
.macro inc reg, by=1
        addi \reg, \reg, \by    # = 0x20110001, 0x20220005, 0x20330002
.endm
.macro spin reg
wait\@: bne \reg, r0, wait\@    # = 0xa4010000, 0xa4020000
.endm
        inc r1
        inc r2, 5
        inc by=2, reg=r3
        spin r1
        spin r2
