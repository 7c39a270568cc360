# A suffix on a plain instruction, or one the instruction does not have.
        lw.w r1, 0(r2)          # error: lw takes no granularity suffix
        and.b r1, r2, r3        # error: and takes no granularity suffix
        li.w r1, 5              # error: li takes no granularity suffix
        macsu.w r1, r2, r3      # error: macsu has no .w form; it takes macsu.b, macsu.h
        add.q r1, r2, r3        # error: add has no .q form
