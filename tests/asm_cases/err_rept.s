# .rept counts must be known where the .rept is; stray or missing .endr.
        .rept LATER             # error: 'LATER' must be defined above this line
        nop
        .endr
        .rept -1                # error: .rept count -1 is negative
        nop
        .endr
        .rept 1, 2              # error: .rept takes one count
        .endr
        .rept 2                 # error: '.rept' without a matching '.endr'
        nop
.equ LATER, 2
