# Raw words in code (what the disassembler prints for words that do not decode).
        .word 0x00000000        # = 0x00000000
        .word 0xffffffff, 1     # = 0xffffffff, 0x00000001
        halt                    # = 0xf0000001
