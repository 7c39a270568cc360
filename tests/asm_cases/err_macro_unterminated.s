# A .macro with no .endm, and stray closing directives.
        .endm                   # error: '.endm' without a matching '.macro'
        .endr                   # error: '.endr' without a matching '.rept'
.macro open a                   # error: '.macro' without a matching '.endm'
        nop
