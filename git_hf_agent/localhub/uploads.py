"""Multipart uploads in progress: one sparse data file per upload, parts written in place.

An upload belongs to one repo and one uploader: its id, object (oid, size), chunk
size, repo and user travel in the signed part and completion URLs, so a batch
creates nothing on disk; the first part PUT creates the upload's directory
``ROOT/lfs/incomplete/{upload_id}/``:
- ``upload.json``: those fields plus ``expires``, the last moment any URL of it is valid;
- ``data``: the object being built (sparse, ``size`` bytes); part n lands at ``(n-1) * chunk_size``;
- ``{n:05d}.etag``: MD5 of the part's current content (the latest complete PUT, as S3);
- ``{n:05d}.{random}.tmp``: a re-sent part being received.
``{upload_id}.done`` marks an upload that was completed or discarded (late PUTs get 404);
``keep/{key}`` names the upload of (repo, user, oid, size) that ``--upload-reuse keep`` reuses.

Integrity rules (issue 9): the first PUT of a part writes in place (the bytes reach
the disk once, completion copies nothing); a PUT of a part that already has content,
or that runs while another PUT of it is in progress, goes to a temp file that
replaces the part only once it arrived completely, so a PUT cut off midway leaves no
trace. Every change of a part's bytes bumps its generation, which invalidates any
pre-hash of it. Completion closes the upload to writes first, then checks the ETags
and finishes the sha256 over exactly the bytes that become the object.
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import re
import shutil
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from git_hf_agent.localhub.errors import StorageError, check_oid

BLOCK = 8 * 1024 * 1024
UPLOAD_ID = re.compile(r"^[0-9a-f]{32}\Z")
SWEEP_EVERY = 60.0  # seconds between sweeps of expired uploads


def _no_upload() -> StorageError:
    return StorageError(404, "The specified multipart upload does not exist")


@dataclass
class Upload:
    """A multipart upload: what its signed URLs carry (and ``upload.json`` keeps)."""

    oid: str
    size: int
    chunk_size: int
    upload_id: str
    repo: str = ""  # repo path (``datasets/ns/name``) the object is uploaded to
    user: str = ""  # the uploader

    @property
    def part_count(self) -> int:
        return max(1, -(-self.size // self.chunk_size))

    def part_size(self, number: int) -> int:
        return min(self.chunk_size, self.size - (number - 1) * self.chunk_size)

    def offset(self, number: int) -> int:
        return (number - 1) * self.chunk_size

    def params(self) -> dict[str, str]:
        """Query parameters of its URLs (signed together with the path)."""
        return {"uploadId": self.upload_id, "size": str(self.size), "chunk": str(self.chunk_size),
                "repo": self.repo, "user": self.user}

    @classmethod
    def from_params(cls, oid: str, query: dict[str, str]) -> "Upload":
        """The upload a (signature-checked) URL names; 404 when its parameters are not an upload's."""
        try:
            upload = cls(check_oid(oid), int(query["size"]), int(query["chunk"]), query["uploadId"],
                         query.get("repo", ""), query.get("user", ""))
        except (KeyError, ValueError):
            raise _no_upload() from None
        if not UPLOAD_ID.match(upload.upload_id) or upload.size < 1 or upload.chunk_size < 1:
            raise _no_upload()
        return upload

    def key(self) -> str:
        """Name of the ``keep`` index entry: one upload per (repo, user, oid, size)."""
        return hashlib.sha256(f"{self.repo}\n{self.user}\n{self.oid}\n{self.size}".encode()).hexdigest()[:40]


@dataclass
class _Part:
    gen: int = 0  # bumped whenever the part's bytes in ``data`` change
    writer: object | None = None  # the PUT writing in place, if any
    pending: tuple[Path, str] | None = None  # a complete re-send waiting for the in-place PUT to end


@dataclass
class _Live:
    """In-memory state of an upload: the write gate, its parts and the in-order sha256 progress."""

    gate: threading.Lock = field(default_factory=threading.Lock)  # guards all below and every write into data
    closed: bool = False  # completion has begun (or the upload is gone): no more writes
    parts: dict[int, _Part] = field(default_factory=dict)
    hashing: threading.Lock = field(default_factory=threading.Lock)  # one hasher at a time
    hashed: list[tuple[str, int, object]] = field(default_factory=list)  # (etag, gen, sha256 after it) of parts 1..

    def part(self, number: int) -> _Part:
        return self.parts.setdefault(number, _Part())


class Uploads:
    """Multipart uploads under ``root``; ``lock(key)`` is the store's per-key lock."""

    def __init__(self, root: Path, lock: Callable[[str], threading.RLock]) -> None:
        self.root = root
        (root / "keep").mkdir(parents=True, exist_ok=True)
        self._lock = lambda upload_id: lock(f"upload:{upload_id}")
        self._live: dict[str, _Live] = {}
        self._guard = threading.Lock()
        self._queue: queue.Queue = queue.Queue()
        self._swept = 0.0
        threading.Thread(target=self._prehash_loop, name="localhub-prehash", daemon=True).start()

    def dir(self, upload_id: str) -> Path:
        if not UPLOAD_ID.match(upload_id):
            raise _no_upload()
        return self.root / upload_id

    def _state(self, upload_id: str) -> _Live:
        with self._guard:
            return self._live.setdefault(upload_id, _Live())

    # ---- handing out uploads (batch) ---------------------------------------------------
    def mint(self, oid: str, size: int, chunk_size: int, repo: str, user: str, reuse: bool) -> tuple[Upload, bool]:
        """The upload a batch hands out; True if it is new.

        ``reuse`` (``--upload-reuse keep``): the upload in progress for the same repo,
        user, oid and size, when it has received parts; otherwise (and always with
        ``new``) a fresh id. Nothing is written: the first part PUT creates the upload.
        """
        fresh = Upload(oid, size, chunk_size, uuid.uuid4().hex, repo, user)
        if reuse:
            try:
                current = self.load((self.root / "keep" / fresh.key()).read_text().strip())
            except (OSError, StorageError):
                current = None
            if current is not None and (current.repo, current.user, current.oid, current.size) == (
                    repo, user, oid, size):
                return current, False
        return fresh, True

    def load(self, upload_id: str) -> Upload | None:
        """An upload that received parts and is still in progress, from its ``upload.json``."""
        try:
            data = json.loads((self.dir(upload_id) / "upload.json").read_text())
            data.pop("expires", None)
            return Upload(**data)
        except (OSError, ValueError, TypeError):
            return None

    def extend(self, upload: Upload, expires: int) -> None:
        """Record that URLs of ``upload`` are valid until ``expires`` (a reuse re-signed them)."""
        with self._lock(upload.upload_id):
            if self.load(upload.upload_id) is not None:
                _write_atomic(self.dir(upload.upload_id) / "upload.json",
                              json.dumps({**asdict(upload), "expires": expires}).encode())

    def _open(self, upload: Upload, expires: int) -> _Live:
        """Create the upload on its first part PUT; 404 once it was completed or discarded."""
        d = self.dir(upload.upload_id)
        with self._lock(upload.upload_id):
            if not (d / "upload.json").is_file():
                if (self.root / f"{upload.upload_id}.done").exists():
                    raise _no_upload()
                d.mkdir(parents=True, exist_ok=True)
                with open(d / "data", "wb") as fh:
                    fh.truncate(upload.size)  # sparse: parts fill it in place
                _write_atomic(d / "upload.json", json.dumps({**asdict(upload), "expires": expires}).encode())
                _write_atomic(self.root / "keep" / upload.key(), upload.upload_id.encode())
            elif self.load(upload.upload_id) != upload:
                raise _no_upload()
            state = self._state(upload.upload_id)
        if state.closed:
            raise StorageError(404, "The multipart upload is being completed; this part was refused")
        return state

    # ---- parts -------------------------------------------------------------------------
    def write_part(self, upload: Upload, number: int, length: int, blocks, expires: int = 0) -> tuple[str, int]:
        """Receive part ``number`` from byte blocks; returns (md5 hex etag, bytes)."""
        expected = upload.part_size(number)
        if length != expected:
            raise StorageError(400, f"part {number} must be {expected} bytes (chunk_size slices), not {length}")
        state = self._open(upload, expires)
        token = object()
        with state.gate:
            part = state.part(number)
            in_place = part.writer is None and self.etag(upload.upload_id, number) is None
            if in_place:
                part.writer = token
        try:
            if in_place:
                etag = self._write_in_place(upload, number, blocks, state, token)
            else:
                etag = self._write_aside(upload, number, blocks, state)
        except FileNotFoundError:  # the upload was completed or discarded meanwhile
            raise _no_upload() from None
        self._queue.put(upload)
        return etag, expected

    def _write_in_place(self, upload: Upload, number: int, blocks, state: _Live, token: object) -> str:
        part, md5, offset, total = state.part(number), hashlib.md5(), upload.offset(number), 0
        fd = os.open(self.dir(upload.upload_id) / "data", os.O_WRONLY)
        try:
            for block in blocks:
                md5.update(block)
                with state.gate:
                    self._check_writable(state)
                    _pwrite_all(fd, block, offset + total)
                    part.gen += 1
                total += len(block)
            _check_length(number, total, upload.part_size(number))
            with state.gate:
                self._check_writable(state)
                _write_atomic(self.dir(upload.upload_id) / f"{number:05d}.etag", md5.hexdigest().encode())
                part.gen += 1
                part.writer = None
                if part.pending is not None:  # a re-send finished first: this later PUT wins (S3: latest wins)
                    part.pending[0].unlink(missing_ok=True)
                    part.pending = None
            return md5.hexdigest()
        finally:
            os.close(fd)
            with state.gate:
                if part.writer is token:  # cut off: the part stays as it was (no ETag), or takes a waiting re-send
                    part.writer = None
                    if part.pending is not None and not state.closed:
                        self._apply_pending(upload, number, part)

    @staticmethod
    def _check_writable(state: _Live) -> None:
        if state.closed:
            raise StorageError(404, "The multipart upload is being completed; this part was refused")

    def _write_aside(self, upload: Upload, number: int, blocks, state: _Live) -> str:
        """A re-sent part: received into a temp file, then copied over the part at once."""
        tmp = self.dir(upload.upload_id) / f"{number:05d}.{uuid.uuid4().hex}.tmp"
        try:
            etag, total = write_hashed(tmp, blocks, hashlib.md5())
            _check_length(number, total, upload.part_size(number))
            with state.gate:
                self._check_writable(state)
                part = state.part(number)
                if part.writer is not None:  # the in-place PUT is still running: whichever ends last wins
                    if part.pending is not None:
                        part.pending[0].unlink(missing_ok=True)
                    part.pending, tmp = (tmp, etag), None
                else:
                    part.pending = (tmp, etag)
                    tmp = None
                    self._apply_pending(upload, number, part)
            return etag
        finally:
            if tmp is not None:
                tmp.unlink(missing_ok=True)

    def _apply_pending(self, upload: Upload, number: int, part: _Part) -> None:
        """Copy a complete re-send over the part (caller holds the gate)."""
        tmp, etag = part.pending
        part.pending = None
        part.gen += 1  # before the copy: even a copy that fails midway invalidates the part's pre-hash
        try:
            with open(tmp, "rb") as src, open(self.dir(upload.upload_id) / "data", "r+b") as dst:
                _copy_range(src.fileno(), dst.fileno(), upload.offset(number), upload.part_size(number))
            _write_atomic(self.dir(upload.upload_id) / f"{number:05d}.etag", etag.encode())
        finally:
            tmp.unlink(missing_ok=True)

    def etag(self, upload_id: str, number: int) -> str | None:
        try:
            return (self.dir(upload_id) / f"{number:05d}.etag").read_text()
        except OSError:
            return None

    # ---- completion --------------------------------------------------------------------
    def complete(self, upload: Upload, parts: list[tuple[int, str]], publish: Callable[[Path, str], bool]) -> bool:
        """Close the upload, check its parts, finish the sha256 and publish the data file; True if new.

        404 when the upload never received a part or is gone; 400 with a message on a
        wrong part list, an ETag mismatch, or content that does not hash to the oid
        (the upload is then discarded).
        """
        numbers = [n for n, _ in parts]
        if numbers != list(range(1, upload.part_count + 1)):
            raise StorageError(400, f"parts must be numbered 1..{upload.part_count} in order, got {_short(numbers)}")
        with self._lock(upload.upload_id):
            if self.load(upload.upload_id) != upload:
                raise _no_upload()
            state = self._state(upload.upload_id)
            with state.gate:
                state.closed = True
            try:
                with state.gate:
                    for number, part in state.parts.items():  # an in-place PUT still running loses to a re-send
                        if part.pending is not None:
                            self._apply_pending(upload, number, part)
                for number, etag in parts:
                    stored = self.etag(upload.upload_id, number)
                    if stored != etag:
                        raise StorageError(400, f"ETag mismatch for part {number}: got {etag!r}, "
                                                f"stored {stored or 'nothing'}")
                sha = self._finish_digest(upload, state)
            except BaseException:
                state.closed = False
                raise
            if sha != upload.oid:
                self.discard(upload)
                raise StorageError(400, f"sha256 mismatch: the parts hash to {sha}, not the oid {upload.oid}; "
                                        "the upload was discarded, upload the object again")
            new = publish(self.dir(upload.upload_id) / "data", upload.oid)
            self.discard(upload, completed=True)
            return new

    def completed(self, upload_id: str) -> bool:
        """Was this upload completed (not merely discarded)? Lets a repeated completion answer 200."""
        try:
            return json.loads((self.root / f"{upload_id}.done").read_text()).get("completed") is True
        except (OSError, ValueError, AttributeError):
            return False

    def discard(self, upload: Upload, completed: bool = False) -> None:
        """Drop an upload and everything received for it; later PUTs of it get 404."""
        with self._lock(upload.upload_id):
            with self._guard:
                state = self._live.pop(upload.upload_id, None)
            if state is not None:
                with state.gate:
                    state.closed = True
            try:  # the tombstone lasts as long as any URL of the upload, at least a day
                expires = int(json.loads((self.dir(upload.upload_id) / "upload.json").read_text())["expires"])
            except (OSError, ValueError, KeyError, TypeError):
                expires = 0
            done = self.root / f"{upload.upload_id}.done"
            _write_atomic(done, json.dumps({"expires": max(expires, int(time.time()) + 86400),
                                            "completed": completed}).encode())
            shutil.rmtree(self.dir(upload.upload_id), ignore_errors=True)
            index = self.root / "keep" / upload.key()
            try:
                if index.read_text().strip() == upload.upload_id:
                    index.unlink()
            except OSError:
                pass

    def sweep(self, every: float = SWEEP_EVERY) -> int:
        """Remove uploads (and tombstones) whose every URL has expired, at most once per ``every`` s; count removed."""
        now = time.time()
        if now - self._swept < every:
            return 0
        self._swept, removed = now, 0
        for path in self.root.iterdir():
            try:
                if path.suffix == ".done" and int(json.loads(path.read_text())["expires"]) < now:
                    path.unlink()
                    removed += 1
                elif path.is_dir() and UPLOAD_ID.match(path.name):
                    info = json.loads((path / "upload.json").read_text())
                    if int(info.get("expires", 0)) < now:
                        self.discard(Upload(**{k: v for k, v in info.items() if k != "expires"}))
                        removed += 1
            except (OSError, ValueError, TypeError, KeyError):
                continue
        return removed

    # ---- in-order sha256 --------------------------------------------------------------
    def _finish_digest(self, upload: Upload, state: _Live) -> str:
        """sha256 of ``data``: the valid pre-hashed prefix, then every other part (the upload is closed)."""
        with state.hashing:
            self._drop_stale(state)
            digest = state.hashed[-1][2].copy() if state.hashed else hashlib.sha256()
            with open(self.dir(upload.upload_id) / "data", "rb") as fh:
                for number in range(len(state.hashed) + 1, upload.part_count + 1):
                    _hash_part(fh, upload, number, digest)
            return digest.hexdigest()

    @staticmethod
    def _drop_stale(state: _Live) -> None:
        """Forget pre-hashes from the first part whose bytes changed since it was hashed (every change bumps gen)."""
        for i, (_, gen, _) in enumerate(state.hashed):
            if state.part(i + 1).gen != gen:
                del state.hashed[i:]
                return

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
        """Hash every part whose predecessors are hashed, while no PUT changes it."""
        with self._guard:
            state = self._live.get(upload.upload_id)
        if state is None:
            return
        with state.hashing:
            while True:
                with state.gate:
                    if state.closed:
                        return
                    self._drop_stale(state)
                    number = len(state.hashed) + 1
                    if number > upload.part_count:
                        return
                    part, etag = state.part(number), self.etag(upload.upload_id, number)
                    if etag is None or part.writer is not None:
                        return  # not received yet: its PUT queues us again
                    gen = part.gen
                digest = state.hashed[-1][2].copy() if state.hashed else hashlib.sha256()
                with open(self.dir(upload.upload_id) / "data", "rb") as fh:
                    _hash_part(fh, upload, number, digest)
                with state.gate:
                    if part.gen == gen and not state.closed:  # unchanged while it was read
                        state.hashed.append((etag, gen, digest))


def _hash_part(fh, upload: Upload, number: int, digest) -> None:
    fh.seek(upload.offset(number))
    left = upload.part_size(number)
    while left > 0:
        block = fh.read(min(BLOCK, left))
        if not block:
            raise StorageError(400, f"the data of part {number} is shorter than expected")
        digest.update(block)
        left -= len(block)


def _check_length(number: int, total: int, expected: int) -> None:
    if total != expected:
        raise StorageError(400, f"part {number}: received {total} bytes, expected {expected}")


def write_hashed(path: Path, blocks, hasher) -> tuple[str, int]:
    """Write byte blocks to a new file while hashing them; (hex digest, bytes written). Also single PUTs' writer."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    total = 0
    try:
        for block in blocks:
            hasher.update(block)
            _pwrite_all(fd, block, total)
            total += len(block)
    finally:
        os.close(fd)
    return hasher.hexdigest(), total


def _copy_range(src: int, dst: int, offset: int, count: int) -> None:
    """Copy ``count`` bytes from the start of ``src`` to ``offset`` in ``dst`` (in the kernel when it can)."""
    done = 0
    while done < count:
        try:
            n = os.copy_file_range(src, dst, count - done, done, offset + done)
        except (AttributeError, OSError):
            n = os.pwrite(dst, os.pread(src, min(BLOCK, count - done), done), offset + done)
        if n <= 0:
            raise StorageError(400, "a re-sent part is shorter than expected")
        done += n


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
