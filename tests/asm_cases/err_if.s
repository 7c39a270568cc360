# .if: a value needed where the .if is, one expression, and matching .else/.endif.
.if                             # error: .if takes one expression
.endif
.if FUTURE                      # error: 'FUTURE' must be defined above this line
.endif
.if 1, 2                        # error: .if takes one expression
.endif
.else                           # error: '.else' without a matching '.if'
.endif                          # error: '.endif' without a matching '.if'
.elseif 1                       # error: '.elseif' without a matching '.if'
.if 1
.else
.else                           # error: '.else' after '.else'
.endif
.if 0
.else 5                         # error: '.else' takes no operands
.endif 5                        # error: '.endif' takes no operands
.ifdef 5                        # error: '.ifdef' takes one symbol name
.endif
.ifndef                         # error: '.ifndef' needs a symbol name
.endif
.if 1 / 0                       # error: division by zero
        nop
.endif
.equ FUTURE, 1
.if 1                           # error: '.if' without a matching '.endif'
        nop
