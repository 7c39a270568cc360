# maxpool.s: 2x2 max pooling, stride 2, of a packed channels-last tensor.
#
# Computes  y[c, oy, ox] = max over dy, dx < 2 of x[c, 2*oy+dy, 2*ox+dx]
# lane-wise with max.b / max.h / max.w: 4, 2 or 1 channels per instruction.
#
# Parameters (.equ, prepended by the driver kernels/pool.py):
#   IS8 IS16 IS32   lane width (one is 1)
#   CW              words per pixel: ceil(C / lanes)
#   W               input width (even); HO, WO output height (all images) and width
#   TW              output pixels of a segment (<= WO: as many as LM holds)
#   XADDR YADDR     GM: input 2*HO x W x CW words, output HO x WO x CW words
# and, per PE, a launch record the host writes to LM at ARGS (words):
#   0 units         output pixels this PE computes; 2 oy, 3 ox the first of them
#   7 y             where its first output word goes in GM (then stepped)
#
# Mapping: the HO*WO output pixels are split into P contiguous ranges that differ
# by at most one, one per PE.  A PE walks its range in segments of up to TW
# pixels of one output row: its DMA engine fetches the segment's two input row
# pieces GM -> LM (the next segment's while it computes this one, double
# buffered), the PE takes the maxima from LM, and the results leave by DMA.
# Each input word is read from GM once (the 2x2 windows do not overlap).
#
#   GM input rows 2oy, 2oy+1 --(DMA)--> LM UP[b], LO[b] --(max)--> OUT --(DMA)--> GM
#
# Registers: r1 units left, r2 ox, r3 pixels in the segment, r4 unused block
#   counter (ADVANCE), r5 oy, r6 the buffer in use, r7-r10 the window, r11 upper
#   row, r12 lower row, r13 scratch, r14 output pointer.
#
# Cycles per output word: 4 LM loads + 3 max + 1 LM store = 8, plus 2 per pixel
# and about 50 per segment; the input arrives by DMA beside the work.

.include "width.inc"

.equ ARGS, 0
.equ OUTB, 32
.equ PIECE, 2*TW*CW*4           # bytes of one input row piece of a segment
.equ UP0, OUTB + TW*CW*4
.equ UP1, UP0 + 2*PIECE         # each buffer: the upper piece, then the lower one

# DMA the two input row pieces under n output pixels from (oy, ox) to buf, buf+PIECE.
# Uses r11, r12, r13.
.macro FETCH_ROWS buf, oy, ox, n
    li r13, 2*W*CW*4
    mul.w r11, \oy, r13
    li r13, 2*CW*4
    mul.w r12, \ox, r13
    add.w r11, r11, r12
    li r13, XADDR
    add.w r11, r11, r13
    li r13, 2*CW
    mul.w r12, \n, r13
    dma \buf, r11, r12
    li r13, W*CW*4              # the lower row
    add.w r11, r11, r13
    li r13, PIECE
    add.w r13, \buf, r13
    dma r13, r11, r12
.endm

    .text
    lw r1, ARGS+0(r0)
    lw r5, ARGS+8(r0)
    lw r2, ARGS+12(r0)
    beq r1, r0, done
    li r6, UP0
    SEGMENT_LEN r3, r2, r1
    FETCH_ROWS r6, r5, r2, r3
segment:
    dwait                       # this segment's input is in; OUT is free
    SEGMENT_LEN r3, r2, r1
    sub.w r1, r1, r3
    beq r1, r0, compute
    NEXT_PLACE UP0, UP1         # prefetch the next segment into the other buffer
    FETCH_ROWS r7, r8, r9, r10
compute:
    mv r11, r6
    li r12, PIECE
    add.w r12, r12, r6
    li r14, OUTB
    li r13, CW
    loop r3, pixels
    loop r13, 1f
    lw r8, CW*4(r11)            # the window: columns 2ox (r7, r9) and 2ox+1 (r8, r10)
    lw r7, (r11)+4
    lw r10, CW*4(r12)
    lw r9, (r12)+4
    MAXG r7, r7, r8
    MAXG r9, r9, r10
    MAXG r7, r7, r9
    sw r7, (r14)+4
1:  addi r11, r11, CW*4         # past the right-hand column of the window
    addi r12, r12, CW*4
pixels:
    SEND_RESULTS CW, OUTB       # the segment's results, OUT -> y
    NEXT_SEGMENT UP0, UP1
done:
    dwait                       # the last results are out
    halt
