# requant.s: requantise 32-bit accumulators to the next layer's width.
#
# Computes  y[i] = sat_B(round(x[i] / 2^SHIFT)) for i < N (then ReLU if asked),
# with round half up (srari: (x + 2^(SHIFT-1)) >> SHIFT) or stochastic
# rounding (srasi: (x + u) >> SHIFT, u from the PE's LFSR), saturated to
# B = 8, 16 or 32 bits and packed 4, 2 or 1 to a word (packs.h, packs.b).
#
# Parameters (.equ, prepended by the driver kernels/requant.py):
#   NEAREST STOCH RELU  rounding (one of the first two is 1) and ReLU flags
#   SHIFT               right shift
#   PACK8 PACK16 PACK32 output width (one is 1); OW = 1, 2 or 4 output words a group
#   WO                  groups of 4 input words (N padded to 4*WO); HO = 1
#   TW                  groups of a segment (as many as LM holds, at most 256)
#   XADDR YADDR         GM: input 4*WO int32, output WO*OW words
#   SEED_A              LFSR seed, mixed with the PE id (stochastic only; width.inc)
# and, per PE, a launch record the host writes to LM at ARGS (words):
#   0 units             groups this PE does; 3 the first of them
#   7 y                 where its first output word goes in GM (then stepped)
#
# Mapping: the groups are split into P contiguous ranges that differ by at most
# one, one per PE; a PE walks its range in segments of TW groups, each fetched
# GM -> LM by its DMA engine while it works on the one before (double buffered),
# and sends the results out by DMA.
#
# Registers: r1 units left, r2 first group of the segment, r3 groups in it, r4 r5
#   unused (ADVANCE), r6 the buffer in use, r7-r10 values, r11 input pointer,
#   r13 scratch, r14 output pointer.
#
# Cycles per group: 4 LM loads + 4 shifts + packing (8-bit: 3) + ReLU (1 to 4) +
# 1 to 4 LM stores, about 10-16, plus about 40 per segment.

.include "width.inc"

.equ HO, 1
.equ ARGS, 0
.equ OUTB, 32
.equ IN0, OUTB + TW*OW*4
.equ IN1, IN0 + TW*16

# DMA n groups from group g to buf.  Uses r11, r12.
.macro FETCH_GROUPS buf, g, n
    slli.w r11, \g, 4
    li r12, XADDR
    add.w r11, r11, r12
    slli.w r12, \n, 2
    dma \buf, r11, r12
.endm

    .text
.rept STOCH
    mfs r1, id
    SEED_LFSR
.endr
    lw r1, ARGS+0(r0)
    lw r2, ARGS+12(r0)
    beq r1, r0, done
    li r6, IN0
    SEGMENT_LEN r3, r2, r1
    FETCH_GROUPS r6, r2, r3
segment:
    dwait                       # this segment's input is in; OUT is free
    SEGMENT_LEN r3, r2, r1
    sub.w r1, r1, r3
    beq r1, r0, compute
    add.w r9, r2, r3            # prefetch the next segment into the other buffer
    SEGMENT_LEN r10, r9, r1
    xori r7, r6, IN0 ^ IN1
    FETCH_GROUPS r7, r9, r10
compute:
    mv r11, r6
    li r14, OUTB
    loop r3, groups
    lw r7, (r11)+4
    lw r8, (r11)+4
    lw r9, (r11)+4
    lw r10, (r11)+4
    REQ1 r7
    REQ1 r8
    REQ1 r9
    REQ1 r10
    STORE4 r7, r8, r9, r10, r14
groups:
    SEND_RESULTS OW, OUTB       # the segment's results, OUT -> y
    NEXT_SEGMENT IN0, IN1
done:
    dwait                       # the last results are out
    halt
