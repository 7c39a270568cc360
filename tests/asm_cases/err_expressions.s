# Expression errors are positioned at the operator or literal at fault.
        addi r1, r0, 1 / 0      # error: division by zero
        addi r1, r0, 5 % 0      # error: division by zero
        addi r1, r0, 1 << 64    # error: shift amount 64 outside 0..63
        addi r1, r0, 99999999999999999999999999    # error: number does not fit in 64 bits
        addi r1, r0, 1234567890123456789012345678901234567890123456789012345678901234567890123 # error: number too large
        addi r1, r0, '\q'       # error: unknown escape '\q'
        li r1, (1 << 40) * (1 << 40)    # error: value does not fit in 64 bits
