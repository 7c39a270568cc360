# Pack and unpack (op 3).
        packs.h r1, r2, r3      # = 0x0d123000
        packs.b r1, r2, r3      # = 0x0c123000
        unpkl.h r4, r5          # = 0x0d450001
        unpkh.b r4, r5          # = 0x0c450002
