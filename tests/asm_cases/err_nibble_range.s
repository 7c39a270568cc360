# Shift amounts of nibble lanes: 0..3 (lanes of 4 bits), 0..7 for packsr.n (bytes in).
        slli.n r1, r2, 4        # error: value 4 out of range for sh (0..3)
        srasi.n r1, r2, -1      # error: value -1 out of range for sh (0..3)
        packsr.n r1, r2, r3, 8  # error: value 8 out of range for sh (0..7)
