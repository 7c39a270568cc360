# .pe selections: each is its own image from address 0; going back continues its counter.
# images: all | 0,0 | 0:1,2:3
        nop                     # = 0xf0000000
.pe 0,0
a:      halt                    # = 0xf0000001
.pe 0:1, 2:3
b:      sync                    # = 0xf0000002
.pe all
c:      j c                     # = 0xc0000000
.pe 0,0
d:      j a                     # = 0xc3ffffff
# sym a = 0
# sym b = 0
# sym c = 4
# sym d = 4
