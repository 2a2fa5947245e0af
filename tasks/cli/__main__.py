"""`python -m tasks.cli` runs the `crawler` command."""

import sys

from tasks.cli.main import main

sys.exit(main())
