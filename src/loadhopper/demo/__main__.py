"""`python -m loadhopper.demo [--host H] [--port P] [--db PATH]`: the same as `loadhopper cats`."""

import sys

from loadhopper.demo import cats_main

raise SystemExit(cats_main(sys.argv[1:]))
