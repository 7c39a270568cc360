# Branches store (target - pc) / 4 in 12 bits.
top:    beq r1, r2, top         # = 0xa0012000
        bne r1, r0, top         # = 0xa4010fff
        blt r1, r2, next        # = 0xa8012002
        bge r1, r2, next        # = 0xac012001
next:   bltu r3, r4, top        # = 0xb0034ffc
        bgeu r3, r4, next+8     # = 0xb4034001
        beq r0, r0, 28          # = 0xa0000001
