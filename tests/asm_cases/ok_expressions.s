# Expressions: C precedence, hex/binary/octal/char literals, labels and `.equ` names.
.equ N, 3
        addi r1, r0, 1 + 2 * 3          # = 0x20100007
        addi r1, r0, (1 + 2) * 3        # = 0x20100009
        addi r1, r0, (N*4)<<1           # = 0x20100018
        addi r1, r0, 1 << 2 + 1         # = 0x20100008
        addi r1, r0, 0x10 | 0b11        # = 0x20100013
        addi r1, r0, 0o17 & ~1          # = 0x2010000e
        addi r1, r0, 6 ^ 3              # = 0x20100005
        addi r1, r0, -7 / 2             # = 0x2010fffd
        addi r1, r0, -7 % 2             # = 0x2010ffff
        addi r1, r0, -16 >> 2           # = 0x2010fffc
        addi r1, r0, 'A'                # = 0x20100041
        addi r1, r0, '\n'               # = 0x2010000a
        addi r1, r0, 1_000              # = 0x201003e8
        addi r1, r0, --3                # = 0x20100003
        addi r1, r0, -(-(-3))           # = 0x2010fffd
        addi r1, r0, ((((((((1))))))))  # = 0x20100001
        addi r1, r0, here - 4           # = 0x20100040
here:   addi r1, r0, here               # = 0x20100044
