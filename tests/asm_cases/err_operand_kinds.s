# The wrong kind of operand: register, immediate, enum name, addressing form.
        add.w r1, r2, 5         # error: expected a register (r0..r15), got '5'
        addi r1, 5, r2          # error: expected a register (r0..r15), got '5'
        addi r1, r2, r3         # error: expected an immediate expression, got register r3
        add.w r1, r2, r16       # error: expected a register (r0..r15), got 'r16'
        send x, r1              # error: expected a direction (n, e, s, w), got 'x'
        mfs r1, rwo             # error: did you mean 'row'
        mts 3, r1               # error: expected a special register
        lw r1, r2               # error: expected one of: lw rd, off12(rs) | lw rd, (rs)+off12
        sw r1, 4                # error: expected 'off12(rs)'
        recv r1, "n"            # error: got a string
