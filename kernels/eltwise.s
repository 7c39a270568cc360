# eltwise.s: element-wise add of two places, or a convert of one, SPMD over the array.
#
# Computes, for every pixel and channel,
#   add:      y = clamp(rshr((a << sa) + (b << sb), s))
#   convert:  y = clamp(rshr(a << sa, s))                    (ONE = 1)
# in 32-bit arithmetic (wrapping), rounding half up (STOCH: stochastic), saturated to
# the output width, then ReLU / clip (RELU, CLIP).  a and b have the same width
# (IN4/8/16/32), y may have another (OUT4/8/16/32).  With every shift 0 and one width,
# an add is one saturating lane add a word (the descriptor picks that loop).  The
# layer comes as a descriptor in GM (r1; built by kernels/eltwise.py).
#
# Work: units are pixels (image, row, column), all channels; each PE walks a
# balanced contiguous range in segments: runs of pixels of one row, as many as LM
# holds.  Per segment its DMA engine brings the a and b runs (one dma2d each: the
# pixels' channel bytes, packed to whole words a pixel) while the PE computes the
# segment before, and sends the results (one dma2d).
#
#   GM a, b places --(dma2d)--> LM A/B (two buffers) --> Y (two buffers) --(dma2d)--> y
#
# The requantising shift is an immediate of srari/srasi, so the word loop exists in
# 33 copies (shift 0..31, and the saturating add): a launch jumps to its copy.
#
# Registers: r1 the walker's a address, r2 columns left in the row, r3 pixels of the
# range left to fetch, r15 the buffer set in use (0 or H_SET: the second set's offset).
# In the word loop (walker and set saved in LM): r4 clip maximum, r5 r6 the shifts sa
# sb, r7 r8 words of a and b, r11 r12 pointers into them, r14 results, r1-r3 r9 r10
# r13 values.

.include "width.inc"

.equ HW, 32
.equ RW, 8
.equ HDR, LM_BASE
.equ REC, HDR + 4*HW
.equ VARS, REC + 4*RW
.equ NV, 24
.equ LMFREE, VARS + 4*NV
.assert LMFREE <= LM_BASE + LM_SIZE, "eltwise.s: the fixed LM map does not fit LM"

.equ H_WO, HDR + 0
.equ H_HO, HDR + 4
.equ H_DXA, HDR + 8             # a walker steps (the b and y addresses follow a's)
.equ H_DYA, HDR + 12
.equ H_DNA, HDR + 16
.equ H_DXB, HDR + 20
.equ H_DYB, HDR + 24
.equ H_DNB, HDR + 28
.equ H_DXY, HDR + 32
.equ H_DYY, HDR + 36
.equ H_DNY, HDR + 40
.equ H_CBA, HDR + 44            # input bytes a pixel (a and b)
.equ H_CW, HDR + 48             # LM words a pixel of a and b
.equ H_CBY, HDR + 52            # output bytes a pixel
.equ H_YW, HDR + 56             # LM bytes of a pixel's results
.equ H_SEG, HDR + 60            # pixels a segment at most
.equ H_SA, HDR + 64             # alignment shifts
.equ H_SB, HDR + 68
.equ H_LOOP, HDR + 72           # which word loop (the shift, or 32: saturating add)
.equ H_CLIP, HDR + 76           # clip maximum, splatted
.equ H_A0, HDR + 80             # LM buffers: a, b, results (pairs)
.equ H_A1, HDR + 84
.equ H_B0, HDR + 88
.equ H_B1, HDR + 92
.equ H_Y0, HDR + 96
.equ H_Y1, HDR + 100
.equ H_SET, HDR + 104           # A1 - A0 = B1 - B0 = Y1 - Y0

.equ R_COUNT, REC + 0           # pixels
.equ R_XL, REC + 4              # the first: columns and rows left, addresses
.equ R_YL, REC + 8
.equ R_A, REC + 12
.equ R_B, REC + 16
.equ R_Y, REC + 20

.equ V_YL, VARS + 0             # the walker: rows left, b and y addresses
.equ V_B, VARS + 4
.equ V_Y, VARS + 8
.equ V_LOOP, VARS + 12          # the word loop's address
.equ V_N, VARS + 16             # pixels of the segment fetched / computed
.equ V_NC, VARS + 20
.equ V_YC, VARS + 24            # where the computed segment's results go
.equ V_PREVN, VARS + 28         # results to send: pixels (0: none), address
.equ V_PREVY, VARS + 32
.equ V_SEL, VARS + 36           # the set being fetched into: 0 or H_SET
.equ V_YN, VARS + 40            # where the fetched segment's results go
.equ V_R1, VARS + 44            # r1 r2 r3 r15 while the word loop runs
.equ V_R2, VARS + 48
.equ V_R3, VARS + 52
.equ V_R15, VARS + 56

# Fetch the walker's next segment (up to H_SEG pixels of its row, at most r3) into
# the buffers of set V_SEL, step the walker.  Uses r5-r14.
.macro FETCH
    lw r5, H_SEG(r0)
    MIN r5, r2
    MIN r5, r3
    sw r5, V_N(r0)
    lw r6, H_CBA(r0)            # a and b: n rows of the pixel's bytes, words apart in LM
    li r7, 0x10000
    mul.w r7, r7, r5
    or r6, r6, r7
    lw r7, H_CW(r0)
    slli.w r7, r7, 2
    mts dds, r7
    lw r7, H_DXA(r0)
    mts dss, r7
    lw r8, V_SEL(r0)
    lw r9, H_A0(r0)
    add.w r9, r9, r8
    dma2d r9, r1, r6
.if !ONE
    lw r7, H_DXB(r0)
    mts dss, r7
    lw r9, H_B0(r0)
    add.w r9, r9, r8
    lw r10, V_B(r0)
    dma2d r9, r10, r6
.endif
    lw r8, V_Y(r0)              # where these results will go
    sw r8, V_YN(r0)
    sub.w r3, r3, r5            # the walker: n pixels on
    sub.w r2, r2, r5
    lw r6, H_DXA(r0)
    mul.w r6, r6, r5
    add.w r1, r1, r6
    lw r6, H_DXB(r0)
    mul.w r6, r6, r5
    lw r10, V_B(r0)
    add.w r10, r10, r6
    lw r6, H_DXY(r0)
    mul.w r6, r6, r5
    add.w r8, r8, r6
    bne r2, r0, 1f              # the row's end: the next row, or image
    lw r2, H_WO(r0)
    lw r6, H_DYA(r0)
    add.w r1, r1, r6
    lw r6, H_DYB(r0)
    add.w r10, r10, r6
    lw r6, H_DYY(r0)
    add.w r8, r8, r6
    lw r11, V_YL(r0)
    addi r11, r11, -1
    sw r11, V_YL(r0)
    bne r11, r0, 1f
    lw r11, H_HO(r0)
    sw r11, V_YL(r0)
    lw r6, H_DNA(r0)
    add.w r1, r1, r6
    lw r6, H_DNB(r0)
    add.w r10, r10, r6
    lw r6, H_DNY(r0)
    add.w r8, r8, r6
1:  sw r10, V_B(r0)
    sw r8, V_Y(r0)
.endm

# Send the results of n pixels from LM buf to GM at y.  Uses r8 r9.
.macro SEND n, buf, y
    lw r8, H_YW(r0)
    mts dss, r8
    lw r8, H_DXY(r0)
    mts dds, r8
    lw r8, H_CBY(r0)
    li r9, 0x10000
    mul.w r9, r9, \n
    or r8, r8, r9
    dma2d \y, \buf, r8
.endm

# The word loop with shift s: r13 words from a (r11) and b (r12), results at (r14)+.
.macro WORDS s
    loop r13, 2f
    lw r7, (r11)+4
.if !ONE
    lw r8, (r12)+4
.endif
    ELT_WORD \s
2:  j back
.endm

    .text
.if STOCH
    mfs r3, id
    SEED_LFSR r2, r3
.endif
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
    li r8, words_0              # this layer's word loop
    li r9, words_1 - words_0
    lw r10, H_LOOP(r0)
    mul.w r10, r10, r9
    add.w r10, r10, r8
    sw r10, V_LOOP(r0)
    lw r3, R_COUNT(r0)
    beq r3, r0, done
    lw r2, R_XL(r0)
    lw r8, R_YL(r0)
    sw r8, V_YL(r0)
    lw r1, R_A(r0)
    lw r8, R_B(r0)
    sw r8, V_B(r0)
    lw r8, R_Y(r0)
    sw r8, V_Y(r0)
    sw r0, V_SEL(r0)
    sw r0, V_PREVN(r0)
    FETCH

segment:
    dwait                       # this segment's inputs are in, the results before out
    lw r8, V_N(r0)              # take over the fetched segment
    sw r8, V_NC(r0)
    lw r8, V_YN(r0)
    sw r8, V_YC(r0)
    lw r15, V_SEL(r0)           # its buffer set
    lw r10, V_PREVN(r0)         # send the segment before's results (the other set)
    beq r10, r0, 1f
    lw r11, H_SET(r0)
    sub.w r11, r11, r15
    lw r8, H_Y0(r0)
    add.w r11, r11, r8
    lw r12, V_PREVY(r0)
    SEND r10, r11, r12
1:  beq r3, r0, compute         # the next segment into the other set
    lw r8, H_SET(r0)
    sub.w r8, r8, r15
    sw r8, V_SEL(r0)
    FETCH
compute:
    sw r1, V_R1(r0)
    sw r2, V_R2(r0)
    sw r3, V_R3(r0)
    sw r15, V_R15(r0)
    lw r11, H_A0(r0)
    add.w r11, r11, r15
    lw r12, H_B0(r0)
    add.w r12, r12, r15
    lw r14, H_Y0(r0)
    add.w r14, r14, r15
    lw r13, H_CW(r0)
    lw r8, V_NC(r0)
    mul.w r13, r13, r8
    ELT_ITERS r13
    lw r4, H_CLIP(r0)
    lw r5, H_SA(r0)
    lw r6, H_SB(r0)
    lw r8, V_LOOP(r0)
    jr r8
back:
    lw r1, V_R1(r0)
    lw r2, V_R2(r0)
    lw r3, V_R3(r0)
    lw r15, V_R15(r0)
    lw r8, V_NC(r0)             # send these results with the next segment
    sw r8, V_PREVN(r0)
    lw r8, V_YC(r0)
    sw r8, V_PREVY(r0)
    lw r8, V_SEL(r0)            # was a next segment fetched?
    bne r8, r15, segment
    lw r10, V_PREVN(r0)         # no: the range is done; send the last results
    lw r11, H_Y0(r0)
    add.w r11, r11, r15
    lw r12, V_PREVY(r0)
    SEND r10, r11, r12
done:
    dwait
    halt

# ------------------------------------------------------------------ word loops
words_0:
    WORDS 0
words_1:
    WORDS 1
    WORDS 2
    WORDS 3
    WORDS 4
    WORDS 5
    WORDS 6
    WORDS 7
    WORDS 8
    WORDS 9
    WORDS 10
    WORDS 11
    WORDS 12
    WORDS 13
    WORDS 14
    WORDS 15
    WORDS 16
    WORDS 17
    WORDS 18
    WORDS 19
    WORDS 20
    WORDS 21
    WORDS 22
    WORDS 23
    WORDS 24
    WORDS 25
    WORDS 26
    WORDS 27
    WORDS 28
    WORDS 29
    WORDS 30
    WORDS 31
words_sat:
    loop r13, 2f
    lw r7, (r11)+4
    lw r8, (r12)+4
    ADDS_WORD
2:  j back
