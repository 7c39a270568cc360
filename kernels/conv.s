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
#   WADDR              GM: weights, 4*KB channels x R words, then their 4*KB int32
#                      biases (one run: the cooperative copy takes both)
#   M ROUNDS           own tasks per PE in a round, and rounds ceil(HO*KB / (M*P))
#   TQ TR              P = TQ*KB + TR: the step between a PE's own tasks
#   RQ RR              M*P = RQ*KB + RR: the step between rounds
#   RPR                strip rows a round may need: ceil(M*P / KB) + 1
#   STAGE              1: share GM words through SM as below; 0 (a layer whose
#                      strips would not fit SM): every PE copies straight from GM
#   CHW CHS            words each PE copies GM -> SM for the weights / a round's
#                      strips (ceil(total / P), made 1 mod 16 so the PEs' SM
#                      stores fall in different banks)
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
# Mapping (tasks = output row x block of 4 channels, dealt round-robin to PEs;
# every GM word is fetched once, by one PE, and shared through SM):
#
#            GM                    SM                           LM of PE p
#   weights + biases --(all PEs, a chunk each)--> SMW --(block kb of p)--> WBLK, BIAS
#   strips, round j  --(all PEs, a chunk each)--> SMS[j%2] --(row oy of p)--> STRIP
#
#   round j: PE p does tasks t = (j*M + i)*P + p = oy*KB + kb, i < M
#     +---------+---------+---------+---------+
#     | PE0:t0  | PE1:t1  | PE2:t2  | PE3:t3  |    `sync` after each cooperative copy;
#     | t16..   | t17..   |         |         |    strips double-buffered in SM, so a
#     +---------+---------+---------+---------+    round's copy never overwrites rows a
#     | PE4:t4  | ...                         |    PE is still reading; each PE re-reads
#     +---------+---------+---------+---------+    its LM copy (1 cycle) for every MAC.
#
#   LM:  SPILL (8 words, at 0) | BIAS (4 words, at 32) | STRIP (WP*DW words) | WBLK (4*R words)
#   SM:  SMW (KB*4*R weights, 4*KB biases) | SMS (2 buffers of RPR*WP*DW words)
#
# Registers: r1 id, r2 PEs, r3 oy (x count inside a task), r4 kb, r5 strip row in
#   LM, r6 weight block in LM, r7-r10 accumulators of 4 channels, r11 field
#   pointer, r12 weight pointer, r13 scratch / counts, r14 output pointer,
#   r15 field base.  A PE walks its own tasks t = id, id+P, ... as (oy, kb),
#   stepping by (TQ, TR); SPILL holds oy, kb, the tasks left in the round, the
#   round j and the first row (and channel block) of the round's first task.
#
# Cycles per output pixel and 4 channels: 4*R macl + about 20 (+ requantisation);
# per round: RPR*WP*DW/P words GM -> SM (GM cost + SM cost each) and WP*DW words
# SM -> LM (SM cost + 1); once: 4*R*KB*4/P weight words GM -> SM, 4*R SM -> LM.

.include "width.inc"

.equ SPILL, 0                   # low addresses: reachable as off12(r0)
.equ BIAS, 32
.equ STRIP, 48
.equ WBLK, STRIP + WP*DW*4
.equ SMW, 0x10000000            # SM: every block's weights, then the biases
.equ SMBIAS, SMW + KB*16*R
.equ SMS, SMBIAS + KB*16        # SM: two strip buffers of RPR rows
.equ SMROWS, RPR*WP*DW*4        # bytes of one buffer
.equ WSRC, STAGE*SMW + (1-STAGE)*WADDR  # where PEs take their weight block from

# Copy this PE's chunk of a run of words: words [id*CH, min((id+1)*CH, n)) of the
# run at r11 go to r12.  r9 = n; uses r7, r8, r13.
.macro COPY_CHUNK ch
    li r13, \ch
    mul.w r8, r1, r13
    sub.w r9, r9, r8            # words left from this PE's start
    blt r9, r13, 1f
    mv r9, r13                  # at most a chunk
1:  bge r0, r9, 2f              # none left: nothing to copy
    slli.w r8, r8, 2
    add.w r11, r11, r8
    add.w r12, r12, r8
    loop r9, 2f
    lw r7, (r11)+4
    sw r7, (r12)+4
2:
.endm

    .text
    PE_ID_COUNT                 # r1 id, r2 P = rows*cols
.rept STAGE
    li r11, WADDR               # every weight and bias, GM -> SM, a chunk per PE
    li r12, SMW
    li r9, KB*16*R/4 + 4*KB
    COPY_CHUNK CHW
.endr
    DIVKB r3, r4, r1            # the first own task, t = id: oy = id / KB, kb = id % KB
    sw r0, SPILL+16(r0)         # round j = 0
    sw r0, SPILL+20(r0)         # its first strip row: (j*M*P) / KB = 0
    sw r0, SPILL+24(r0)         # and (j*M*P) % KB = 0
    li r5, -1                   # strip row held in LM: none yet
    li r6, -1                   # weight block held in LM: none yet
.rept STOCH
    SEED_LFSR                   # stochastic rounding: a distinct, well-mixed LFSR per PE
.endr
.rept STAGE
    sync                        # the weights are in SM
.endr

round:
.rept STAGE
    # -- this round's strip rows [row0, row0 + RPR) (clipped at HO), GM -> SM buffer j%2
    lw r10, SPILL+20(r0)        # row0
    li r13, WP*DW*4
    mul.w r11, r10, r13
    li r13, XADDR
    add.w r11, r11, r13
    lw r12, SPILL+16(r0)
    andi r12, r12, 1
    li r13, SMROWS
    mul.w r12, r12, r13
    li r13, SMS
    add.w r12, r12, r13
    li r9, HO
    sub.w r9, r9, r10           # rows left from row0
    li r13, RPR
    blt r9, r13, 1f
    mv r9, r13
1:  li r13, WP*DW
    mul.w r9, r9, r13           # words to copy
    COPY_CHUNK CHS
    sync                        # the round's strips are in SM
.endr
    li r13, M
    sw r13, SPILL+8(r0)         # own tasks left in this round

task:
    li r13, HO
    bge r3, r13, end_round      # this PE has no task left
    sw r3, SPILL+0(r0)
    sw r4, SPILL+4(r0)

    # -- strip row oy, SM -> LM (when it changes), staggered by kb cycles so that
    #    the PEs reading the same row do not hit the same bank in the same cycle
    beq r3, r5, have_strip
    mv r5, r3
    loop r4, 1f
    nop
1:
.rept STAGE
    lw r10, SPILL+20(r0)
    sub.w r10, r3, r10          # the row's place in the buffer
    li r13, WP*DW*4
    mul.w r11, r10, r13
    lw r12, SPILL+16(r0)
    andi r12, r12, 1
    li r13, SMROWS
    mul.w r12, r12, r13
    add.w r11, r11, r12
    li r13, SMS
    add.w r11, r11, r13
.endr
.rept 1-STAGE
    li r13, WP*DW*4             # straight from GM
    mul.w r11, r3, r13
    li r13, XADDR
    add.w r11, r11, r13
.endr
    li r12, STRIP
    li r13, WP*DW
    loop r13, 1f
    lw r7, (r11)+4
    sw r7, (r12)+4
1:
have_strip:
    # -- weights and biases of channel block kb, SM -> LM (when it changes)
    beq r4, r6, have_weights
    mv r6, r4
    li r13, 16*R
    mul.w r11, r4, r13
    li r13, WSRC
    add.w r11, r11, r13
    li r12, WBLK
    li r13, 4*R
    loop r13, 1f
    lw r7, (r11)+4
    sw r7, (r12)+4
1:
    slli.w r11, r4, 4
    li r13, WSRC + KB*16*R      # the biases follow the weights
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
    lw r3, SPILL+0(r0)          # the next own task: t += P = TQ*KB + TR
    lw r4, SPILL+4(r0)
    STEP_TASK r3, r4, TQ, TR
    lw r13, SPILL+8(r0)
    addi r13, r13, -1
    sw r13, SPILL+8(r0)
    bne r13, r0, task
end_round:
    # -- the next round: j += 1, (row0, k0) += (RQ, RR)
    lw r10, SPILL+16(r0)
    addi r10, r10, 1
    sw r10, SPILL+16(r0)
    li r13, ROUNDS
    bge r10, r13, done
    lw r10, SPILL+20(r0)
    lw r11, SPILL+24(r0)
    STEP_TASK r10, r11, RQ, RR
    sw r10, SPILL+20(r0)
    sw r11, SPILL+24(r0)
    j round
done:
    halt
