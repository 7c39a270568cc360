# Too many or too few operands: the accepted forms are listed.
        add.w r1, r2            # error: add.w takes 3 operands, got 2
        add.w r1, r2, r3, r4    # error: add.w takes 3 operands, got 4
        halt r1                 # error: halt takes 0 operands, got 1
        j                       # error: j takes 1 operand, got 0
        relu.b r1               # error: expected: relu.b rd, rs
