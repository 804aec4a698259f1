"""Progress on stderr that suits where it goes: a block redrawn in place on a terminal, plain lines otherwise.

Used by ``git hf push`` (the upload view) and ``git hf commit`` (git-lfs hashing
and copying big files). Two kinds of output:

- :meth:`Live.log`: a line printed once and kept (a retry, a finished file);
- :meth:`Live.update`: the current status block. On a terminal it replaces the
  previous block (ANSI: cursor up, clear to end of screen), at most 5 times a
  second; elsewhere (CI logs, pipes) the block is printed as plain lines at most
  every ``interval`` seconds, so a log gets a heartbeat without a flood.

Thread-safe: the git output reader and the event reader both write here.
"""

from __future__ import annotations

import shutil
import sys
import threading
import time
from typing import Callable, TextIO

TTY_INTERVAL = 0.2
PLAIN_INTERVAL = 5.0


class Live:
    """A stderr sink that keeps one status block below the permanent lines."""

    def __init__(self, stream: TextIO | None = None, tty: bool | None = None, interval: float = PLAIN_INTERVAL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.interval = TTY_INTERVAL if self.tty else interval
        self.clock = clock
        self._shown = 0          # lines of the block currently on screen (terminal only)
        self._block: list[str] = []
        self._last = float("-inf")
        self._printed: list[str] = []
        self._closed = False
        self._lock = threading.Lock()

    def log(self, line: str) -> None:
        """Print ``line`` once, above the block."""
        with self._lock:
            self._erase()
            self._write(line + "\n")
            self._draw()

    def update(self, lines: list[str], force: bool = False) -> None:
        """Make ``lines`` the status block; shown now if the interval has passed (or ``force``). Nothing
        once closed: a worker thread still winding down after Ctrl-C must not draw below the last words."""
        with self._lock:
            if self._closed:
                return
            self._block = list(lines)
            now = self.clock()
            if not force and now - self._last < self.interval:
                return
            self._last = now
            if self.tty:
                self._erase()
                self._draw()
            elif self._block and self._block != self._printed:
                self._write("".join(f"{line}\n" for line in self._block))
                self._printed = list(self._block)

    def close(self) -> None:
        """Remove the block from a terminal (its final state was logged by the caller)."""
        with self._lock:
            self._erase()
            self._block = []
            self._closed = True

    # -- terminal ------------------------------------------------------------------------
    def _erase(self) -> None:
        if self.tty and self._shown:
            self._write(f"\x1b[{self._shown}F\x1b[J")
            self._shown = 0

    def _draw(self) -> None:
        if self.tty and self._block:
            width = max(20, shutil.get_terminal_size().columns - 1)  # a wrapped line would break the redraw
            self._write("".join(f"{line[:width]}\n" for line in self._block))
            self._shown = len(self._block)

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):
            pass
