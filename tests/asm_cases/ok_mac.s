# Multiply-accumulate (op 2).
        mac.b r5, r10, r11      # = 0x085ab000
        mac.w r1, r2, r3        # = 0x0a123000
        macsu.b r1, r2, r3      # = 0x08123001
        macs.h r1, r2, r3       # = 0x09123002
        dot.h r1, r2, r3        # = 0x09123003
        dotsu.b r1, r2, r3      # = 0x08123004
