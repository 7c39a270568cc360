# A selection whose image a later one replaces on every PE is never loaded: warning.
.pe 0,0
        halt            # warning: never loaded
.pe all
        nop
# images: 0,0 | all
