# .data is global memory from gm_base; its labels are absolute addresses.
        li r1, table            # = 0x30180000, 0x28110000
        lw r2, 0(r1)            # = 0x60210000
.data
table:  .word 1, -1, table      # @0x80000000 = 0x00000001
                                # @0x80000004 = 0xffffffff
                                # @0x80000008 = 0x80000000
halves: .half 0x1234, -2        # @0x8000000c = 0xfffe1234
bytes:  .byte 1, 2, 3, 255      # @0x80000010 = 0xff030201
text:   .byte "hi!", 0          # @0x80000014 = 0x00216968
        .word end - table       # @0x80000018 = 0x0000001c
end:
# sym table = 0x80000000
# sym halves = 0x8000000c
# sym end = 0x8000001c
