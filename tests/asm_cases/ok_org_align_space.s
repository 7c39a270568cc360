# .org sets the location counter (an address in the section), .align pads to a power
# of two (with nop in code), .space reserves bytes (zero or a fill byte).
        halt                    # = 0xf0000001
        .align 16               # = 0xf0000000, 0xf0000000, 0xf0000000
        halt                    # = 0xf0000001
        .space 4                # = 0x00000000
        .org 0x20
        .word 0x12345678        # = 0x12345678
.data
        .byte 1                 # @0x80000000 = 0x00000001
        .align 4
        .word 2                 # @0x80000004 = 0x00000002
        .space 3, 0xaa
        .byte 0xbb              # @0x80000008 = 0xbbaaaaaa
        .org 0x80000100
late:   .word 3                 # @0x80000100 = 0x00000003
# sym late = 0x80000100
