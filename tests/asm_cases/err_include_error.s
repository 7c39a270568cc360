# An error in an included file says which line included it.
        nop
.include "inc/bad_helper.s"     # note: included from
        halt
