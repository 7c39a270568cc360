# Directive misuse: unknown names, bad sizes, alignment, ranges.
        .wrod 5                 # error: did you mean '.word'
        .align 3                # error: the alignment must be a power of two
        .space -1               # error: the size cannot be negative
        .org 0x10
        .org 0x8                # error: .org 0x8 would move backwards (already at 0x10)
        .text 5                 # error: .text takes 0 operands, got 1
.data
        .half 70000             # error: value 70000 does not fit .half
        .byte 256               # error: value 256 does not fit .byte (-128..255)
        .word 5                 # error: misaligned .word at 0x80000003
        .org 0x100              # error: .org 0x100 is outside .data
        .word r1                # error: .word takes no register operands
        .space 0x1000000        # error: .data does not fit the region
