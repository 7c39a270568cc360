# conv.s: 2-D convolution of a place into a place, any shape, SPMD over the array.
#
# Computes, for output pixel (n, oy, ox) and channel k of group g,
#   acc = bias[k] + sum_{dy, dx, c} x[n, oy*SY + dy - pt, ox*SX + dx - pl, c] * w[k, c, dy, dx]
#   y   = clamp(rshr(acc, shift))  (or the raw int32 acc)
# reading x from its place (channels last, packed, zero border: docs/network.md) and
# writing y into its place.  Fully connected layers are 1x1 convs; groups are channel
# ranges of the field and of the output.  The layer reaches the kernel as a
# descriptor in GM (r1; built by kernels/conv.py): nothing per layer is in this text.
# Assembled per input width (IN4/8/16/32), output width (OUT4/8/16/32) and variant (STOCH,
# RELU, CLIP): see width.inc.
#
# Work: units are (tile, image, pixel) in that order; a tile is up to T output channels
# of one group, whose weights a PE holds in LM.  Each PE walks a balanced contiguous
# range of units (its record in the descriptor says where it starts) in segments: the
# units of its range in one tile.  A reduction too long for LM is split into passes
# (kernel rows, or input channel ranges of one row); a segment runs every pass over
# its pixels, int32 partial sums going to a scratch buffer in GM between passes.
#
#   GM                                LM of one PE
#   tile blob: bias | pass weights --(DMA, per tile and pass)----> WB0 / WB1
#   (x place --(DMA, a share per PE, once; sync)--> SM: then fields come from SM)
#   x place: the pixel's field -----(dma2d, kh rows or kw runs)--> F0 / F1: field
#   scratch: partial sums ----------(DMA, passes > 0)-----------> F0 / F1: sums
#   y place or scratch <--(dma2d: the pixel's channels)---------- F0 / F1: results
#
# The field of a pixel is a dense im2col row in (dy, dx, c) order, packed; the weights
# of a block of 4 channels are the same rows interleaved word by word, so that for
# each field word four `macl rd, (field), (w)+` (the last stepping the field) feed
# four accumulators (decision `macl_hold`).  Per pixel, every block of the tile runs
# that loop and an epilogue.  While a pixel computes, the DMA engine brings the next
# pixel's field (double buffered) and sends the previous pixel's results; during a
# segment's last pixel it brings the next segment's weights into the other weight
# buffer (when LM holds two).
#
# The requantising shift is an immediate of packsr/srari/srasi, so the block loop
# exists in 33 copies (shift 0..31, and one storing raw sums): a launch jumps to the
# copy its descriptor names.
#
# Registers: r1 the walker's input address (the next pixel's field), r2 its columns
# left in the row, r3 pixels of the pass left to fetch, r4 the clip maximum
# (splatted), r5 blocks, r13 field words, r15 the field in use; in the block loop r6
# bias or partial sums, r7-r10 accumulators of 4 channels, r11 field pointer, r12
# weight pointer, r14 result pointer.  Elsewhere r5-r12 and r14 are scratch.
#
# Cycles per block of 4 channels: 4*R (R field words) + 6 + the epilogue (8-bit out:
# 3 + clamps + 1 store); per pixel about 45 more (walker, DMA issue, loop setup).
#
# Local labels: each macro uses its own numbers (STEP 1, FETCH 2-4, SEND 5, WPRE 6;
# 7 and 8 in the pixel loop),
# so that a branch never lands in another macro's expansion.

.include "width.inc"

# ------------------------------------------------------------------ LM map (bytes)
.equ HW, 40                     # header words (the descriptor's first)
.equ PW, 12                     # words of a pass record
.equ RW, 16                     # words of a PE record
.equ HDR, LM_BASE
.equ REC, HDR + 4*HW            # this PE's record
.equ CP, REC + 4*RW             # the current pass's record
.equ NP, CP + 4*PW              # the next segment's pass record (weight prefetch)
.equ VARS, NP + 4*PW
.equ NV, 48
.equ LMFREE, VARS + 4*NV        # the planner's buffers start here
.assert LMFREE <= LM_BASE + LM_SIZE, "conv.s: the fixed LM map does not fit LM"

# header (layer-wide), byte addresses in LM
.equ H_NPIX, HDR + 0            # pixels of a tile: images x ho x wo
.equ H_WO, HDR + 4
.equ H_HO, HDR + 8
.equ H_INB, HDR + 12            # GM: the field origin of pixel (0, 0, 0)
.equ H_DXI, HDR + 16            # input steps: next column, next row, next image
.equ H_DYI, HDR + 20
.equ H_DNI, HDR + 24
.equ H_OUTB, HDR + 28           # GM: output pixel (0, 0, 0)
.equ H_DXO, HDR + 32            # output steps
.equ H_DYO, HDR + 36
.equ H_DNO, HDR + 40
.equ H_TPG, HDR + 44            # tiles per group
.equ H_GIN, HDR + 48            # input byte offset from one group to the next
.equ H_GOUTW, HDR + 52          # output byte offset added when a group ends
.equ H_TOUT, HDR + 56           # output bytes of a full tile
.equ H_NBT, HDR + 60            # blocks of 4 channels of a full tile
.equ H_NBL, HDR + 64            # ... of the last tile of a group
.equ H_OBT, HDR + 68            # dma2d shape of a full tile's output pixel
.equ H_OBL, HDR + 72            # ... of the last tile's
.equ H_BLOBB, HDR + 76          # bytes of a tile's blob
.equ H_NPASS, HDR + 80
.equ H_EPI, HDR + 84            # block-loop copy of the last pass (the shift; 32: raw)
.equ H_CLIP, HDR + 88           # clip maximum, splatted
.equ H_WB0, HDR + 92            # LM: weight buffers (bias first); equal: one buffer
.equ H_WB1, HDR + 96
.equ H_F0, HDR + 100            # LM: pixel buffers (field, partial sums, results)
.equ H_FX, HDR + 104            # F0 ^ F1
.equ H_PSOFF, HDR + 108         # partial sums' offset in a pixel buffer
.equ H_ROFF, HDR + 112          # results' offset in a pixel buffer
.equ H_T4B, HDR + 116           # bytes of a full tile's int32 sums
.equ H_PASSOFF, HDR + 120       # where the pass records start, from the descriptor
.equ H_DBW, HDR + 124           # 1: two weight buffers, the next segment's prefetched
.equ H_STAGE, HDR + 128         # 1: the input place is first copied to SM, fields come
                                # from there (H_INB and the records' addresses are SM's)

# pass record fields (offsets)
.equ P_R, 0                     # field words
.equ P_WOFF, 4                  # byte offset of the pass's weights in a tile blob
.equ P_WPB, 8                   # weight bytes per block
.equ P_WFIX, 12                 # bytes fetched before the blocks (pass 0: the bias)
.equ P_WDOFF, 16                # where in the weight buffer they go
.equ P_SRCOFF, 20               # byte offset of the field's first run from the origin
.equ P_NF, 24                   # dma2d pieces of a field, less one
.equ P_SHAPE, 28                # their shape: rows << 16 | bytes
.equ P_SSTEP, 32                # source and destination steps between pieces
.equ P_DSTEP, 36
.equ P_DSS, 40                  # dma2d row strides
.equ P_DDS, 44

# PE record fields
.equ R_COUNT, REC + 0           # units
.equ R_SUB, REC + 4             # first tile: index in its group, blob, group offsets
.equ R_BLOB, REC + 8
.equ R_GIN, REC + 12
.equ R_GOUT, REC + 16
.equ R_P0, REC + 20             # first pixel: index in the tile, columns and rows left,
.equ R_XL, REC + 24             # input and output addresses
.equ R_YL, REC + 28
.equ R_IN, REC + 32
.equ R_OUT, REC + 36
.equ R_SCR, REC + 40            # GM: this PE's scratch
.equ R_SSRC, REC + 44           # its share of staging the input place in SM: from,
.equ R_SDST, REC + 48           # to, words (H_STAGE: every PE takes part)
.equ R_SWORDS, REC + 52

# variables
.equ V_LEFT, VARS + 0           # units left
.equ V_NSEG, VARS + 4           # pixels of the segment
.equ V_P, VARS + 8              # pixel index (in the tile) of the segment's first
.equ V_PASS, VARS + 12
.equ V_SUB, VARS + 16           # the tile: index in group, blob, group offsets
.equ V_BLOB, VARS + 20
.equ V_GIN, VARS + 24
.equ V_GOUT, VARS + 28
.equ V_NB, VARS + 32            # blocks of the tile and bytes of its sums
.equ V_NBB, VARS + 36
.equ V_OBS, VARS + 40           # output dma2d shape of the tile
.equ V_XL0, VARS + 44           # the segment's first pixel
.equ V_YL0, VARS + 48
.equ V_IN0, VARS + 52
.equ V_OUT0, VARS + 56
.equ V_SCR0, VARS + 60
.equ V_DESC, VARS + 64          # GM: the descriptor
.equ V_EPILAST, VARS + 68       # block-loop copies: the last pass's, the raw one
.equ V_EPIRAW, VARS + 72
.equ V_EPIJ, VARS + 76          # ... this pass's
.equ V_INITM, VARS + 80         # not 0: a pass after the first (partial sums to fetch)
.equ V_WBASE, VARS + 88         # the first block's weights
.equ V_OSHAPE, VARS + 92        # results: dma2d shape and walker steps (place or scratch)
.equ V_ODX, VARS + 96
.equ V_ODY, VARS + 100
.equ V_ODN, VARS + 104
.equ V_OUT, VARS + 108          # the walker's result address and rows left
.equ V_YL, VARS + 112
.equ V_PREV, VARS + 116         # where the previous pixel's results go (0: none)
.equ V_FSCR, VARS + 120         # partial sums of the next pixel to fetch
.equ V_WBCUR, VARS + 124        # the weight buffer in use
.equ V_WREADY, VARS + 128       # this segment's weights were prefetched
.equ V_WSRC, VARS + 132         # the prefetch: source, destination, bytes left
.equ V_WDST, VARS + 136
.equ V_WLEFT, VARS + 140
.equ V_WHAVE, VARS + 144
.equ V_NIN, VARS + 148          # the next segment: its first field, partial sums?,
.equ V_NPS, VARS + 152          # scratch pointer; the field is in already
.equ V_NSCR, VARS + 156
.equ V_FREADY, VARS + 160

# ------------------------------------------------------------------ macros
# Step the walker one output pixel on: input address r1 (columns left r2, rows left
# V_YL) and result address r10 (V_OUT), to the next column, row or image.  Uses r8
# r11.
.macro STEP
    addi r2, r2, -1
    lw r8, H_DXI(r0)
    add.w r1, r1, r8
    lw r8, V_ODX(r0)
    add.w r10, r10, r8
    bne r2, r0, 1f
    lw r2, H_WO(r0)
    lw r8, H_DYI(r0)
    add.w r1, r1, r8
    lw r8, V_ODY(r0)
    add.w r10, r10, r8
    lw r11, V_YL(r0)
    addi r11, r11, -1
    sw r11, V_YL(r0)
    bne r11, r0, 1f
    lw r11, H_HO(r0)
    sw r11, V_YL(r0)
    lw r8, H_DNI(r0)
    add.w r1, r1, r8
    lw r8, V_ODN(r0)
    add.w r10, r10, r8
1:  sw r10, V_OUT(r0)
.endm

# Fetch the partial sums at the scratch pointer `scr` (if the variable `ps` is not 0),
# then the field at r1, as the pass record at `rec` says, into the pixel buffer at
# `buf`: the big transfer last, so that the GM port is not held for a transfer queued
# behind it (decision `dma`: the port serves in issue order).  Uses r8 r10-r12 r14.
.macro FETCH buf, rec=CP, ps=V_INITM, scr=V_FSCR
    lw r8, \ps(r0)
    beq r8, r0, 2f
    lw r10, \scr(r0)
    lw r8, H_PSOFF(r0)
    add.w r14, \buf, r8
    lw r12, V_NBB(r0)
    srli.w r12, r12, 2
    dma r14, r10, r12
    lw r8, H_T4B(r0)
    add.w r10, r10, r8
    sw r10, \scr(r0)
2:  lw r11, \rec+P_SHAPE(r0)
    dma2d \buf, r1, r11
    lw r12, \rec+P_NF(r0)
    beq r12, r0, 4f
    mv r10, r1                  # more pieces: kw runs of each kernel row
    mv r14, \buf
3:  lw r8, \rec+P_SSTEP(r0)
    add.w r10, r10, r8
    lw r8, \rec+P_DSTEP(r0)
    add.w r14, r14, r8
    dma2d r14, r10, r11
    addi r12, r12, -1
    bne r12, r0, 3b
4:
.endm

# Send the results in the pixel buffer `buf` to V_PREV, if set.  Uses r8 r10-r12.
.macro SEND buf
    lw r10, V_PREV(r0)
    beq r10, r0, 5f
    lw r8, H_ROFF(r0)
    add.w r11, \buf, r8
    lw r12, V_OSHAPE(r0)
    dma2d r10, r11, r12
5:
.endm

# The next segment's weights into the other weight buffer, if set up.  Uses r10-r12.
.macro WPRE
    lw r10, V_WLEFT(r0)
    beq r10, r0, 6f
    lw r11, V_WSRC(r0)
    lw r12, V_WDST(r0)
    srli.w r10, r10, 2
    dma r12, r11, r10
    sw r0, V_WLEFT(r0)
6:
.endm

# The block loop of a pixel, epilogue REQUANT4 with shift s: r5 blocks from r6 (bias
# or sums), r12 (weights), r15 (field), r13 field words, results at (r14)+.
.macro BLOCKS s
    loop r5, 2f
    lw r7, (r6)+4
    lw r8, (r6)+4
    lw r9, (r6)+4
    lw r10, (r6)+4
    mv r11, r15
    loop r13, 1f
    MACH r7, r11, r12
    MACH r8, r11, r12
    MACH r9, r11, r12
    MACS r10, r11, r12
1:  REQUANT4 r7, r8, r9, r10, \s, r14
2:  j back
.endm

.macro BLOCKS_RAW
    loop r5, 2f
    lw r7, (r6)+4
    lw r8, (r6)+4
    lw r9, (r6)+4
    lw r10, (r6)+4
    mv r11, r15
    loop r13, 1f
    MACH r7, r11, r12
    MACH r8, r11, r12
    MACH r9, r11, r12
    MACS r10, r11, r12
1:  RAW4 r7, r8, r9, r10, r14
2:  j back
.endm

# ------------------------------------------------------------------ the program
    .text
.if STOCH
    mfs r3, id
    SEED_LFSR r2, r3
.endif
    sw r1, V_DESC(r0)
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
    li r8, blk_0                # the block loops: the last pass's, the raw one
    li r9, blk_1 - blk_0
    lw r10, H_EPI(r0)
    mul.w r10, r10, r9
    add.w r10, r10, r8
    sw r10, V_EPILAST(r0)
    li r10, blk_raw
    sw r10, V_EPIRAW(r0)
    lw r8, R_COUNT(r0)          # the first tile and pixel
    sw r8, V_LEFT(r0)
    lw r8, R_SUB(r0)
    sw r8, V_SUB(r0)
    lw r8, R_BLOB(r0)
    sw r8, V_BLOB(r0)
    lw r8, R_GIN(r0)
    sw r8, V_GIN(r0)
    lw r8, R_GOUT(r0)
    sw r8, V_GOUT(r0)
    lw r8, R_P0(r0)
    sw r8, V_P(r0)
    lw r8, R_XL(r0)
    sw r8, V_XL0(r0)
    lw r8, R_YL(r0)
    sw r8, V_YL0(r0)
    lw r8, R_IN(r0)
    sw r8, V_IN0(r0)
    lw r8, R_OUT(r0)
    sw r8, V_OUT0(r0)
    lw r8, R_SCR(r0)
    sw r8, V_SCR0(r0)
    lw r8, H_WB0(r0)
    sw r8, V_WBCUR(r0)
    sw r0, V_WREADY(r0)
    sw r0, V_WLEFT(r0)
    sw r0, V_FREADY(r0)
    lw r4, H_CLIP(r0)
    lw r8, H_STAGE(r0)          # the input place into SM, every PE a share
    beq r8, r0, 1f
    lw r9, R_SSRC(r0)
    lw r10, R_SDST(r0)
    lw r11, R_SWORDS(r0)
    dma r10, r9, r11
    dwait
    sync                        # every share is in
1:  lw r8, V_LEFT(r0)
    beq r8, r0, done

tile:
    lw r8, V_SUB(r0)            # blocks and output bytes of this tile
    lw r9, H_TPG(r0)
    addi r9, r9, -1
    lw r10, H_NBT(r0)
    lw r11, H_OBT(r0)
    bne r8, r9, 1f
    lw r10, H_NBL(r0)
    lw r11, H_OBL(r0)
1:  sw r10, V_NB(r0)
    slli.w r10, r10, 4
    sw r10, V_NBB(r0)
    sw r11, V_OBS(r0)
    lw r8, H_NPIX(r0)           # the segment: the range's pixels in this tile
    lw r9, V_P(r0)
    sub.w r8, r8, r9
    lw r9, V_LEFT(r0)
    MIN r8, r9
    sw r8, V_NSEG(r0)
    sw r0, V_PASS(r0)

pass:
    lw r8, V_PASS(r0)           # the pass record, GM -> CP
    li r9, PW*4
    mul.w r8, r8, r9
    lw r9, V_DESC(r0)
    add.w r8, r8, r9
    lw r9, H_PASSOFF(r0)
    add.w r8, r8, r9
    li r9, CP
    li r10, PW
    dma r9, r8, r10
    dwait                       # (the previous segment's results and weights are in)
    lw r8, CP+P_DSS(r0)
    mts dss, r8
    lw r8, CP+P_DDS(r0)
    mts dds, r8
    lw r8, V_WREADY(r0)         # this segment's weights were prefetched?
    sw r8, V_WHAVE(r0)
    sw r0, V_WREADY(r0)
    lw r8, H_DBW(r0)            # the next segment's weights, during its last pixel
    beq r8, r0, nextw_done
    lw r8, V_PASS(r0)           # the next segment: next pass of this tile ...
    addi r8, r8, 1
    lw r9, H_NPASS(r0)
    lw r10, V_BLOB(r0)
    lw r11, V_NB(r0)
    lw r5, V_IN0(r0)
    lw r6, V_GIN(r0)
    bne r8, r9, nextw
    lw r12, V_LEFT(r0)          # ... or the first pass of the next tile, if any
    lw r9, V_NSEG(r0)
    beq r12, r9, nextw_done
    li r8, 0
    lw r5, H_INB(r0)
    lw r9, H_BLOBB(r0)
    add.w r10, r10, r9
    lw r12, V_SUB(r0)
    addi r12, r12, 1
    lw r9, H_TPG(r0)
    bne r12, r9, 1f
    li r12, 0
    lw r14, H_GIN(r0)
    add.w r6, r6, r14
1:  addi r9, r9, -1
    lw r11, H_NBT(r0)
    bne r12, r9, nextw
    lw r11, H_NBL(r0)
nextw:                          # r8 its pass, r10 its blob, r11 its blocks, r5 r6 where
    sw r8, V_NPS(r0)            # its first field is; partial sums unless pass 0
    li r9, PW*4                 # its pass record -> NP
    mul.w r9, r8, r9
    lw r12, V_DESC(r0)
    add.w r9, r9, r12
    lw r12, H_PASSOFF(r0)
    add.w r9, r9, r12
    li r12, NP
    li r14, PW
    dma r12, r9, r14
    dwait
    add.w r5, r5, r6
    lw r9, NP+P_SRCOFF(r0)
    add.w r5, r5, r9
    sw r5, V_NIN(r0)
    lw r9, NP+P_WOFF(r0)
    add.w r10, r10, r9
    sw r10, V_WSRC(r0)
    lw r9, V_WBCUR(r0)
    lw r12, H_WB0(r0)
    lw r14, H_WB1(r0)
    xor r12, r12, r14
    xor r9, r9, r12
    lw r12, NP+P_WDOFF(r0)
    add.w r9, r9, r12
    sw r9, V_WDST(r0)
    lw r9, NP+P_WPB(r0)
    mul.w r11, r11, r9
    lw r9, NP+P_WFIX(r0)
    add.w r11, r11, r9
    sw r11, V_WLEFT(r0)
    li r8, 1
    sw r8, V_WREADY(r0)
nextw_done:
    lw r8, V_WHAVE(r0)          # this segment's weights, unless prefetched
    bne r8, r0, 1f
    lw r8, V_BLOB(r0)
    lw r9, CP+P_WOFF(r0)
    add.w r8, r8, r9
    lw r9, V_WBCUR(r0)
    lw r10, CP+P_WDOFF(r0)
    add.w r9, r9, r10
    lw r10, V_NB(r0)
    lw r11, CP+P_WPB(r0)
    mul.w r10, r10, r11
    lw r11, CP+P_WFIX(r0)
    add.w r10, r10, r11
    srli.w r10, r10, 2
    dma r9, r8, r10
1:  lw r13, CP+P_R(r0)          # this pass's block loop and sums
    lw r8, V_WBCUR(r0)
    lw r9, H_T4B(r0)
    add.w r9, r8, r9
    sw r9, V_WBASE(r0)
    lw r9, V_PASS(r0)
    lw r10, H_NPASS(r0)
    addi r10, r10, -1
    sw r9, V_INITM(r0)          # sums start at the partial sums (passes after the
    bne r9, r0, 1f              # first) or the bias, copied to the same place
    lw r9, V_NBB(r0)            # (pass 0): (pixel buffer) + H_PSOFF
    srli.w r9, r9, 2
    lw r10, H_F0(r0)
    lw r11, H_PSOFF(r0)
    add.w r12, r10, r11
    dma r12, r8, r9
    lw r12, H_FX(r0)
    xor r10, r10, r12
    add.w r10, r10, r11
    dma r10, r8, r9
    lw r9, V_PASS(r0)
    lw r10, H_NPASS(r0)
    addi r10, r10, -1
1:  lw r8, V_EPIRAW(r0)         # results: the last pass requantises into the place,
    lw r11, V_NBB(r0)           # the others store raw sums in the scratch
    li r12, 0x10000
    or r11, r11, r12
    lw r12, H_T4B(r0)
    li r14, 0
    li r6, 0
    lw r5, V_SCR0(r0)
    bne r9, r10, 1f
    lw r8, V_EPILAST(r0)
    lw r11, V_OBS(r0)
    lw r12, H_DXO(r0)
    lw r14, H_DYO(r0)
    lw r6, H_DNO(r0)
    lw r5, V_OUT0(r0)
    lw r7, V_GOUT(r0)
    add.w r5, r5, r7
1:  sw r8, V_EPIJ(r0)
    sw r11, V_OSHAPE(r0)
    sw r12, V_ODX(r0)
    sw r14, V_ODY(r0)
    sw r6, V_ODN(r0)
    sw r5, V_OUT(r0)
    lw r8, V_SCR0(r0)
    sw r8, V_FSCR(r0)
    sw r0, V_PREV(r0)
    lw r1, V_IN0(r0)            # the walker at the segment's first pixel
    lw r8, V_GIN(r0)
    add.w r1, r1, r8
    lw r8, CP+P_SRCOFF(r0)
    add.w r1, r1, r8
    lw r2, V_XL0(r0)
    lw r8, V_YL0(r0)
    sw r8, V_YL(r0)
    lw r3, V_NSEG(r0)
    lw r5, V_NB(r0)             # (r5: the blocks, for every pixel of the segment)
    lw r8, V_FREADY(r0)         # the first field came during the segment before
    beq r8, r0, 1f
    sw r0, V_FREADY(r0)
    lw r8, V_SCR0(r0)           # (its partial sums too: the next are the second's)
    lw r9, H_T4B(r0)
    add.w r8, r8, r9
    sw r8, V_FSCR(r0)
    j pixel
1:  lw r15, H_F0(r0)
    FETCH r15

pixel:
    dwait                       # this pixel's field is in; the other buffer is free
    lw r9, H_FX(r0)
    xor r9, r15, r9             # the other pixel buffer
    SEND r9                     # the previous pixel's results
    lw r10, V_OUT(r0)           # (r10: STEP's too)
    sw r10, V_PREV(r0)
    addi r3, r3, -1
    bne r3, r0, 1f
    lw r8, V_WREADY(r0)         # the last pixel: the next segment's first field and
    beq r8, r0, compute         # its weights come meanwhile
    lw r8, V_NSEG(r0)           # (not the field if it needs partial sums this pixel
    addi r8, r8, -1             # has not made yet)
    bne r8, r0, 7f
    lw r8, V_NPS(r0)
    bne r8, r0, 8f
7:  lw r8, NP+P_DSS(r0)
    mts dss, r8
    lw r8, NP+P_DDS(r0)
    mts dds, r8
    lw r1, V_NIN(r0)
    lw r8, V_SCR0(r0)
    sw r8, V_NSCR(r0)
    FETCH r9, NP, V_NPS, V_NSCR
    li r8, 1
    sw r8, V_FREADY(r0)
8:  WPRE
    j compute
1:  STEP                        # the next pixel's field into the other buffer
    FETCH r9
compute:
    lw r6, H_PSOFF(r0)
    add.w r6, r6, r15
    lw r14, H_ROFF(r0)
    add.w r14, r14, r15
    lw r12, V_WBASE(r0)
    lw r8, V_EPIJ(r0)
    jr r8
back:
    lw r8, H_FX(r0)             # swap the pixel buffers
    xor r15, r15, r8
    bne r3, r0, pixel
    lw r9, H_FX(r0)
    xor r9, r15, r9
    SEND r9                     # the segment's last pixel
    lw r8, V_WREADY(r0)         # prefetched: swap the weight buffers
    beq r8, r0, 1f
    lw r8, V_WBCUR(r0)
    lw r9, H_WB0(r0)
    lw r10, H_WB1(r0)
    xor r9, r9, r10
    xor r8, r8, r9
    sw r8, V_WBCUR(r0)

1:  lw r8, V_PASS(r0)           # the next pass over the same pixels
    addi r8, r8, 1
    sw r8, V_PASS(r0)
    lw r9, H_NPASS(r0)
    bne r8, r9, pass
    lw r8, V_LEFT(r0)           # the next tile
    lw r9, V_NSEG(r0)
    sub.w r8, r8, r9
    sw r8, V_LEFT(r0)
    beq r8, r0, done
    lw r8, V_SUB(r0)
    addi r8, r8, 1
    lw r9, V_BLOB(r0)
    lw r10, H_BLOBB(r0)
    add.w r9, r9, r10
    sw r9, V_BLOB(r0)
    lw r10, V_GOUT(r0)
    lw r11, H_TOUT(r0)
    add.w r10, r10, r11
    lw r11, H_TPG(r0)
    bne r8, r11, 1f
    li r8, 0                    # ... of the next group
    lw r11, H_GOUTW(r0)
    add.w r10, r10, r11
    lw r11, V_GIN(r0)
    lw r12, H_GIN(r0)
    add.w r11, r11, r12
    sw r11, V_GIN(r0)
1:  sw r8, V_SUB(r0)
    sw r10, V_GOUT(r0)
    sw r0, V_P(r0)              # from its first pixel
    lw r8, H_WO(r0)
    sw r8, V_XL0(r0)
    lw r8, H_HO(r0)
    sw r8, V_YL0(r0)
    lw r8, H_INB(r0)
    sw r8, V_IN0(r0)
    lw r8, H_OUTB(r0)
    sw r8, V_OUT0(r0)
    j tile

done:
    dwait                       # the last results are out
    halt

# ------------------------------------------------------------------ block loops
blk_0:
    BLOCKS 0
blk_1:
    BLOCKS 1
    BLOCKS 2
    BLOCKS 3
    BLOCKS 4
    BLOCKS 5
    BLOCKS 6
    BLOCKS 7
    BLOCKS 8
    BLOCKS 9
    BLOCKS 10
    BLOCKS 11
    BLOCKS 12
    BLOCKS 13
    BLOCKS 14
    BLOCKS 15
    BLOCKS 16
    BLOCKS 17
    BLOCKS 18
    BLOCKS 19
    BLOCKS 20
    BLOCKS 21
    BLOCKS 22
    BLOCKS 23
    BLOCKS 24
    BLOCKS 25
    BLOCKS 26
    BLOCKS 27
    BLOCKS 28
    BLOCKS 29
    BLOCKS 30
    BLOCKS 31
blk_raw:
    BLOCKS_RAW
