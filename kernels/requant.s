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
#   PACK8 PACK16 PACK32 output width (one is 1); OW = 1, 2 or 4 output words
#   GROUPS              groups of 4 input words (N padded to 4*GROUPS)
#   XADDR YADDR         GM: input 4*GROUPS int32, output GROUPS*OW words
#   SEED_A              LFSR seed, mixed with the PE id (stochastic only; width.inc)
#
# Mapping: group g (4 inputs) is done by PE (g mod P).
# Registers: r1 id, r2 PEs, r3 group, r7-r10 values, r11 input, r13 scratch,
#   r14 output pointer.
# Cycles per group: 4 GM loads + 4-12 ALU + OW GM stores, about 50-80.

.include "width.inc"

    .text
    PE_ID_COUNT                 # r1 id, r2 PEs
.rept STOCH
    SEED_LFSR
.endr
    mv r3, r1
group:
    li r13, GROUPS
    bge r3, r13, done
    slli.w r11, r3, 4
    li r13, XADDR
    add.w r11, r11, r13
    li r13, OW*4
    mul.w r14, r3, r13
    li r13, YADDR
    add.w r14, r14, r13
    lw r7, 0(r11)
    lw r8, 4(r11)
    lw r9, 8(r11)
    lw r10, 12(r11)
    REQ1 r7
    REQ1 r8
    REQ1 r9
    REQ1 r10
    STORE4 r7, r8, r9, r10, r14
    add.w r3, r3, r2
    j group
done:
    halt
