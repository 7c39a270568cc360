# Lines that do not parse: the caret is at the first token that cannot fit.
        add.w r1 r2, r3         # error: unexpected register 'r2'
        addi r1, r2, (3         # error: unexpected end of line
        addi r1, r2, 3)         # error: unexpected ')'
        addi r1, r2, 3 $ 4      # error: unexpected name '$'
        lw r1, (r2)             # error: expected one of: lw rd, off12(rs) | lw rd, (rs)+off12
        nop ; halt              # error: unexpected ';'
        addi r1, r2, 1+r3       # error: register r3 cannot be used in an expression
        addi r1, r2, 12abc      # error: unexpected name 'abc'
