# A file that includes itself is stopped at once.
.include "err_include_recursive.s"      # error: includes itself (recursive .include)
        nop
