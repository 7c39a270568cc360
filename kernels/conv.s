# conv.s: 2-D convolution (correlation) of packed integer tensors, SPMD over the array.
#
# Computes  y[k, oy, ox] = b[k] + sum_{c, dy, dx} x[c, oy*S+dy, ox*S+dx] * w[k, c, dy, dx]
# on zero-padded input, at 8, 16 or 32 bits (4, 2 or 1 lanes per word), with
# an optional requantisation (shift with round-half-up or stochastic rounding,
# ReLU, saturation to the width) fused in.  Fully connected layers run through
# it too, as a 1x1 image with a 1x1 kernel.
#
# Parameters (.equ, prepended by the driver kernels/conv.py):
#   IS8 IS16 IS32      one is 1: lane width of x and w (macl.b / macl.h / macl.w)
#   DW                 words per packed input column: ceil(KH*C / lanes)
#   R                  words per receptive field: KW*DW
#   WP                 padded input width (columns of a strip)
#   WO HO              output width and height (HO counts the rows of every image)
#   STRIDE             stride S
#   KB                 blocks of 4 output channels (K padded to 4*KB)
#   KW                 kernel width
#   TW                 pixels of a row computed from one strip buffer (<= WO: as many
#                      as LM holds; a wider row is done in tiles of TW)
#   BLOB               GM: KB weight blocks, then HO strips (layout below)
#   STAGE              1: the whole blob is first copied to SM (every GM word is read
#                      once) and the PEs take their data from there; 0 (a blob larger
#                      than SM): every PE takes its data straight from GM
#   YADDR              GM: output, KB x HO x WO x OW words
#   OW                 words per pixel of a block of 4 channels in the output: 4, 2 or 1
#   NEAREST STOCH RELU requantisation flags (both rounding flags 0: raw int32 out)
#   SHIFT              right shift of the requantisation
#   PACK8 PACK16 PACK32 output width flags
#   SEED_A             LFSR seed for stochastic rounding, mixed with the PE id (width.inc)
# and, per PE, a launch record the host writes to LM at ARGS (words):
#   0 units            output pixels of one block of 4 channels this PE computes
#   1 kb, 2 oy, 3 ox   the first of them; the others follow in (kb, oy, ox) order
#   4 src, 5 dst, 6 n  its share of the GM -> SM copy of the blob (STAGE)
#   7 y                where its first result goes in GM (then stepped by the kernel)
#
# Memory layout (the driver builds it; lanes fill low bits first):
#   weight block kb: the 4 int32 biases of channels 4kb..4kb+3, then for each channel
#     and each dx the KH*C values w[k, c, dy, dx] in (dy, c) order packed into DW
#     words: 4 + 4*R words.
#   strip oy, column xc: the KH*C values x[c, oy*S+dy, xc] ordered (dy, c), packed
#     into DW words.  The receptive field of output (oy, ox) is then the KW*DW
#     consecutive words from column ox*S: one contiguous run, one `loop` of macl,
#     matching a channel's weights word for word.
#
# Mapping: the work is KB*HO*WO units (a pixel and a block of 4 channels), split
# into P contiguous ranges in (kb, oy, ox) order, one per PE, sizes differing by at
# most one: every PE gets the same work, and a range crosses few rows and blocks.
# Data moves by each PE's DMA engine (isa.toml decision `dma`), beside the MACs:
#
#            GM                        SM                          LM of PE p
#   blob (weights, strips) --(DMA, a share per PE; sync)--> copy --(DMA)--> BIAS+WBLK
#                                                                 --(DMA)--> STRIP[0/1]
#   OUT (a segment's results) --(DMA)--> y in GM
#
#   A PE walks its range in segments: up to TW pixels of one output row of one
#   block.  While it computes a segment from STRIP[i%2] (the strip columns its
#   pixels read), its engine fetches the next segment's columns into
#   STRIP[(i+1)%2]; results collect in OUT and leave by DMA when the segment ends.
#   Weights are fetched when the block changes.
#
#     P=16, KB=4, a 10x10 output (LeNet-5 conv2): 400 units, 25 per PE
#     +---------------+---------------+---------------+---------------+
#     | PE0: kb0 px   | PE1: kb0 px   | PE2: kb0 px   | PE3: kb0 px   |
#     |  0..24        |  25..49       |  50..74       |  75..99       |
#     +---------------+---------------+---------------+---------------+
#     | PE4..7: kb1, four quarters of the rows ...                    |
#     +---------------------------------------------------------------+
#
#   LM:  ARGS (8 words, at 0) | HELD (at 32) | BIAS (4 words, at 48) | WBLK (4*R)
#        | OUT (TW*OW) | STRIP0 | STRIP1 ((TW-1)*STRIDE + KW columns of DW words each)
#
# Registers: r1 units left, r2 ox, r3 pixels in the segment, r4 kb, r5 oy, r6 the
#   strip buffer in use, r7-r10 accumulators of 4 channels, r11 field pointer,
#   r12 weight pointer, r13 scratch / R, r14 output pointer, r15 field base.
#
# Cycles per output pixel and 4 channels: 4*R macl + 13 (4 bias loads, 3 pointer
# copies, 4 loop starts, 2 pointer steps), then requantisation (4 shifts; packing
# and ReLU, 8-bit: 3 + 1) and 1..4 stores to LM.  Per segment about 60 more; per
# block change 4*R+4 words of DMA that are waited for; at the start the blob's
# words pass the GM port (gm_port_words a cycle) and the first fill is waited for.

.include "width.inc"

.equ ARGS, 0                    # the launch record: reachable as off12(r0)
.equ HELD, ARGS + 32            # the weight block held in LM (-1: none)
.equ BIAS, 48
.equ WBLK, BIAS + 16
.equ OUT, WBLK + 16*R
.equ TCOLS, (TW-1)*STRIDE + KW  # strip columns a tile of TW pixels reads
.equ STRIP0, OUT + TW*OW*4
.equ STRIP1, STRIP0 + TCOLS*DW*4
.equ BLKW, 4 + 4*R              # words of a weight block, biases first
.equ SRC, STAGE*0x10000000 + (1-STAGE)*BLOB  # where the PEs take the blob from
.equ STRIPS, SRC + KB*BLKW*4

# DMA the strip columns that n pixels from (oy, ox) read into the LM buffer at buf:
# (n-1)*STRIDE + KW columns of DW words from column ox*STRIDE of strip row oy.
# Uses r11, r12, r13.
.macro FETCH_STRIP buf, oy, ox, n
    li r13, WP*DW*4
    mul.w r11, \oy, r13
    li r13, STRIDE*DW*4
    mul.w r12, \ox, r13
    add.w r11, r11, r12
    li r13, STRIPS
    add.w r11, r11, r13
    li r13, STRIDE*DW
    mul.w r12, \n, r13
    li r13, (KW-STRIDE)*DW
    add.w r12, r12, r13
    dma \buf, r11, r12
.endm

    .text
.rept STOCH
    mfs r1, id
    SEED_LFSR                   # stochastic rounding: a distinct, well-mixed LFSR per PE
.endr
.rept STAGE
    lw r11, ARGS+16(r0)         # this PE's share of the blob, GM -> SM
    lw r12, ARGS+20(r0)
    lw r13, ARGS+24(r0)
    dma r12, r11, r13
.endr
    lw r1, ARGS+0(r0)
    lw r4, ARGS+4(r0)
    lw r5, ARGS+8(r0)
    lw r2, ARGS+12(r0)
    li r6, -1
    sw r6, HELD(r0)
.rept STAGE
    dwait
    sync                        # the blob is in SM
.endr
    beq r1, r0, done
    li r6, STRIP0               # the first segment's strip
    SEGMENT_LEN r3, r2, r1
    FETCH_STRIP r6, r5, r2, r3

segment:
    # -- the weights and biases of block kb, when it changes
    lw r13, HELD(r0)
    beq r13, r4, 1f
    sw r4, HELD(r0)
    li r13, BLKW*4
    mul.w r11, r4, r13
    li r13, SRC
    add.w r11, r11, r13
    li r12, BIAS
    li r13, BLKW
    dma r12, r11, r13
1:  dwait                       # this segment's strip (and weights) are in; OUT is free
    SEGMENT_LEN r3, r2, r1
    sub.w r1, r1, r3            # units left after this segment
    # -- prefetch the next segment's strip into the other buffer
    beq r1, r0, compute
    NEXT_PLACE STRIP0, STRIP1
    FETCH_STRIP r7, r8, r9, r10
compute:
    mv r15, r6                  # the field of the first pixel
    li r14, OUT
    li r13, R
    loop r3, pixels
    lw r7, BIAS+0(r0)
    lw r8, BIAS+4(r0)
    lw r9, BIAS+8(r0)
    lw r10, BIAS+12(r0)
    li r12, WBLK
    mv r11, r15
    loop r13, 1f
    MACLG r7, r11, r12
1:  mv r11, r15
    loop r13, 1f
    MACLG r8, r11, r12
1:  mv r11, r15
    loop r13, 1f
    MACLG r9, r11, r12
1:  loop r13, 1f                # the last channel walks the field base itself
    MACLG r10, r15, r12
1:  REQ1 r7
    REQ1 r8
    REQ1 r9
    REQ1 r10
    STORE4 r7, r8, r9, r10, r14
    addi r15, r15, STRIDE*DW*4 - 4*R  # the next pixel's field
pixels:
    # -- the segment's results, OUT -> y: a PE's units are consecutive in y's
    #    (kb, oy, ox) order, so its results land one segment after the other
    SEND_RESULTS OW, OUT
    NEXT_SEGMENT STRIP0, STRIP1
done:
    dwait                       # the last results are out
    halt
