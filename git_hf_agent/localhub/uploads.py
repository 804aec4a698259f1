"""Multipart uploads in progress: one sparse data file per object, parts written in place.

Layout under ``ROOT/lfs/incomplete/{oid}/``:
- ``upload.json``: oid, size, chunk size, upload id;
- ``data``: the object being built (sparse, ``size`` bytes); part n lands at ``(n-1) * chunk_size``;
- ``{n:05d}.etag``: MD5 of the last PUT of part n received completely (S3: the latest PUT wins).

Every byte reaches the disk once and completion copies nothing: it checks the
ETags, finishes the sha256 of ``data`` (a low-priority thread hashes parts in
order as they arrive, so usually little is left) and renames it into the object
store. A PUT cut off midway leaves its region partly rewritten: with the same
bytes (a retry) nothing changes; any other mix fails the sha256 check, and the
upload is then discarded so the next batch starts afresh. Once completion has
begun, late part writes are refused, so a published object never changes.
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import shutil
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from git_hf_agent.localhub.errors import StorageError, check_oid

BLOCK = 8 * 1024 * 1024


@dataclass
class Upload:
    """A multipart upload in progress (persisted in ``upload.json``)."""

    oid: str
    size: int
    chunk_size: int
    upload_id: str

    @property
    def part_count(self) -> int:
        return max(1, -(-self.size // self.chunk_size))

    def part_size(self, number: int) -> int:
        return min(self.chunk_size, self.size - (number - 1) * self.chunk_size)

    def offset(self, number: int) -> int:
        return (number - 1) * self.chunk_size


@dataclass
class _Live:
    """In-memory state of an upload: the write gate and the in-order sha256 progress."""

    gate: threading.Lock = field(default_factory=threading.Lock)
    closed: bool = False  # completion has begun: no more part writes
    digest: "hashlib._Hash" = field(default_factory=hashlib.sha256)
    hashed: list[str] = field(default_factory=list)  # etags of parts 1.. already in ``digest``


class Uploads:
    """Multipart uploads under ``root``; ``lock(oid)`` is the store's per-oid lock."""

    def __init__(self, root: Path, lock: Callable[[str], threading.RLock]) -> None:
        self.root = root
        self._lock = lock
        self._live: dict[str, _Live] = {}
        self._guard = threading.Lock()
        self._queue: queue.Queue = queue.Queue()
        threading.Thread(target=self._prehash_loop, name="localhub-prehash", daemon=True).start()

    def dir(self, oid: str) -> Path:
        return self.root / check_oid(oid)

    def _state(self, oid: str) -> _Live:
        with self._guard:
            return self._live.setdefault(oid, _Live())

    def _forget(self, oid: str) -> None:
        with self._guard:
            self._live.pop(oid, None)

    def get(self, oid: str) -> Upload | None:
        try:
            return Upload(**json.loads((self.dir(oid) / "upload.json").read_text()))
        except (OSError, ValueError, TypeError):
            return None

    def start(self, oid: str, size: int, chunk_size: int) -> tuple[Upload, bool]:
        """The upload for ``oid`` (the one in progress when its size matches); True if new."""
        with self._lock(oid):
            current = self.get(oid)
            if current is not None and current.size == size and (self.dir(oid) / "data").is_file():
                return current, False
            self.discard(oid)
            upload = Upload(oid, size, chunk_size, uuid.uuid4().hex)
            d = self.dir(oid)
            d.mkdir(parents=True, exist_ok=True)
            with open(d / "data", "wb") as fh:
                fh.truncate(size)  # sparse: parts fill it in place
            _write_atomic(d / "upload.json", json.dumps(upload.__dict__).encode())
            return upload, True

    def discard(self, oid: str) -> None:
        """Drop an upload and everything received for it."""
        with self._lock(oid):
            self._forget(oid)
            shutil.rmtree(self.dir(oid), ignore_errors=True)

    def write_part(self, upload: Upload, number: int, length: int, blocks) -> tuple[str, int]:
        """Write part ``number`` in place from byte blocks; returns (md5 hex etag, bytes)."""
        expected = upload.part_size(number)
        if length != expected:
            raise StorageError(400, f"part {number} must be {expected} bytes (chunk_size slices), not {length}")
        state = self._state(upload.oid)
        try:
            fd = os.open(self.dir(upload.oid) / "data", os.O_WRONLY)
        except FileNotFoundError:
            raise StorageError(404, "The specified multipart upload does not exist") from None
        md5, offset, total = hashlib.md5(), upload.offset(number), 0
        try:
            for block in blocks:
                md5.update(block)
                with state.gate:
                    if state.closed:
                        raise StorageError(404, "The multipart upload is being completed; this part was refused")
                    _pwrite_all(fd, block, offset + total)
                total += len(block)
        finally:
            os.close(fd)
        if total != expected:
            raise StorageError(400, f"part {number}: received {total} bytes, expected {expected}")
        etag = md5.hexdigest()
        with self._lock(upload.oid):
            current = self.get(upload.oid)
            if current is None or current.upload_id != upload.upload_id:  # completed or restarted meanwhile
                raise StorageError(404, "The specified multipart upload does not exist")
            _write_atomic(self.dir(upload.oid) / f"{number:05d}.etag", etag.encode())
            if number <= len(state.hashed) and state.hashed[number - 1] != etag:
                state.digest, state.hashed = hashlib.sha256(), []  # hashed bytes were replaced
        self._queue.put(upload)
        return etag, total

    def etag(self, oid: str, number: int) -> str | None:
        try:
            return (self.dir(oid) / f"{number:05d}.etag").read_text()
        except OSError:
            return None

    def complete(self, upload: Upload, parts: list[tuple[int, str]], publish: Callable[[Path, str], bool]) -> bool:
        """Check parts, finish the sha256 and publish the data file; True if the object is new.

        The caller holds the oid lock. 400 with a message on a wrong part list, an ETag
        mismatch or a content that does not hash to the oid (the upload is then discarded).
        """
        numbers = [n for n, _ in parts]
        if numbers != list(range(1, upload.part_count + 1)):
            raise StorageError(400, f"parts must be numbered 1..{upload.part_count} in order, got {_short(numbers)}")
        for number, etag in parts:
            stored = self.etag(upload.oid, number)
            if stored != etag:
                raise StorageError(400, f"ETag mismatch for part {number}: got {etag!r}, stored {stored or 'nothing'}")
        state = self._state(upload.oid)
        with state.gate:
            state.closed = True
        try:
            sha = self._finish_digest(upload, state, [etag for _, etag in parts])
        except BaseException:
            state.closed = False
            raise
        if sha != upload.oid:
            self.discard(upload.oid)
            raise StorageError(400, f"sha256 mismatch: the parts hash to {sha}, not the oid {upload.oid}; "
                                    "the upload was discarded, upload the object again")
        new = publish(self.dir(upload.oid) / "data", upload.oid)
        self.discard(upload.oid)
        return new

    # ---- in-order sha256 --------------------------------------------------------------
    def _finish_digest(self, upload: Upload, state: _Live, etags: list[str]) -> str:
        if state.hashed != etags[: len(state.hashed)]:
            state.digest, state.hashed = hashlib.sha256(), []
        with open(self.dir(upload.oid) / "data", "rb") as fh:
            for number in range(len(state.hashed) + 1, upload.part_count + 1):
                self._hash_part(fh, upload, number, state)
                state.hashed.append(etags[number - 1])
        return state.digest.hexdigest()

    @staticmethod
    def _hash_part(fh, upload: Upload, number: int, state: _Live) -> None:
        fh.seek(upload.offset(number))
        left = upload.part_size(number)
        while left > 0:
            block = fh.read(min(BLOCK, left))
            if not block:
                raise StorageError(400, f"the data of part {number} is shorter than expected")
            state.digest.update(block)
            left -= len(block)

    def _prehash_loop(self) -> None:
        try:  # per-thread nice (Linux): pre-hashing only uses CPU the uploads leave idle
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 15)
        except (AttributeError, OSError):
            pass
        while True:
            upload = self._queue.get()
            try:
                self._prehash(upload)
            except (OSError, StorageError):
                pass  # completion hashes whatever was not pre-hashed

    def _prehash(self, upload: Upload) -> None:
        """Hash every part whose predecessors are all hashed; one part per lock hold."""
        while True:
            with self._lock(upload.oid):
                state = self._live.get(upload.oid)
                if state is None or state.closed or len(state.hashed) >= upload.part_count:
                    return
                number = len(state.hashed) + 1
                etag = self.etag(upload.oid, number)
                if etag is None:
                    return  # not received yet: its write_part will queue us again
                with open(self.dir(upload.oid) / "data", "rb") as fh:
                    self._hash_part(fh, upload, number, state)
                state.hashed.append(etag)


def _pwrite_all(fd: int, block, offset: int) -> None:
    view = memoryview(block)
    while view:
        written = os.pwrite(fd, view, offset)
        view, offset = view[written:], offset + written


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f"{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _short(items: list) -> str:
    return str(items if len(items) <= 8 else [*items[:4], "...", *items[-2:]])
