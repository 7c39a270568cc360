# maxpool.s: 2x2 max pooling, stride 2, of a packed channels-last tensor.
#
# Computes  y[c, oy, ox] = max over dy, dx < 2 of x[c, 2*oy+dy, 2*ox+dx]
# lane-wise with max.b / max.h / max.w: 4, 2 or 1 channels per instruction.
#
# Parameters (.equ, prepended by the driver kernels/pool.py):
#   IS8 IS16 IS32   lane width (one is 1)
#   CW              words per pixel: ceil(C / lanes)
#   W               input width (even); HO, WO output height and width
#   XADDR YADDR     GM: input H x W x CW words, output HO x WO x CW words
#
# Mapping: output row oy is computed by PE (oy mod P); each input word is
# loaded exactly once (the 2x2 windows do not overlap).
#
# Registers: r1 id, r2 PEs, r3 oy, r7-r10 the window, r11 upper input row,
#   r12 lower input row, r13 scratch, r14 output pointer, r15 pixels left.
#
# Cycles per output word: 4 GM loads + 3 max + 1 GM store + 2 pointer steps,
# about 4*9 + 5 + 9 = 50 with the default GM cost of 8.

.include "width.inc"

    .text
    PE_ID_COUNT                 # r1 id, r2 PEs
    mv r3, r1
row:
    li r13, HO
    bge r3, r13, done
    li r13, 2*W*CW*4
    mul.w r11, r3, r13
    li r13, XADDR
    add.w r11, r11, r13
    li r13, W*CW*4
    add.w r12, r11, r13
    li r13, WO*CW*4
    mul.w r14, r3, r13
    li r13, YADDR
    add.w r14, r14, r13
    li r15, WO
pixel:
    li r13, CW
    loop r13, 1f
    lw r7, 0(r11)
    lw r8, CW*4(r11)
    lw r9, 0(r12)
    lw r10, CW*4(r12)
    MAXG r7, r7, r8
    MAXG r9, r9, r10
    MAXG r7, r7, r9
    sw r7, (r14)+4
    addi r11, r11, 4
    addi r12, r12, 4
1:  addi r11, r11, CW*4         # past the right-hand column of the window
    addi r12, r12, CW*4
    addi r15, r15, -1
    bne r15, r0, pixel
    add.w r3, r3, r2
    j row
done:
    halt
