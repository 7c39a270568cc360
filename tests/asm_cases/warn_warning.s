# .warning reports and the program still assembles; in a macro it is reported at the
# body line (the note says where the macro was called).
        .warning "check the stride"     # warning: check the stride
.macro careful
        .warning "from a macro"         # warning: from a macro
.endm
        careful
        nop                             # = 0xf0000000
