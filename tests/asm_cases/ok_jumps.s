# Jumps and the zero-overhead loop.
start:  j end                   # = 0xc0000004
        jal r15, sub            # = 0xc4f00002
        jr r15                  # = 0xc80f0000
sub:    loop r3, end            # = 0xcc030001
end:    j start                 # = 0xc3fffffc
        jal r1, start           # = 0xc41ffffb
