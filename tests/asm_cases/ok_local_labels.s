# Numeric local labels: `1:` may repeat; 1b is the nearest before, 1f the nearest after.
1:      nop                     # = 0xf0000000
        beq r0, r0, 1b          # = 0xa0000fff
        beq r0, r0, 1f          # = 0xa0000001
1:      bne r1, r0, 1b          # = 0xa4010000
        bne r1, r0, 2f          # = 0xa4010001
2:      j 1b                    # = 0xc3fffffe
2:      j 2b                    # = 0xc0000000
1: 2:   beq r0, r0, 1b          # = 0xa0000000
        beq r0, r0, 2b          # = 0xa0000fff
