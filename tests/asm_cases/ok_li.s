# li: addi when the value is known in pass 1 and fits 16 bits signed, lui alone when
# the low 12 bits are 0, else lui + ori; labels and forward references always take two.
.equ SMALL, -5
        li r1, 5                # = 0x20100005
        li r1, -32768           # = 0x20108000
        li r1, SMALL            # = 0x2010fffb
        li r1, 0x12345000       # = 0x30112345
        li r1, 0x12345678       # = 0x30112345, 0x28110678
        li r1, 0xffffffff       # = 0x301fffff, 0x28110fff
        li r1, -70000           # = 0x301fffee, 0x28110e90
        li r2, 40000            # = 0x30200009, 0x28220c40
        li r3, FWD              # = 0x30300000, 0x28330003
        li r3, lab              # = 0x30300000, 0x28330040
lab:    li r4, 0x80000000       # = 0x30480000
.equ FWD, 3
