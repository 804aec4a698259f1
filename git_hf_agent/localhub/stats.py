"""Counters served at ``GET /_local/stats`` (shape fixed by the team contracts).

Tests and benchmarks read them to assert what was re-sent, what was injected and
whether a token leaked to a presigned URL. One lock; increments are cheap.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from contextlib import contextmanager
from typing import Iterator

KINDS = ("batch", "part", "basic", "download", "complete", "verify", "git", "api")
AUTH_KINDS = ("part", "basic", "complete", "download")


class Stats:
    """Thread-safe counters; :meth:`snapshot` returns the JSON document."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: dict[str, int] = dict.fromkeys(KINDS, 0)
        self.bytes_received: dict[str, int] = dict.fromkeys(KINDS, 0)
        self.part_puts = 0
        self.parts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.part_bytes: dict[str, int] = defaultdict(int)
        self.faults_injected: dict[str, int] = defaultdict(int)
        self.auth_headers_seen: dict[str, int] = dict.fromkeys(AUTH_KINDS, 0)
        self.uploads_started = 0
        self.completions = 0
        self.objects_stored = 0
        self.downloads_at_once = 0   # the most download bodies ever sent side by side (connections in use)
        self._sending = 0

    def request(self, kind: str, has_auth: bool) -> None:
        with self._lock:
            self.requests[kind] = self.requests.get(kind, 0) + 1
            if has_auth and kind in self.auth_headers_seen:
                self.auth_headers_seen[kind] += 1

    def received(self, kind: str, n: int) -> None:
        with self._lock:
            self.bytes_received[kind] = self.bytes_received.get(kind, 0) + n

    def part_stored(self, oid: str, number: int, size: int) -> None:
        with self._lock:
            self.part_puts += 1
            self.parts[oid][str(number)] += 1
            self.part_bytes[oid] += size

    def fault(self, name: str) -> None:
        with self._lock:
            self.faults_injected[name] += 1

    def bump(self, counter: str) -> None:
        """Increment ``uploads_started``, ``completions`` or ``objects_stored``."""
        with self._lock:
            setattr(self, counter, getattr(self, counter) + 1)

    @contextmanager
    def sending(self) -> Iterator[None]:
        """One download body on its way; counted in ``downloads_at_once``."""
        with self._lock:
            self._sending += 1
            self.downloads_at_once = max(self.downloads_at_once, self._sending)
        try:
            yield
        finally:
            with self._lock:
                self._sending -= 1

    def snapshot(self) -> dict:
        with self._lock:
            return {
                "requests": dict(self.requests),
                "bytes_received": dict(self.bytes_received),
                "part_puts": self.part_puts,
                "parts": {oid: dict(p) for oid, p in self.parts.items()},
                "part_bytes": dict(self.part_bytes),
                "faults_injected": dict(self.faults_injected),
                "uploads_started": self.uploads_started,
                "completions": self.completions,
                "objects_stored": self.objects_stored,
                "downloads_at_once": self.downloads_at_once,
                "auth_headers_seen": dict(self.auth_headers_seen),
            }
