# String escapes and operands of .ascii/.asciz/.string.
.data
        .ascii 5                # error: expected a string, got '5'
        .asciz "a\q"            # error: unknown escape '\q' in the string
        .string "\x"            # error: '\x' needs one or two hex digits in the string
        .ascii "\400"           # error: octal escape '\400' is above 255
        .byte '\xzz'            # error: '\x' needs one or two hex digits
        .ascii                  # error: .ascii takes at least 1 operand, got 0
