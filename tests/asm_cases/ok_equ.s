# .equ: constants, expressions of earlier names, forward references, label arithmetic.
.equ A, 5
.equ B, A * 2 + 1
.equ C, LATER + 1               # forward: resolved in pass 2
.equ SIZE, end - start          # labels
        addi r1, r0, B          # = 0x2010000b
start:  addi r1, r0, C          # = 0x20100008
        addi r1, r0, SIZE       # = 0x20100008
end:
.equ LATER, 7
# sym A = 5
# sym B = 11
# sym C = 8
# sym SIZE = 8
