# mv rd, rs is addi rd, rs, 0 (the [[pseudo]] expansion in isa.toml).
        mv r3, r4               # = 0x20340000
        mv r15, r0              # = 0x20f00000
