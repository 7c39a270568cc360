# An error inside a macro body is reported at the body line, with a note saying
# where the macro was expanded.
.macro setup reg, value
        addi \reg, r0, \value   # error: value 99999 (0x1869f) out of range for simm16
        ad.w \reg, \reg, \reg   # error: unknown instruction 'ad.w'
.endm
        setup r1, 1             # note: in expansion of macro 'setup'
        setup r2, 99999         # note: in expansion of macro 'setup'
