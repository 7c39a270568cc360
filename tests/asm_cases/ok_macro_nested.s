# A macro can use another macro, and a macro can define one.  Words are attributed
# to the innermost line that produced them (here the \insn lines of `twice`).
.macro twice insn
        \insn                   # = 0xf0000000, 0xf0000000
        \insn                   # = 0xf0000000, 0xf0000000
.endm
.macro nops4
        twice nop
        twice nop
.endm
.macro define_halt name
.macro \name
        halt                    # = 0xf0000001
.endm
.endm
        nops4
        define_halt stop
        stop
