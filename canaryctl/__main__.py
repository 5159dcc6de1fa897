"""Entry point of `python -m canaryctl`."""

import sys

from canaryctl.cli import main

sys.exit(main())
