# .assert: a zero value is an error with the message (or the expression).
.equ BUF, 0x3ff0
.assert BUF + 32 <= LM_BASE + LM_SIZE, "the buffer overflows LM" # error: assertion failed: the buffer overflows LM
.assert 1 == 2                  # error: assertion failed: 1 == 2
.assert nowhere                 # error: undefined symbol 'nowhere'
.assert 1, 2                    # error: expected a string, got '2'
.assert                         # error: .assert takes 1 to 2 operands, got 0
.macro check v
.assert \v > 0, "positive"      # error: assertion failed: positive
.endm
        check 1
        check -1                # note: in expansion of macro 'check'
