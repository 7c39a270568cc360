# .if/.elseif/.else/.endif: the first branch whose expression is not zero; nestable;
# expressions known where the .if is (names and labels above it).
.equ W, 16
.if W == 8
        addi r1, r0, 8
.elseif W == 16
        addi r1, r0, 16         # = 0x20100010
.elseif W == 16
        addi r1, r0, 99         # a later true branch is not taken
.else
        addi r1, r0, 32
.endif
.if 0
.else
        nop                     # = 0xf0000000
.endif
.if W > 8 && !(W == 32) || 0
  .if W >= 16
        halt                    # = 0xf0000001
  .else
        sync
  .endif
.endif
.if 0
        .rept 0x7fffffff        # a branch not taken is not expanded
        .endr
        this line is not assembled
.endif
top:
.if top == 12                   # labels above count
        addi r2, r0, top        # = 0x2020000c
.endif
# Inside macros and .rept bodies, evaluated at each expansion.
.macro sign x
.if \x < 0
        addi r3, r0, -1         # = 0x2030ffff
.elseif \x == 0
        addi r3, r0, 0          # = 0x20300000
.else
        addi r3, r0, 1          # = 0x20300001, 0x20300001
.endif
.endm
        sign -5
        sign 0
        sign 7
        sign 1
.set i, 0
.rept 4
.if i % 2
        addi r4, r0, i          # = 0x20400001, 0x20400003
.else
        addi r5, r0, i          # = 0x20500000, 0x20500002
.endif
.set i, i + 1
.endr
