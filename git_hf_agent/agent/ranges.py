"""Ranged downloads, the pure and on-disk parts: range plan, resume journal, in-order hashing.

- :func:`plan` cuts an object into fixed-size byte ranges (the last one shorter).
- :class:`RangeJournal` sits beside the temp file (``<oid>.download`` and
  ``<oid>.download.journal`` under ``<lfs dir>/git-hf-agent/downloads/``, see
  :mod:`state`; the journal is private, mode 0600): a header line
  (oid, size, range size) then one line per range fully written. Each line is one
  ``write`` on an O_APPEND descriptor, so a kill -9 loses at most the ranges in
  flight; a torn line is ignored on reading. Data is not fsync'd per range: the
  sha256 checked before ``complete`` catches any range a power cut lost (the
  object is then fetched again from zero), so the journal only ever saves work.
- :class:`InOrderHasher` hashes the file's finished prefix in a background thread
  while later ranges are still arriving, reading blocks back from the page cache
  (ranges finish out of order, so the bytes cannot be hashed as they arrive
  without holding them in memory; single-stream downloads hash the stream itself).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Callable, NamedTuple

from git_hf_agent.agent.journal import read_records

BLOCK = 1 << 20


class Span(NamedTuple):
    """Byte range ``[start, start + length)`` of the object; ``index`` counts from 0."""

    index: int
    start: int
    length: int

    @property
    def end(self) -> int:
        return self.start + self.length

    def header(self, done: int = 0) -> str:
        """The ``Range`` header for the part of this span not yet written."""
        return f"bytes={self.start + done}-{self.end - 1}"


def plan(size: int, range_size: int) -> list[Span]:
    """Ranges of ``range_size`` covering ``size`` bytes (none for an empty object)."""
    if range_size <= 0:
        raise ValueError("range size must be positive")
    return [Span(i, start, min(range_size, size - start)) for i, start in enumerate(range(0, size, range_size))]


def temp_paths(directory: Path, oid: str) -> tuple[Path, Path]:
    """The temp file and its journal for ``oid`` in ``directory``."""
    data = directory / f"{oid}.download"
    return data, directory / f"{oid}.download.journal"


class RangeJournal:
    """Which ranges of the temp file are fully written; appends survive kill -9."""

    def __init__(self, path: Path, oid: str, size: int, range_size: int) -> None:
        self.path = path
        self.header = {"oid": oid, "size": size, "range_size": range_size}
        self.done: set[int] = set()
        self._fd: int | None = None
        self._lock = threading.Lock()

    @classmethod
    def load(cls, path: Path, oid: str, size: int, range_size: int, nranges: int) -> "RangeJournal":
        """The journal at ``path`` when it describes this object, else an empty one."""
        journal = cls(path, oid, size, range_size)
        records = read_records(path)   # a torn last line (kill -9 mid-write) is skipped
        if records and records[0] == journal.header:
            for rec in records[1:]:
                index = rec.get("range") if isinstance(rec, dict) else None
                if isinstance(index, int) and not isinstance(index, bool) and 0 <= index < nranges:
                    journal.done.add(index)
        return journal

    def start(self) -> None:
        """Write the header afresh (no range recorded yet) or keep appending to a loaded journal."""
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | (0 if self.done else os.O_TRUNC)
            self._fd = os.open(self.path, flags, 0o600)
            if not self.done:
                os.write(self._fd, (json.dumps(self.header) + "\n").encode())

    def record(self, index: int) -> None:
        """Range ``index`` is fully written to the temp file."""
        with self._lock:
            if self._fd is not None:
                os.write(self._fd, (json.dumps({"range": index}) + "\n").encode())
            self.done.add(index)

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def remove(self) -> None:
        """Close and delete the journal file (gone already is fine)."""
        self.close()
        self.path.unlink(missing_ok=True)


class InOrderHasher:
    """sha256 of the temp file, fed range by range in file order as ranges finish.

    :meth:`finished` marks a range written; a daemon thread hashes every finished
    range at the front of the file, so when the last range lands only the tail
    remains to hash. :meth:`hexdigest` waits for the whole file.
    """

    def __init__(self, fd: int, spans: list[Span], after: Callable[[Span], None] | None = None) -> None:
        self._fd = fd
        self._spans = spans
        self._after = after                 # told of each range once it is hashed (in file order)
        self._finished = [False] * len(spans)
        self._next = 0                      # index of the first range not hashed yet
        self._sha = hashlib.sha256()
        self._cond = threading.Condition()
        self._stopped = False
        self._error: OSError | None = None
        self._thread = threading.Thread(target=self._run, name="git-hf-hash", daemon=True)
        self._thread.start()

    def finished(self, index: int) -> None:
        with self._cond:
            self._finished[index] = True
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopped and not (self._next < len(self._spans) and self._finished[self._next]):
                    if self._next >= len(self._spans):
                        self._cond.notify_all()
                    self._cond.wait()
                if self._stopped:
                    return
                span = self._spans[self._next]
            try:
                self._hash_span(span)
                if self._after is not None:
                    self._after(span)
            except OSError as exc:
                with self._cond:
                    self._error, self._stopped = exc, True
                    self._cond.notify_all()
                return
            with self._cond:
                self._next += 1
                self._cond.notify_all()

    def _hash_span(self, span: Span) -> None:
        pos = span.start
        while pos < span.end:
            block = os.pread(self._fd, min(BLOCK, span.end - pos), pos)
            if not block:
                raise OSError(f"temp file ended at byte {pos}")
            self._sha.update(block)
            pos += len(block)

    def hexdigest(self) -> str:
        """Wait until every range is hashed; the file's sha256 (OSError if it could not be read)."""
        with self._cond:
            while self._next < len(self._spans) and not self._stopped:
                self._cond.wait()
            if self._error is not None:
                raise self._error
            return self._sha.hexdigest()

    def stop(self) -> None:
        """Stop hashing and wait for the thread: once this returns nothing reads the temp file or writes
        the mirror any more (their fds may be closed and their numbers reused by another object's files)."""
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        if self._thread is not threading.current_thread():
            self._thread.join()


class Mirror:
    """A second copy of an object's temp file, filled by the kernel range by range once each is hashed.

    ``git hf clone`` gives one to a big object's download so the work tree's copy
    is made while later ranges still arrive, instead of after the whole object.
    Ranges come in file order (:class:`InOrderHasher`); whenever the download
    starts its temp file over (a sha256 mismatch, a server that ignores
    ``Range``) it calls :meth:`reset`, and only ranges copied since count, so a
    copy of bytes that failed their check is never taken for a whole one. A copy
    error is kept, never raised into the download. The file is whole only when
    :meth:`complete` says so, and holds verified bytes only once the download
    itself succeeded.
    """

    def __init__(self, path: Path, size: int) -> None:
        self.path, self.size = path, size
        self.covered = 0
        self.error: OSError | None = None
        self._fd: int | None = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)

    def reset(self) -> None:
        """The download starts over: nothing copied so far counts."""
        self.covered, self.error = 0, None

    def copy(self, source_fd: int, span: Span) -> None:
        if self.error is not None or self._fd is None or span.start != self.covered:
            return
        try:
            copy_range(source_fd, self._fd, span.start, span.length)
            self.covered = span.end
        except OSError as exc:
            self.error = exc

    def complete(self) -> bool:
        return self.error is None and self.covered == self.size

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def copy_range(source_fd: int, target_fd: int, start: int, length: int) -> None:
    """Copy bytes ``start``..``start + length`` of one file to the same offsets of another, in the kernel
    (``copy_file_range``: nothing passes through this process); OSError when it cannot."""
    done = 0
    while done < length:
        n = os.copy_file_range(source_fd, target_fd, length - done, start + done, start + done)
        if n == 0:
            raise OSError(f"the source file ended at byte {start + done}")
        done += n
