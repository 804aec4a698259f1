"""Exact, monotonic progress for one object, rate-limited for git-lfs.

Rules (issue 3, HUB-PROTOCOL.md): the first event with ``bytesSoFar > 0`` goes out
at once (git-lfs keeps its other workers idle until worker 1 reports bytes), then
at most one event per ``interval``; bytes re-sent by a retry are never counted
twice (each slice reports its position and only new high-water marks count);
``bytesSoFar`` never exceeds the size and the last event equals it.
"""

from __future__ import annotations

import threading
import time
from typing import Callable, Hashable

Emit = Callable[[int, int], None]  # (bytes_so_far, bytes_since_last)


class Progress:
    """Counts bytes handed to the network per slice key and emits rate-limited events."""

    def __init__(self, size: int, emit: Emit, *, interval: float = 0.25,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.size = size
        self._emit = emit
        self._interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        self._high: dict[Hashable, int] = {}
        self._counted = 0        # sum of high-water marks (plus resumed bytes)
        self._reported = 0       # last bytesSoFar sent; never decreases
        self._last_emit: float | None = None

    def already_done(self, nbytes: int) -> None:
        """Count bytes confirmed by an earlier run (resume) and report them at once."""
        with self._lock:
            self._counted += nbytes
            self._maybe_emit(force=True)

    def advance(self, key: Hashable, position: int) -> None:
        """Slice ``key`` has now sent ``position`` bytes in its current attempt."""
        with self._lock:
            high = self._high.get(key, 0)
            if position <= high:
                return
            self._high[key] = position
            self._counted += position - high
            self._maybe_emit(force=False)

    def restart(self) -> None:
        """The upload starts over with new slices: count afresh, but never report less."""
        with self._lock:
            self._high.clear()
            self._counted = 0

    def finish(self) -> None:
        """Report the full size (the object is stored); the last event equals the size."""
        with self._lock:
            self._counted = self.size
            if self._reported < self.size or self._last_emit is None:
                self._maybe_emit(force=True)

    @property
    def reported(self) -> int:
        return self._reported

    def _maybe_emit(self, force: bool) -> None:
        value = min(self._counted, self.size)
        if value <= self._reported and not (force and self._last_emit is None):
            return
        now = self._clock()
        first = self._reported == 0 and value > 0
        if not (force or first or self._last_emit is None or now - self._last_emit >= self._interval):
            return
        since = max(value - self._reported, 0)
        self._reported = max(value, self._reported)
        self._last_emit = now
        self._emit(self._reported, since)
