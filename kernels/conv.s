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
#   WO HO              output width and height
#   STRIDE             stride S
#   KB                 blocks of 4 output channels (K padded to 4*KB)
#   XADDR              GM: strips, HO x WP x DW words (layout below)
#   WADDR              GM: weights, 4*KB channels x R words
#   BADDR              GM: biases, 4*KB int32
#   YADDR              GM: output, HO x WO x KB*OW words, channels last
#   OW                 words per block of 4 channels in the output: 4, 2 or 1
#   NEAREST STOCH RELU requantisation flags (both rounding flags 0: raw int32 out)
#   SHIFT              right shift of the requantisation
#   PACK8 PACK16 PACK32 output width flags
#   SEED_A             LFSR seed for stochastic rounding, mixed with the PE id (width.inc)
#
# Memory layout (the driver builds it; lanes fill low bits first):
#   strip oy, column xc: the KH*C values x[c, oy*S+dy, xc] ordered (dy, c), packed
#     into DW words.  The receptive field of output (oy, ox) is then the KW*DW
#     consecutive words from column ox*S: one contiguous run, one `loop` of macl.
#   weights of channel k: for dx, the KH*C values w[k, c, dy, dx] in (dy, c) order,
#     packed into DW words: R words per channel, matching the field word for word.
#
# Mapping (tasks = output row x block of 4 channels, dealt round-robin to PEs):
#
#     task t = oy*KB + kb  ->  PE t mod P          strip oy   (GM -> LM, once per row)
#                                                  weights kb (GM -> LM, once per block)
#     +---------+---------+---------+---------+
#     | PE0:t0  | PE1:t1  | PE2:t2  | PE3:t3  |    each PE keeps its strip and weight
#     | t16..   | t17..   |         |         |    block in LM and re-reads them from
#     +---------+---------+---------+---------+    there (1 cycle) for every output:
#     | PE4:t4  | ...                         |    GM words are fetched once per task
#     +---------+---------+---------+---------+    that needs them, not per MAC.
#
#   LM:  SPILL (4 words, at 0) | BIAS (4 words, at 16) | STRIP (WP*DW words) | WBLK (4*R words)
#
# Registers: r1 id, r2 PEs, r3 oy (x count inside a task), r4 kb, r5 strip row in
#   LM, r6 weight block in LM, r7-r10 accumulators of 4 channels, r11 field
#   pointer, r12 weight pointer, r13 scratch / counts, r14 output pointer,
#   r15 field base.  A PE walks its own tasks t = id, id+P, ... as (oy, kb),
#   stepping by (P / KB, P % KB) (SPILL holds oy, kb and the step).
#
# Cycles per output pixel and 4 channels: 4*R macl + about 20 (+ requantisation);
# per task: strip copy WP*DW*(GM cost + 1), weight copy 4*R*(GM cost + 1) when the
# block changes.

.include "width.inc"

.equ SPILL, 0                   # low addresses: reachable as off12(r0)
.equ BIAS, 16
.equ STRIP, 32
.equ WBLK, STRIP + WP*DW*4

    .text
    PE_ID_COUNT                 # r1 id, r2 P = rows*cols
    DIVKB r5, r6, r2            # the step from one own task to the next: P = r5*KB + r6
    sw r5, SPILL+8(r0)
    sw r6, SPILL+12(r0)
    DIVKB r3, r4, r1            # the first own task, t = id: oy = id / KB, kb = id % KB
    li r5, -1                   # strip row held in LM: none yet
    li r6, -1                   # weight block held in LM: none yet
.rept STOCH
    SEED_LFSR                   # stochastic rounding: a distinct, well-mixed LFSR per PE
.endr
next:
    li r13, HO
    bge r3, r13, done           # past the last row: no task left for this PE
    sw r3, SPILL+0(r0)
    sw r4, SPILL+4(r0)

    # -- the strip of output row oy, GM -> LM (once per row)
    beq r3, r5, have_strip
    mv r5, r3
    li r13, WP*DW*4
    mul.w r11, r3, r13
    li r13, XADDR
    add.w r11, r11, r13
    li r12, STRIP
    li r13, WP*DW
    loop r13, 1f
    lw r7, (r11)+4
    sw r7, (r12)+4
1:
have_strip:
    # -- weights and biases of channel block kb, GM -> LM (once per block)
    beq r4, r6, have_weights
    mv r6, r4
    li r13, 16*R
    mul.w r11, r4, r13
    li r13, WADDR
    add.w r11, r11, r13
    li r12, WBLK
    li r13, 4*R
    loop r13, 1f
    lw r7, (r11)+4
    sw r7, (r12)+4
1:
    slli.w r11, r4, 4
    li r13, BADDR
    add.w r11, r11, r13
    li r12, BIAS
    li r13, 4
    loop r13, 1f
    lw r7, (r11)+4
    sw r7, (r12)+4
1:
have_weights:
    # -- output pointer: YADDR + ((oy*WO)*KB + kb) * OW*4
    li r13, WO*KB
    mul.w r14, r3, r13
    add.w r14, r14, r4
    li r13, OW*4
    mul.w r14, r14, r13
    li r13, YADDR
    add.w r14, r14, r13
    li r15, STRIP               # field of ox = 0
    li r3, WO                   # output pixels left in the row
pixel:
    lw r7, BIAS+0(r0)
    lw r8, BIAS+4(r0)
    lw r9, BIAS+8(r0)
    lw r10, BIAS+12(r0)
    li r12, WBLK
    li r13, R
    mv r11, r15
    loop r13, 1f
    MACLG r7, r11, r12
1:  mv r11, r15
    loop r13, 1f
    MACLG r8, r11, r12
1:  mv r11, r15
    loop r13, 1f
    MACLG r9, r11, r12
1:  mv r11, r15
    loop r13, 1f
    MACLG r10, r11, r12
1:  REQ1 r7
    REQ1 r8
    REQ1 r9
    REQ1 r10
    STORE4 r7, r8, r9, r10, r14
    addi r14, r14, (KB-1)*OW*4  # the other channel blocks of this pixel
    addi r15, r15, STRIDE*DW*4
    addi r3, r3, -1
    bne r3, r0, pixel
    lw r3, SPILL+0(r0)          # the next own task: t += P
    lw r4, SPILL+4(r0)
    lw r13, SPILL+8(r0)
    add.w r3, r3, r13
    lw r13, SPILL+12(r0)
    add.w r4, r4, r13
    li r13, KB
    blt r4, r13, next
    sub.w r4, r4, r13
    addi r3, r3, 1
    j next
done:
    halt
