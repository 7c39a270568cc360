# .ifdef/.ifndef NAME: whether a symbol is defined above (labels, .equ, .set, the
# machine's parameters).
.equ HAVE, 1
.ifdef HAVE
        nop                     # = 0xf0000000
.endif
.ifndef HAVE
        sync
.endif
.ifdef LATER                    # defined below: not yet
        sync
.else
        halt                    # = 0xf0000001
.endif
.ifdef LM_BASE
        addi r1, r0, 1          # = 0x20100001
.endif
.ifndef NOPE
        addi r1, r0, 2          # = 0x20100002
.endif
here:
.ifdef here
        addi r1, r0, 3          # = 0x20100003
.endif
.set counter, 0
.ifdef counter
        addi r1, r0, 4          # = 0x20100004
.endif
LATER:
