"""`python -m canaryctl`: the same entry point as the console script `canaryctl` (pyproject.toml)."""

import sys

from canaryctl.cli import main

sys.exit(main())
