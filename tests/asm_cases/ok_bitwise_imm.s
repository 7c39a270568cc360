# Bitwise (op 4, no suffix) and immediates.
        and r1, r2, r3          # = 0x10123000
        or r1, r2, r3           # = 0x10123001
        xor r1, r2, r3          # = 0x10123002
        not r1, r2              # = 0x10120003
        addi r1, r2, -1         # = 0x2012ffff
        addi r1, r2, 32767      # = 0x20127fff
        addi r1, r2, -32768     # = 0x20128000
        andi r3, r4, 0xff       # = 0x243400ff
        ori r3, r4, 65535       # = 0x2834ffff
        xori r3, r4, 0b1010     # = 0x2c34000a
        lui r1, 0x12345         # = 0x30112345
        lui r1, 0xfffff         # = 0x301fffff
