# Macro invocations with the wrong arguments, and bodies naming unknown parameters.
.macro two a, b
        addi \a, \a, \b
.endm
        two r1, 1, 2            # error: macro 'two' takes 2 arguments, got 3
        two r1                  # error: missing argument 'b' for macro 'two'
.macro bad x
        addi \x, \x, \y         # error: macro 'bad' has no parameter 'y'
.endm
.macro two p                    # error: macro 'two' is already defined
.endm
        two r2, 5
