# .equ: names, cycles, values that cannot be computed.
.equ r1, 5                      # error: expected a name, got 'r1'
.equ 5, 5                       # error: expected a name, got '5'
.equ A, B + 1
.equ B, A + 1                   # error: circular .equ definition: B -> A -> B
.equ C, 1 / 0                   # error: division by zero
.equ D                          # error: .equ takes 2 operands, got 1
        addi r1, r0, C
