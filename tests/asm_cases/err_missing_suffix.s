# Lane instructions must name their granularity.
        add r1, r2, r3          # error: add needs a granularity suffix: add.b, add.h, add.w
        mac r1, r2, r3          # error: mac needs a granularity suffix
        macsu r1, r2, r3        # error: macsu.b, macsu.h
        relu. r1, r2            # error: relu needs a granularity suffix
