# Loads and stores: off12(rs) and the post-increment form (rs)+off12.
.equ N, 4
        lw r1, 8(r2)            # = 0x60120008
        lw r1, -4(r2)           # = 0x60120ffc
        lw r1, 0(r2)            # = 0x60120000
        lh r1, 2(r2)            # = 0x64120002
        lb r1, 2047(r2)         # = 0x681207ff
        lhu r1, -2048(r2)       # = 0x6c120800
        lbu r1, 1(r2)           # = 0x70120001
        lw r5, (N*4)+8(r2)      # = 0x60520018
        lw r5, (N)(r2)          # = 0x60520004
        lw r5, N*2(r2)          # = 0x60520008
        sw r3, 4(r2)            # = 0x80023004
        sh r3, 2(r2)            # = 0x84023002
        sb r1, -1(r2)           # = 0x88021fff
        lw r1, (r2)+4           # = 0x74120004
        lw r1, (r2)+-4          # = 0x74120ffc
        sw r6, (r7)+4           # = 0x8c076004
        sw r6, ( r7 ) + N       # = 0x8c076004
