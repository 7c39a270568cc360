# Unknown mnemonics, with the nearest spellings suggested.
        ad.w r1, r2, r3         # error: did you mean 'add.w'
        hlat                    # error: unknown instruction 'hlat'
        ADD.W r1, r2, r3        # error: did you mean 'add.w'
        frobnicate              # error: unknown instruction
        nop
