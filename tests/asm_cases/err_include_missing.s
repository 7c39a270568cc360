# Missing include files, and a malformed .include.
.include "inc/no_such_file.s"   # error: cannot find include file 'inc/no_such_file.s'
.include inc/consts.s           # error: .include takes a file name in double quotes
        nop
