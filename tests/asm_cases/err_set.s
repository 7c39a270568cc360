# .set: names only; a name is .set or .equ/label, not both; no use above the first.
        addi r1, r0, z          # error: 'z' is used above its first .set (line 3)
.set z, 1
.equ e, 1
.set e, 2                       # error: duplicate symbol 'e'
lab:
.set lab, 3                     # error: duplicate symbol 'lab'
.set w, 1
.equ w, 2                       # error: a name defined with .set can only be changed with .set
.set LM_SIZE, 5                 # error: 'LM_SIZE' is predefined
.set r1, 5                      # error: expected a name, got 'r1'
.set q                          # error: .set takes 2 operands, got 1
.set k, k + 1                   # error: 'k' has no value yet: this is its first .set
