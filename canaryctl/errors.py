"""The one-line errors canaryctl reports and the exit codes every command shares."""

from __future__ import annotations

# `wait` is built for CI: 0 promoted, 1 rolled back, 2 timed out. Every command uses 3 when it
# could not do what was asked (bad usage or config, no cluster access, a refused request), so a
# typo or an expired login is never mistaken for a rollback or a slow release.
OK = 0
ROLLED_BACK = 1
TIMED_OUT = 2
FAILED = 3
INTERRUPTED = 130  # 128 + SIGINT, as shells report it
BROKEN_PIPE = 141  # 128 + SIGPIPE


class CanaryctlError(Exception):
    """A failure the user can act on; the message says what happened and what to do."""

    exit_code = FAILED


class Unavailable(CanaryctlError):
    """The API server could not be reached or was overloaded: worth trying again later."""


class Forbidden(CanaryctlError):
    """RBAC refused the request (403)."""
