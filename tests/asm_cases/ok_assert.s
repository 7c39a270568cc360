# .assert EXPR[, "message"] (customasm): checked when every symbol is known.
.assert LM_SIZE >= 1024
.assert end - start == 8, "two instructions"   # labels below are fine
start:  nop                     # = 0xf0000000
        halt                    # = 0xf0000001
end:
.set n, 1
.assert n == 1                  # the .set in force here, not the last one
.set n, 2
