# Comparisons and logic (C precedence) give 1 or 0; ! is logical not.
        addi r1, r0, 3 < 4      # = 0x20100001
        addi r1, r0, 3 >= 4     # = 0x20100000
        addi r1, r0, 1 << 2 == 4    # = 0x20100001
        addi r1, r0, !0 + !5    # = 0x20100001
        addi r1, r0, 2 && 3 || 0    # = 0x20100001
        addi r1, r0, 5 != 5     # = 0x20100000
        addi r1, r0, (1 < 2) * 7    # = 0x20100007
        addi r1, r0, 1 | 2 == 2     # = 0x20100001
        addi r1, r0, -1 < 0 && 4 > 2 && 2 <= 2  # = 0x20100001
