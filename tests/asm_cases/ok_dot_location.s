# `.` is the address of the current statement.
        nop                     # = 0xf0000000
        j .                     # = 0xc0000000
        beq r0, r0, . + 8       # = 0xa0000002
.data
        .word .                 # @0x80000000 = 0x80000000
        .word . + 4             # @0x80000004 = 0x80000008
