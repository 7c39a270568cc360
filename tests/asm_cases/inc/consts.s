# Constants shared by the include cases.
.equ WIDTH, 16
.equ HEIGHT, WIDTH / 2
