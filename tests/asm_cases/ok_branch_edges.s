# The branch offset field is 12 bits scaled by 4: -8192 .. +8188 bytes.
start:  beq r0, r0, start + 8188        # = 0xa00007ff
        .space 8188
        beq r0, r0, start               # = 0xa0000800
