# Immediates outside the field (or the entry's narrower range).
        addi r1, r2, 32768      # error: value 32768 (0x8000) out of range for simm16 (-32768..32767)
        addi r1, r2, -32769     # error: out of range for simm16
        andi r1, r2, -1         # error: value -1 out of range for uimm16 (0..65535)
        lui r1, 0x100000        # error: out of range for imm20 (0..1048575)
        slli.b r1, r2, 8        # error: value 8 out of range for sh (0..7)
        slli.h r1, r2, 16       # error: out of range for sh (0..15)
        lw r1, 2048(r2)         # error: out of range for off12 (-2048..2047)
        sw r1, (r2)+-2049       # error: out of range for off12
        li r1, 0x100000000      # error: out of range for imm32
        slli.b r1, r2, 7
