# .set NAME, VALUE: redefinable; each use takes the value of the last .set above it.
.set x, 1
        addi r1, r0, x          # = 0x20100001
.set x, x + 1
        addi r1, r0, x          # = 0x20100002
        li r2, x << 16          # = 0x30200020
.set x, 10
.rept x / 5                     # a .set value is known at once
        nop                     # = 0xf0000000, 0xf0000000
.endr
.data
.set v, 5
        .word v                 # @0x80000000 = 0x00000005
.set v, v * 2
        .word v                 # @0x80000004 = 0x0000000a
.set p, tail                    # a label below: resolved at the end
        .word p                 # @0x80000008 = 0x80000010
.set p, 0
        .word p                 # @0x8000000c = 0x00000000
tail:   .word x                 # @0x80000010 = 0x0000000a
# sym x = 10
# sym v = 10
# sym p = 0
