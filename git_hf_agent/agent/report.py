"""Structured events about one object, for the JSON log and the ``git hf push`` view.

The schema is documented in docs/agent.md ("Events"): every event of an object
carries ``oid`` and ``size``; the view builds its per-object lines (parts done /
in flight, MB/s, ETA) from ``object_start``, ``progress`` and ``part_done``, and
prints a line for each ``retry``, ``url_refresh`` and ``restart``. ``progress``
is rate-limited here (``interval``; a part's completion always reports), the
other events are written as they happen. Nothing here touches stdout.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

from git_hf_agent.agent.log import Log

PROGRESS_INTERVAL = 1.0
VERBOSE_PROGRESS_INTERVAL = 0.25


class Report:
    """Counts parts done and in flight for one object and writes its events to ``log``."""

    def __init__(self, log: Log, oid: str, size: int, bytes_done: Callable[[], int], *,
                 interval: float | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.log = log
        self.oid = oid
        self.size = size
        self._bytes_done = bytes_done
        self._interval = interval if interval is not None else (
            VERBOSE_PROGRESS_INTERVAL if log.verbose else PROGRESS_INTERVAL)
        self._clock = clock
        self._lock = threading.Lock()
        self._last: float | None = None
        self.parts: int = 1
        self.parts_done = 0
        self.in_flight = 0

    def event(self, event: str, **fields: Any) -> None:
        self.log.event(event, oid=self.oid, size=self.size, **fields)

    def start(self, *, transfer: str, parts: int, chunk_size: int, parallel: int, parts_done: int,
              bytes_done: int, resumed: str) -> None:
        with self._lock:
            self.parts, self.parts_done, self.in_flight = parts, parts_done, 0
        self.event("object_start", transfer=transfer, parts=parts, chunk_size=chunk_size, parallel=parallel,
                   parts_done=parts_done, bytes_done=bytes_done, resumed=resumed)

    def _counts(self) -> dict[str, int]:
        return {"bytes_done": self._bytes_done(), "parts": self.parts, "parts_done": self.parts_done,
                "parts_in_flight": self.in_flight}

    def part_started(self) -> None:
        with self._lock:
            self.in_flight += 1

    def part_ended(self, number: int | None, done: bool) -> None:
        """A part left the wire: stored (``done``, its ETag journaled) or abandoned."""
        with self._lock:   # written under the lock: parts_done rises line by line in the log
            self.in_flight = max(self.in_flight - 1, 0)
            if done:
                self.parts_done += 1
                self._last = self._clock()
                self.event("part_done", part=number, **self._counts())

    def forget(self, parts: int) -> None:
        """``parts`` counted as done must be sent again (the server lost them)."""
        with self._lock:
            self.parts_done = max(self.parts_done - parts, 0)

    def bytes(self) -> None:
        """Bytes moved: a ``progress`` event unless one went out less than ``interval`` ago."""
        now = self._clock()
        with self._lock:
            if self._last is not None and now - self._last < self._interval:
                return
            self._last = now
            self.event("progress", **self._counts())

    def retry(self, *, what: str, part: int | None, status: int | None, error: str | None,
              attempt: int, max_attempts: int, delay: float) -> str:
        """Log a retry; returns the one-line text (``part 17/96: HTTP 503, retry 2/8 in 4.0 s``)."""
        where = f"part {part}/{self.parts}" if part is not None else what
        cause = f"HTTP {status}" if status is not None else (error or "network error").split(":", 1)[0]
        line = f"{where}: {cause}, retry {attempt}/{max_attempts} in {delay:.1f} s"
        self.event("retry", what=what, part=part, parts=self.parts if part is not None else None, status=status,
                   error=error, attempt=attempt, max_attempts=max_attempts, delay_s=round(delay, 3), line=line)
        return line

    def restart(self, reason: str, parts_resent: int, bytes_resent: int) -> None:
        with self._lock:
            self.parts_done, self.in_flight = 0, 0
        self.event("restart", reason=reason, parts_resent=parts_resent, bytes_resent=bytes_resent)
