"""Exact, monotonic progress for one object, rate-limited for git-lfs, trailing edge flushed.

Rules (issue 3, issue 10, docs/agent.md): the first event with ``bytesSoFar > 0``
goes out at once (git-lfs keeps its other workers idle until worker 1 reports
bytes), then at most one event per ``interval``; a count held back by the rate
limit is sent when the interval has passed, so the last count is always
reported even when nothing else happens for a while (a part being retried); one
:class:`Ticker` thread per process runs those flushes. Bytes re-sent by a retry
are never counted twice (each slice reports its position and only new
high-water marks count); ``bytesSoFar`` never exceeds the size and the last
event equals it. Separately, :attr:`Progress.sent` counts every byte handed to
the network, retries included (for the push view).
"""

from __future__ import annotations

import threading
import time
from typing import Callable, Hashable

Emit = Callable[[int, int], None]  # (bytes_so_far, bytes_since_last)
Cancel = Callable[[], None]
Schedule = Callable[[float, Callable[[], None]], Cancel]


class Ticker:
    """One daemon thread running delayed calls (trailing-edge flushes) for every object of the process.

    A thread per flush (``threading.Timer``) would start several threads a second
    during an upload; this one thread is started at the first call and then sleeps.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._calls: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = 0
        self._thread: threading.Thread | None = None

    def schedule(self, delay: float, fn: Callable[[], None]) -> Cancel:
        with self._cond:
            self._seq += 1
            entry = (time.monotonic() + max(delay, 0.0), self._seq, fn)
            self._calls.append(entry)
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="git-hf-progress", daemon=True)
                self._thread.start()
            self._cond.notify()

        def cancel() -> None:
            with self._cond:
                if entry in self._calls:
                    self._calls.remove(entry)
        return cancel

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._calls:
                    self._cond.wait()
                entry = min(self._calls)
                wait = entry[0] - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                self._calls.remove(entry)
            entry[2]()


_TICKER = Ticker()


class Progress:
    """Counts bytes handed to the network per slice key and emits rate-limited events."""

    def __init__(self, size: int, emit: Emit, *, interval: float = 0.25,
                 clock: Callable[[], float] = time.monotonic, schedule: Schedule | None = None) -> None:
        self.size = size
        self._emit = emit
        self._interval = interval
        self._clock = clock
        self._schedule = schedule or _TICKER.schedule
        self._lock = threading.Lock()
        self._high: dict[Hashable, int] = {}
        self._counted = 0        # sum of high-water marks (plus resumed bytes)
        self._reported = 0       # last bytesSoFar sent; never decreases
        self._last_emit: float | None = None
        self._pending: Cancel | None = None   # the trailing-edge timer, if one is set
        self._closed = False
        self.sent = 0            # every byte handed to the network, retries included

    def already_done(self, nbytes: int) -> None:
        """Count bytes confirmed by an earlier run (resume) and report them at once."""
        with self._lock:
            self._counted += nbytes
            self._maybe_emit(force=True)

    def attempt(self, key: Hashable) -> Callable[[int], None]:
        """The position callback for one attempt of slice ``key`` (counts :attr:`sent`, then advances)."""
        last = [0]

        def on_position(position: int) -> None:
            with self._lock:
                self.sent += max(position - last[0], 0)
            last[0] = position
            self.advance(key, position)
        return on_position

    def advance(self, key: Hashable, position: int) -> None:
        """Slice ``key`` has now sent ``position`` bytes in its current attempt."""
        with self._lock:
            high = self._high.get(key, 0)
            if position <= high:
                return
            self._high[key] = position
            self._counted += position - high
            self._maybe_emit(force=False)

    @property
    def counted(self) -> int:
        """Bytes of the object sent at least once (or confirmed earlier), at most the size.

        Lock-free (one int read) so it may be read from inside an ``emit`` callback.
        """
        return min(self._counted, self.size)

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
            self._close()

    def close(self) -> None:
        """Flush what is held back and stop (before the object's ``complete`` goes out)."""
        with self._lock:
            self._maybe_emit(force=True)
            self._close()

    @property
    def reported(self) -> int:
        return self._reported

    def _close(self) -> None:
        self._closed = True
        if self._pending is not None:
            self._pending()
            self._pending = None

    def _flush_trailing(self) -> None:
        with self._lock:
            self._pending = None
            if not self._closed:
                self._maybe_emit(force=True)

    def _maybe_emit(self, force: bool) -> None:
        if self._closed:
            return
        value = min(self._counted, self.size)
        if value <= self._reported and not (force and self._last_emit is None):
            return
        now = self._clock()
        first = self._reported == 0 and value > 0
        if not (force or first or self._last_emit is None or now - self._last_emit >= self._interval):
            if self._pending is None:   # held back: make sure it goes out when the interval has passed
                self._pending = self._schedule(self._interval - (now - self._last_emit), self._flush_trailing)
            return
        since = max(value - self._reported, 0)
        self._reported = max(value, self._reported)
        self._last_emit = now
        self._emit(self._reported, since)
