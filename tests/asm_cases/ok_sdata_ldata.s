# .sdata is shared memory (0x10000000); .ldata the local memory (0x0) of the chosen PEs.
.sdata
shared: .word 7                 # @0x10000000 = 0x00000007
.pe 1,1
.ldata
local:  .word 8                 # @0x00000000 = 0x00000008
        .word 9                 # @0x00000004 = 0x00000009
.text
        li r1, shared           # = 0x30110000, 0x28110000
        lw r2, local+4(r0)      # = 0x60200004
# sym shared = 0x10000000
# sym local = 0
# images: 1,1
