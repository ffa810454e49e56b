"""`python -m loadhopper ...` runs the `loadhopper` command."""

import sys

from loadhopper.cli import main

sys.exit(main())
