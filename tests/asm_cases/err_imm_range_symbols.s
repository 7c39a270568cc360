# Ranges are checked in pass 2 too, when the value comes from a symbol.
        addi r1, r0, BIG        # error: value 40000 (0x9c40) out of range for simm16
        lw r1, OFF(r2)          # error: out of range for off12
        li r1, table            # fine: two instructions
.equ BIG, 40000
.equ OFF, -3000
.data
table:  .word 0
