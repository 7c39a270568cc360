# Shifts by immediate (format SH): the amount's range is the lane width - 1.
        slli.w r7, r1, 2        # = 0x42710002
        slli.w r7, r1, 31       # = 0x4271001f
        srli.b r1, r2, 7        # = 0x44120007
        srai.h r3, r4, 15       # = 0x4934000f
        srari.b r1, r1, 7       # = 0x4c110007
        srasi.w r2, r3, 0       # = 0x52230000
