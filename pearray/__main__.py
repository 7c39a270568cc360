"""`python -m pearray` is the `pearray` command."""

import sys

from pearray.cli import main

sys.exit(main())
