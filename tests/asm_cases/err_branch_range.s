# Branch targets: 12 bits x 4 reach -8192..+8188 bytes; targets must be code here.
start:  beq r0, r0, far         # error: branch target out of range: offset 8192 bytes
        .space 8188
far:    beq r0, r0, start       # fine: exactly -8192
        bne r0, r0, start       # error: offset -8196 bytes, boff reaches -8192..8188
        loop r1, table          # error: 'table' is a data address
.pe 0,0
        j start                 # error: 'start' is in the .text of .pe all
.data
table:  .word 0
.text
.pe 1,1
        beq r0, r0, 1f          # error: '1f' is in the .text of .pe all
.pe all
1:      nop
