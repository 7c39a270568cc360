# .irp NAME, VALUE...: the body once per value, \NAME replaced; nestable; in macros.
.irp reg, r1, r2, r3
        addi \reg, \reg, 1      # = 0x20110001, 0x20220001, 0x20330001
.endr
.irp n, 1, 2
.irp m, 10, 20
        addi r4, r0, \n*\m      # = 0x2040000a, 0x20400014, 0x20400014, 0x20400028
.endr
.endr
.irp x
        addi r5, r0, 7\x        # = 0x20500007
.endr
.macro sum3 a, b, c
.irp v, \a, \b, \c
        addi r5, r5, \v         # = 0x20550001, 0x20550002, 0x20550003
.endr
.endm
        sum3 1, 2, 3
.irp op, add, sub
        \op\().w r6, r6, r7     # = 0x06667000, 0x06667001
.endr
.data
.irp s, "ab", "c,d"             # commas in quotes (or parentheses) do not split
        .ascii \s               # @0x80000000 = 0x2c636261
.endr
