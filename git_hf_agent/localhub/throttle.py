"""Token buckets for ``--conn-rate`` and ``--total-rate``: model a WAN link on loopback.

A bucket starts empty and holds at most 1/10 s of tokens (a WAN link has no
free first second); ``take(n)`` sleeps until ``n`` bytes are allowed. The server calls it around body reads (and download writes)
in small blocks, so throttled streams stay smooth rather than bursty.
"""

from __future__ import annotations

import threading
import time


class TokenBucket:
    """Rate limiter in bytes per second; rate 0 means unlimited. Thread-safe."""

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self._tokens = 0.0
        self._cap = rate / 10
        self._stamp = time.monotonic()
        self._lock = threading.Lock()

    def take(self, n: int) -> None:
        """Block until ``n`` bytes may pass."""
        if self.rate <= 0 or n <= 0:
            return
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self._cap, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            self._tokens -= n
            wait = -self._tokens / self.rate if self._tokens < 0 else 0.0
        if wait > 0:
            time.sleep(wait)


def block_size(default: int, *buckets: TokenBucket) -> int:
    """Read/write block size: ``default``, shrunk to ~1/20 s of the slowest active rate."""
    rates = [b.rate for b in buckets if b.rate > 0]
    if not rates:
        return default
    return max(4096, min(default, min(rates) // 20))
