# Lane arithmetic: op 1, g in bits 25..24 (b=0 h=1 w=2), fn in bits 11..0.
        add.w r1, r2, r3        # = 0x06123000
        add.b r1, r2, r3        # = 0x04123000
        add.h r1, r2, r3        # = 0x05123000
        sub.b r4, r5, r6        # = 0x04456001
        adds.h r1, r2, r3       # = 0x05123002
        subus.w r15, r14, r13   # = 0x06fed005
        mul.h r0, r0, r0        # = 0x05000006
        maxu.b r1, r2, r3       # = 0x0412300a
        relu.b r7, r8           # = 0x0478000c
        abs.w r1, r2            # = 0x0612000b
        splat.h r1, r2          # = 0x05120011
        sra.w r1, r2, r3        # = 0x0612300f
        srar.b r1, r2, r3       # = 0x04123010
