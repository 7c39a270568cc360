# pool.s: max and average pooling of a place into a place, SPMD over the array.
#
# For output pixel (n, oy, ox) and channel c, over the window rows
# y = oy*SY - pt .. + kh and columns x = ox*SX - pl .. + kw clipped to the image
# (padding is never read: max ignores it, average counts what the descriptor's
# multipliers say):
#   max:      y = max x[n, y, x, c]                             (keeps the width)
#   average:  y = sat(rshr(sum x[n, y, x, c] * m[count], s))    (count: valid positions)
# Global average pooling is average pooling over the whole image.  The layer comes
# as a descriptor in GM (r1; built by kernels/pool.py).  Assembled per input width
# (IN4/8/16/32), output width (OUT4/8/16/32) and variant AVG (1: average, 0: max).
#
# Work: units are (channel chunk, image, pixel); each PE walks a balanced contiguous
# range.  Per unit its DMA engine fetches the clipped window (one dma2d per window
# row: the row's pixels' chunk bytes) into LM while the PE reduces the unit before
# (two buffers), and sends the results.
#
#   GM x place --(dma2d a row)--> LM WIN0/WIN1 (vr x vc x CW words) --> OUT0/OUT1 --> y
#
# Registers: r1 units left, r15 the window buffer in use, r2-r14 scratch; while
# reducing: r9 a position's word, r10 the word's first, r11 the step between
# positions, r12 positions, r14 results; average: r2-r5 sums, r6 unit vectors, r7
# the multiplier, r8 the shift.
# Cycles per output word: max 3 per window position + 2; average (8-bit) 5 per
# position + 12; per unit about 60 more.

.include "width.inc"

.equ HW, 40                     # header words (HDR+4*HW-1 is the last)
.equ RW, 8                      # PE record words
.equ HDR, LM_BASE
.equ REC, HDR + 4*HW
.equ VARS, REC + 4*RW
.equ NV, 24
.equ LMFREE, VARS + 4*NV
.assert LMFREE <= LM_BASE + LM_SIZE, "pool.s: the fixed LM map does not fit LM"

.equ H_NPIX, HDR + 0            # pixels a chunk: images x ho x wo
.equ H_WO, HDR + 4
.equ H_HO, HDR + 8
.equ H_KH, HDR + 12
.equ H_KW, HDR + 16
.equ H_SY, HDR + 20
.equ H_SX, HDR + 24
.equ H_PT, HDR + 28
.equ H_PL, HDR + 32
.equ H_H, HDR + 36              # input height and width
.equ H_W, HDR + 40
.equ H_INB, HDR + 44            # GM: input pixel (0, 0, 0), first channel
.equ H_XPS, HDR + 48            # input pixel, row, image strides
.equ H_XRS, HDR + 52
.equ H_XIS, HDR + 56
.equ H_OUTB, HDR + 60           # GM: output pixel (0, 0, 0)
.equ H_DXO, HDR + 64            # output walker steps
.equ H_DYO, HDR + 68
.equ H_DNO, HDR + 72
.equ H_NCH, HDR + 76            # chunks of channels
.equ H_CCB, HDR + 80            # input bytes of a chunk (the last: CCBL)
.equ H_CCBL, HDR + 84
.equ H_CW, HDR + 88             # LM words of a chunk's pixel (the last: CWL)
.equ H_CWL, HDR + 92
.equ H_OCB, HDR + 96            # output bytes of a chunk (the last: OCBL)
.equ H_OCBL, HDR + 100
.equ H_MFIX, HDR + 104          # average: the multiplier, or 0: by count from MTAB
.equ H_MTAB, HDR + 108          # LM: multipliers by count (from the descriptor)
.equ H_SHIFT, HDR + 112         # average: the shift, splatted
.equ H_WIN0, HDR + 116          # LM: window buffers, result buffers
.equ H_WIN1, HDR + 120
.equ H_OUT0, HDR + 124
.equ H_OUT1, HDR + 128
.equ H_MTABOFF, HDR + 132       # the table's offset in the descriptor, its words
.equ H_MTABN, HDR + 136
.equ H_ONES, HDR + 140          # average: the unit vectors of the lanes (LM)
.equ H_NIMG, HDR + 144          # images

.equ R_COUNT, REC + 0
.equ R_CH, REC + 4              # first unit: chunk, image, row, column
.equ R_N, REC + 8
.equ R_OY, REC + 12
.equ R_OX, REC + 16
.equ R_OUT, REC + 20            # its output address (chunk offset included)

.equ V_CH, VARS + 0             # the unit to fetch next: chunk, image, row, column
.equ V_N, VARS + 4
.equ V_OY, VARS + 8
.equ V_OX, VARS + 12
.equ V_CCB, VARS + 16           # ... its chunk's bytes and words
.equ V_CW, VARS + 20
.equ V_CUR, VARS + 24           # the window buffer of the unit computed, its positions,
.equ V_NEL, VARS + 28           # its count's multiplier, its words, its result address,
.equ V_MUL, VARS + 32           # output bytes
.equ V_CWC, VARS + 36
.equ V_OUTC, VARS + 40
.equ V_OCBC, VARS + 44
.equ V_NXT, VARS + 48           # the fetched unit: positions, multiplier, words, address,
.equ V_NELN, VARS + 52          # output bytes
.equ V_MULN, VARS + 56
.equ V_CWN, VARS + 60
.equ V_OUTN, VARS + 64
.equ V_OCBN, VARS + 68
.equ V_OUT, VARS + 72           # the output walker (the unit to fetch next)
.equ V_PREV, VARS + 76          # results waiting to be sent: address (0: none), bytes
.equ V_PREVB, VARS + 80
.equ V_FBUF, VARS + 84          # where FETCH puts the window

# Clip a window axis: from o*s - p, k positions, inside 0..n-1.  Out: first (lo),
# count (cnt).  Uses r8.
.macro CLIP_AXIS lo, cnt, o, s, p, k, n
    lw r8, \s(r0)
    mul.w \lo, \o, r8
    lw r8, \p(r0)
    sub.w \lo, \lo, r8
    lw \cnt, \k(r0)
    bge \lo, r0, 1f
    add.w \cnt, \cnt, \lo
    li \lo, 0
1:  add.w r8, \lo, \cnt
    lw r9, \n(r0)
    bge r9, r8, 2f
    sub.w \cnt, r9, \lo
2:
.endm

# Fetch the window of unit (V_CH, V_N, V_OY, V_OX) into LM at V_FBUF; set the V_*N
# variables that describe it, step the output walker and the unit.  Uses r5-r14.
.macro FETCH
    lw r5, V_OY(r0)
    lw r6, V_OX(r0)
    CLIP_AXIS r10, r11, r5, H_SY, H_PT, H_KH, H_H    # r10 first row, r11 rows
    CLIP_AXIS r12, r13, r6, H_SX, H_PL, H_KW, H_W    # r12 first column, r13 columns
    lw r8, H_XRS(r0)            # source: image, first row, first column, chunk
    mul.w r14, r10, r8
    lw r8, H_XPS(r0)
    mul.w r9, r12, r8
    add.w r14, r14, r9
    lw r8, V_N(r0)
    lw r9, H_XIS(r0)
    mul.w r8, r8, r9
    add.w r14, r14, r8
    lw r8, V_CH(r0)
    lw r9, H_CCB(r0)
    mul.w r8, r8, r9
    add.w r14, r14, r8
    lw r8, H_INB(r0)
    add.w r14, r14, r8
    mul.w r5, r11, r13          # positions
    sw r5, V_NELN(r0)
    lw r8, H_MFIX(r0)           # the multiplier of that many
    bne r8, r0, 3f
    slli.w r8, r5, 2
    lw r9, H_MTAB(r0)
    add.w r8, r8, r9
    lw r8, 0(r8)
3:  sw r8, V_MULN(r0)
    lw r6, V_CW(r0)
    sw r6, V_CWN(r0)
    slli.w r6, r6, 2
    mts dds, r6                 # dense window rows: CW words a pixel
    mul.w r6, r6, r13           # LM bytes of a window row
    slli.w r13, r13, 16         # dma2d shape: columns x chunk bytes
    lw r8, V_CCB(r0)
    or r13, r13, r8
    lw r7, V_FBUF(r0)
    lw r9, H_XRS(r0)
4:  dma2d r7, r14, r13          # a window row
    add.w r14, r14, r9
    add.w r7, r7, r6
    addi r11, r11, -1
    bne r11, r0, 4b
    lw r8, V_OUT(r0)            # where its results go
    sw r8, V_OUTN(r0)
    lw r8, H_CCB(r0)
    lw r9, V_CCB(r0)
    lw r10, H_OCB(r0)
    beq r8, r9, 5f
    lw r10, H_OCBL(r0)
5:  sw r10, V_OCBN(r0)
    NEXT_UNIT
.endm

# Step the unit (V_CH, V_N, V_OY, V_OX) and the output walker V_OUT.  Uses r8-r11.
.macro NEXT_UNIT
    lw r8, V_OUT(r0)
    lw r9, H_DXO(r0)
    add.w r8, r8, r9
    lw r10, V_OX(r0)
    addi r10, r10, 1
    lw r11, H_WO(r0)
    bne r10, r11, 6f
    li r10, 0
    lw r9, H_DYO(r0)
    add.w r8, r8, r9
    lw r11, V_OY(r0)
    addi r11, r11, 1
    sw r11, V_OY(r0)
    lw r9, H_HO(r0)
    bne r11, r9, 6f
    sw r0, V_OY(r0)
    lw r9, H_DNO(r0)
    add.w r8, r8, r9
    lw r11, V_N(r0)
    addi r11, r11, 1
    sw r11, V_N(r0)
    lw r9, H_NIMG(r0)           # past the last image: the next chunk
    bne r11, r9, 6f
    sw r0, V_N(r0)
    lw r12, V_CH(r0)
    addi r12, r12, 1
    sw r12, V_CH(r0)
    lw r8, H_OCB(r0)            # the output walker: the chunk's first pixel
    mul.w r8, r8, r12
    lw r9, H_OUTB(r0)
    add.w r8, r8, r9
    lw r9, H_NCH(r0)            # its size (the last chunk's may differ)
    addi r9, r9, -1
    lw r11, H_CCB(r0)
    lw r14, H_CW(r0)
    bne r12, r9, 7f
    lw r11, H_CCBL(r0)
    lw r14, H_CWL(r0)
7:  sw r11, V_CCB(r0)
    sw r14, V_CW(r0)
6:  sw r10, V_OX(r0)
    sw r8, V_OUT(r0)
.endm

    .text
    li r12, HDR                 # the header and this PE's record, GM -> LM
    li r11, HW
    dma r12, r1, r11
    mfs r3, id
    li r11, RW*4
    mul.w r3, r3, r11
    add.w r3, r3, r1
    addi r3, r3, HW*4
    li r12, REC
    li r11, RW
    dma r12, r3, r11
    dwait
    lw r11, H_MTABN(r0)         # the multipliers by count
    beq r11, r0, 1f
    lw r3, H_MTABOFF(r0)
    add.w r3, r3, r1
    lw r12, H_MTAB(r0)
    dma r12, r3, r11
1:
.if AVG                         # unit vectors: a 1 in each lane
    AVG_ONES
.endif
    lw r8, R_CH(r0)             # the first unit
    sw r8, V_CH(r0)
    lw r8, R_N(r0)
    sw r8, V_N(r0)
    lw r8, R_OY(r0)
    sw r8, V_OY(r0)
    lw r8, R_OX(r0)
    sw r8, V_OX(r0)
    lw r8, R_OUT(r0)
    sw r8, V_OUT(r0)
    lw r9, H_NCH(r0)            # its chunk's size
    addi r9, r9, -1
    lw r11, R_CH(r0)
    lw r10, H_CCB(r0)
    lw r12, H_CW(r0)
    bne r11, r9, 1f
    lw r10, H_CCBL(r0)
    lw r12, H_CWL(r0)
1:  sw r10, V_CCB(r0)
    sw r12, V_CW(r0)
    sw r0, V_PREV(r0)
    lw r8, H_XPS(r0)            # window rows: pixels H_XPS apart in GM, dense in LM
    mts dss, r8
    dwait
    lw r1, R_COUNT(r0)
    beq r1, r0, done
    lw r15, H_WIN0(r0)
    sw r15, V_FBUF(r0)
    FETCH
    lw r8, H_OUT0(r0)
    sw r8, V_CUR(r0)

unit:
    dwait                       # this unit's window is in; the results before are out
    lw r8, V_NELN(r0)           # take over the fetched unit's description
    sw r8, V_NEL(r0)
    lw r8, V_MULN(r0)
    sw r8, V_MUL(r0)
    lw r8, V_CWN(r0)
    sw r8, V_CWC(r0)
    lw r8, V_OUTN(r0)
    sw r8, V_OUTC(r0)
    lw r8, V_OCBN(r0)
    sw r8, V_OCBC(r0)
    lw r10, V_PREV(r0)          # send the unit before's results
    beq r10, r0, 1f
    lw r8, H_OUT0(r0)
    lw r9, H_OUT1(r0)
    xor r8, r8, r9
    lw r9, V_CUR(r0)
    xor r9, r9, r8
    lw r11, V_PREVB(r0)
    dma2d r10, r9, r11
1:  addi r1, r1, -1
    beq r1, r0, reduce
    lw r8, H_WIN0(r0)           # the next unit's window into the other buffer
    lw r9, H_WIN1(r0)
    xor r8, r8, r9
    xor r8, r15, r8
    sw r8, V_FBUF(r0)
    FETCH
reduce:
    lw r14, V_CUR(r0)
    lw r13, V_CWC(r0)
    lw r12, V_NEL(r0)
    slli.w r11, r13, 2          # bytes from one position's word to the next
    POOL_ITERS r13
    mv r10, r15
.if AVG
    lw r7, V_MUL(r0)
    lw r8, H_SHIFT(r0)
.endif
    loop r13, words
    mv r9, r10
.if !AVG
    lw r7, 0(r9)
    addi r5, r12, -1
    loop r5, 3f
    add.w r9, r9, r11
    lw r8, 0(r9)
    MAXG r7, r7, r8
3:  sw r7, (r14)+4
.endif
.if AVG
    AVG_WORD
.endif
    addi r10, r10, 4
words:
    lw r8, V_OUTC(r0)           # send these results at the next unit (or below)
    sw r8, V_PREV(r0)
    lw r8, V_OCBC(r0)
    li r9, 0x10000
    or r8, r8, r9
    sw r8, V_PREVB(r0)
    lw r8, H_WIN0(r0)           # swap the buffers
    lw r9, H_WIN1(r0)
    xor r8, r8, r9
    xor r15, r15, r8
    lw r8, H_OUT0(r0)
    lw r9, H_OUT1(r0)
    xor r8, r8, r9
    lw r9, V_CUR(r0)
    xor r9, r9, r8
    sw r9, V_CUR(r0)
    bne r1, r0, unit
    lw r10, V_PREV(r0)          # the last results
    lw r8, H_OUT0(r0)
    lw r9, H_OUT1(r0)
    xor r8, r8, r9
    lw r9, V_CUR(r0)
    xor r9, r9, r8
    lw r11, V_PREVB(r0)
    dma2d r10, r9, r11
done:
    dwait
    halt
