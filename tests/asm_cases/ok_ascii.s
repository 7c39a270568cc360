# .ascii/.asciz/.string: string bytes (UTF-8) with C escapes; .asciz/.string add a 0.
.data
        .ascii "ab", "c\n"      # @0x80000000 = 0x0a636261
        .asciz "abc"            # @0x80000004 = 0x00636261
        .string "\x41\102\t"    # @0x80000008 = 0x00094241
        .ascii "\"\\\a\?"       # @0x8000000c = 0x3f075c22
        .byte '\n', '\x7f', '\0', 'A'   # @0x80000010 = 0x41007f0a
        .ascii "é!!"            # @0x80000014 = 0x2121a9c3
        .ascii "\1\12\123"      # @0x80000018 = 0x00530a01
        .byte 0
