# Register names cannot be labels or symbols.
r1:     nop                     # error: 'r1' is a register name and cannot be a symbol
r15:                            # error: 'r15' is a register name
ok:     nop
