# A bad line in a macro body is reported once, at its definition, and the macro is
# still defined: its calls are not "unknown instruction" errors.
.macro m a
        addi \a, \a, 1
        addi \a, \a, \b         # error: macro 'm' has no parameter 'b'
.endm
        m r1
        m r2
.macro n x, 1y                  # error: bad macro parameter '1y'
        addi \x, \x, 1
.endm
        n r3
