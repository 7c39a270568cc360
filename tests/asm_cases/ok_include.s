# .include finds files beside the including file (then in -I directories);
# an included file can include another.
.include "inc/macros.s"
        area r1
        addi r2, r0, HEIGHT     # = 0x20200008
