# A macro that expands itself forever stops at the depth limit with one error.
.macro forever
        nop
        forever                 # error: macro expansion nested more than 64 deep
.endm
        forever
        halt
