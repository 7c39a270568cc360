# A helper macro for the include cases.
.include "consts.s"
.macro area reg
        li \reg, WIDTH * HEIGHT # = 0x20100080
.endm
