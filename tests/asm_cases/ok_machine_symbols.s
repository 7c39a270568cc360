# The machine's parameters (isa.toml [machine]) are predefined in upper case.
        li r1, LM_BASE          # = 0x20100000
        li r2, SM_BASE          # = 0x30210000
        addi r4, r0, SM_BANKS   # = 0x20400010
        li r5, LM_BASE + LM_SIZE - 4    # = 0x20503ffc
.assert GM_BASE + GM_SIZE > SM_BASE + SM_SIZE
.assert IMEM_WORDS * 4 >= end
end:
