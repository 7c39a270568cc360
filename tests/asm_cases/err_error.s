# .error stops the build with its message, at its line, with the macro or include
# it came through.
.equ W, 12
.if W % 8
        .error "W must be a multiple of 8"      # error: W must be a multiple of 8
.endif
.macro need x
.ifndef \x
        .error "missing definition"             # error: missing definition
.endif
.endm
        need W
        need NOPE                               # note: in expansion of macro 'need'
        .error                                  # error: .error takes 1 operand, got 0
        .error 5                                # error: expected a string, got '5'
        .warning "bad \q escape"                # error: unknown escape '\q' in the string
