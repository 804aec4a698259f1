"""The agent's two outputs besides the protocol: human lines on stderr, JSON lines in a file.

stdout belongs to the protocol, so nothing here ever writes to it. git-lfs shows
the agent's stderr as ``xfer[git-hf-agent]:`` lines under ``GIT_TRACE=1``. The file
log (``--log``, default ``<git dir>/lfs/logs/git-hf-agent.jsonl``) gets one JSON
object per event (schema in docs/agent.md, "Events"); past 32 MiB it is moved to
``<log>.1`` when a process opens it, so it never grows without bound. When an
events file is given (``GIT_HF_AGENT_EVENTS``, set by ``git hf push``), every
event line is also appended there with one ``os.write`` on an ``O_APPEND``
descriptor, so lines of the several agent processes of one push never
interleave. Every string goes through :mod:`git_hf_agent.redact`, and known
secrets (the Hub token) are masked wherever they appear.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from datetime import datetime, timezone
from typing import Any, TextIO

from git_hf_agent.redact import redact_text

PREFIX = "git-hf-agent: "   # every stderr line starts with it, exactly once


class Log:
    """Thread-safe sink for stderr lines and JSON events; the file is opened on first use."""

    def __init__(self, path: str | None, *, verbose: bool = False, stderr: TextIO | None = None,
                 events: str | None = None) -> None:
        self.path = path
        self.verbose = verbose
        self.events_path = events
        self._stderr = stderr if stderr is not None else sys.stderr
        self._file: TextIO | None = None
        self._failed = False
        self._events_fd: int | None = None
        self._events_failed = False
        self._lock = threading.Lock()
        self._secrets: list[str] = []
        self._pid = os.getpid()

    def add_secret(self, secret: str | None) -> None:
        """Mask ``secret`` (e.g. a token read from a credential helper) in everything written."""
        if secret and secret not in self._secrets:
            self._secrets.append(secret)

    def clean(self, text: str) -> str:
        """``text`` with URLs' signatures, tokens and known secrets redacted."""
        return redact_text(text, *self._secrets)

    def say(self, message: str) -> None:
        """One human line on stderr (shown by git-lfs under GIT_TRACE=1)."""
        text = self.clean(message)
        line = (text if text.startswith(PREFIX) else PREFIX + text) + "\n"
        with self._lock:
            try:
                self._stderr.write(line)
                self._stderr.flush()
            except (OSError, ValueError):
                pass

    def event(self, event: str, **fields: Any) -> None:
        """Append one JSON object ``{"ts", "pid", "event", **fields}`` to the log file and the events file."""
        record = {"ts": datetime.now(timezone.utc).isoformat(timespec="milliseconds"), "pid": self._pid,
                  "event": event}
        record.update(fields)
        line = self.clean(json.dumps(record, default=str, separators=(",", ":"))) + "\n"
        with self._lock:
            self._to_events(line)
            sink = self._open()
            if sink is None:
                return
            try:
                sink.write(line)
                sink.flush()
            except OSError:
                self._failed = True

    def _to_events(self, line: str) -> None:
        """One ``os.write`` per line on an O_APPEND descriptor: whole lines, whatever other processes do."""
        if self.events_path is None or self._events_failed:
            return
        try:
            if self._events_fd is None:
                self._events_fd = os.open(self.events_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            os.write(self._events_fd, line.encode("utf-8"))
        except OSError as exc:
            self._events_failed = True
            self._stderr.write(f"{PREFIX}cannot write events to {self.events_path}: {exc}; continuing without them\n")

    def _open(self) -> TextIO | None:
        if self._file is not None or self._failed or not self.path:
            return self._file
        try:
            os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
            _rotate(self.path)
            self._file = open(self.path, "a", encoding="utf-8")
        except OSError as exc:
            self._failed = True
            self._stderr.write(f"{PREFIX}cannot write log {self.path}: {exc}; continuing without it\n")
        return self._file

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None
            if self._events_fd is not None:
                os.close(self._events_fd)
                self._events_fd = None


ROTATE_BYTES = 32 << 20


def _rotate(path: str) -> None:
    """Keep the log bounded: past 32 MiB the file becomes ``<path>.1`` (replacing the older one)."""
    try:
        if os.path.getsize(path) > ROTATE_BYTES:
            os.replace(path, path + ".1")
    except OSError:
        pass


def elapsed_ms(start: float) -> int:
    """Milliseconds since ``start`` (a ``time.monotonic()`` value)."""
    return int((time.monotonic() - start) * 1000)
