# Included by err_include_error.s: its errors are reported here, with a note.
        nop
        addi r1, r0, 70000      # error: out of range for simm16
