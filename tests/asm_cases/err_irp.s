# .irp: a parameter name first, only its own parameter in the body, a matching .endr.
.irp 5, a                       # error: '.irp' needs a parameter name first
.endr
.irp x, 1
        addi r1, r0, \y         # error: '.irp' has no parameter 'y'
.endr
.endr                           # error: '.endr' without a matching '.rept' or '.irp'
.irp x, 1                       # error: '.irp' without a matching '.endr'
        nop
