# Instructions belong in .text.
.data
        nop                     # error: instruction in a data section (.data)
.sdata
        add.w r1, r2, r3        # error: code goes in .text
.text
        nop
