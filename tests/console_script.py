"""The canaryctl command as users run it: the console script `make install` puts in venv/bin."""

from __future__ import annotations

import sys
from pathlib import Path

# Beside the interpreter running the tests: venv/bin/canaryctl for venv/bin/python.
CANARYCTL = Path(sys.executable).with_name("canaryctl")


def canaryctl(*args: str) -> list[str]:
    """The command line that runs `canaryctl ARGS` through the installed console script."""
    assert CANARYCTL.is_file(), (
        f"{CANARYCTL} is missing: `make install` installs it (pyproject.toml [project.scripts])"
    )
    return [str(CANARYCTL), *args]
