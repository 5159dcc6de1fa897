"""Progress output of `wait`: one line redrawn in place on a terminal, plain lines in a CI log."""

from __future__ import annotations

import shutil
import time
from typing import TextIO

from canaryctl.kube import Event
from canaryctl.timefmt import clock

# In a CI log an unchanged state is repeated this often, so the job visibly is alive.
HEARTBEAT_SECONDS = 60
BAR_CELLS = 20


class Display:
    """Progress for a person at a terminal (one line redrawn in place) or a CI log (plain lines)."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        # Carriage-return animation only for a person watching; CI logs keep every byte.
        self.live = _is_terminal(out)
        self._status = ""
        self._last_key: object = None
        self._last_print = 0.0
        self._began = time.monotonic()

    def line(self, text: str) -> None:
        """A line that stays: an event, a hint, the verdict."""
        if self.live:
            self.out.write(f"\r\x1b[K{text}\n{self._status}")
        else:
            self.out.write(f"{text}\n")
        self.out.flush()

    def event(self, event: Event) -> None:
        repeated = f" (x{event.count})" if event.count > 1 else ""
        self.line(f"  event  {event.type:<7}  {event.message}{repeated}")

    def progress(self, text: str, key: object) -> None:
        """The current state: redrawn on a terminal, else printed when it changes."""
        stamp = f"[{clock(time.monotonic() - self._began):>5}] {text}"
        if self.live:
            width = shutil.get_terminal_size().columns - 1
            self._status = stamp[:width]
            self.out.write(f"\r\x1b[K{self._status}")
        elif key != self._last_key or time.monotonic() - self._last_print >= HEARTBEAT_SECONDS:
            self.out.write(f"{stamp}\n")
            self._last_key, self._last_print = key, time.monotonic()
        self.out.flush()

    def finish(self, text: str) -> None:
        if self.live and self._status:
            self.out.write("\n")
            self._status = ""
        self.line(text)


def progress_bar(done: int, total: int) -> str:
    """[###..]: one cell per analysis step, at most BAR_CELLS."""
    cells = min(total, BAR_CELLS) or 1
    filled = round(cells * done / total) if total else 0
    return "[" + "#" * filled + "." * (cells - filled) + "]"


def _is_terminal(out: TextIO) -> bool:
    isatty = getattr(out, "isatty", None)
    return bool(isatty and isatty())
