# dot.s: an SPMD dot product of two int8 vectors on the 4x4 array.
#
# Every PE runs this code (`.pe all`) on its own slice: it finds its slice
# from its id, multiply-accumulates 4 int8 lanes per mac.b, leaves its
# partial sum in shared memory, and after the barrier PE 0 adds the 16
# partial sums and stores the result in global memory.
# Expected: result = 64 * (1*5 - 2*6 - 3*7 - 4*8) = -3840.

.equ N, 256                     # elements per vector
.equ PES, 16                    # the 4x4 array
.equ SLICE, N / PES             # bytes per PE

.macro mac4 acc, pa, pb         # acc += the next 4 products of A and B
        lw r10, (\pa)+4
        lw r11, (\pb)+4
        mac.b \acc, r10, r11
.endm

.text
.pe all
        mfs r1, id
        li r2, SLICE
        mul.w r2, r1, r2        # this PE's offset into the vectors
        li r3, vec_a
        add.w r3, r3, r2
        li r4, vec_b
        add.w r4, r4, r2
        li r5, 0
        .rept SLICE / 4
        mac4 r5, r3, r4
        .endr
        li r6, partial
        slli.w r7, r1, 2
        add.w r6, r6, r7
        sw r5, 0(r6)            # partial[id] = sum
        sync
        bne r1, r0, 1f          # PE 0 reduces, the others are done
        li r6, partial
        li r8, PES
        li r5, 0
        loop r8, 2f             # zero-overhead loop over the next two lines
        lw r9, (r6)+4
        add.w r5, r5, r9
2:      li r6, result
        sw r5, 0(r6)
1:      halt

.sdata                          # shared memory of the cluster
partial: .space PES * 4

.data                           # global memory, seen by the host
result: .word 0
vec_a:  .rept N / 4
        .byte 1, -2, 3, -4
        .endr
vec_b:  .rept N / 4
        .byte 5, 6, -7, 8
        .endr
