# Every error in the file is reported at once, and lines after an error still count.
        add r1, r2, r3          # error: needs a granularity suffix
        nop
        addi r1, r2, 70000      # error: out of range
bad syntax here (               # error: unexpected
label:  beq r0, r0, label2      # error: did you mean 'label'
        lw r1, r2               # error: expected 'off12(rs)'
        .wrod 1                 # error: unknown directive
        halt
