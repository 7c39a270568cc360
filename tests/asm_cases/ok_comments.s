# Comments, blank lines, tabs, labels alone or stacked, no space after a label.


	add.w	r1,r2,r3	# = 0x06123000
alone:
also:   # a comment after a label
lbl:nop                         # = 0xf0000000
        nop # halt              # = 0xf0000000
# sym alone = 4
# sym also = 4
# sym lbl = 4
