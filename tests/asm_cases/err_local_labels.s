# Numeric local label references need a definition in the right direction.
        beq r0, r0, 1b          # error: no local label '1:' before this line
1:      nop
        beq r0, r0, 1f          # error: no local label '1:' after this line
        beq r0, r0, 1b
