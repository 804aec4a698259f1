"""Resume journal: one multipart upload's action and the parts already confirmed, with their ETags.

One file per (oid, upload id) under ``<lfs storage>/git-hf-agent/uploads/``
(:mod:`state`: outside ``lfs/tmp``, which git-lfs prunes after an hour), private
(mode 0600 in a 0700 directory: it holds presigned URLs, which are secrets). The
first line describes the upload: oid, upload id, size, chunk size, part count,
the LFS endpoint (which repo the upload is for), and the action itself
(completion URL, part URLs) with the epoch second its URLs expire, so a later
push to the same endpoint can continue this upload on its own even when the
server hands out a new upload for the same object. Each following line records
one part the server answered 2xx with an ETag. Every append is flushed and
fsync'd before the part counts as done, so a kill -9 loses at most the parts in
flight; a torn last line is ignored on reading. The file is removed only after
the completion returned 2xx, or when the agent gives up this upload for
another one (and says how many bytes that costs).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Any

from git_hf_agent.agent import state

FILE_MODE = 0o600
DIR_MODE = state.DIR_MODE


def journal_dir_for(object_path: str, git_dir: str | None = None) -> Path:
    """``<lfs storage>/git-hf-agent/uploads`` for an object at ``<lfs storage>/objects/aa/bb/<oid>``."""
    return state.state_dir(state.storage_of(object_path, git_dir), state.UPLOADS)


_IDENTITY = ("oid", "upload_id", "size", "chunk_size", "parts")


class Journal:
    """Confirmed parts of one upload plus its action; thread-safe appends, durable before they count."""

    def __init__(self, directory: Path, oid: str, upload_id: str, size: int, chunk_size: int, nparts: int,
                 action: dict[str, Any] | None = None, deadline: float | None = None,
                 endpoint: str | None = None) -> None:
        self.directory = directory
        self.oid = oid
        self.header: dict[str, Any] = {"oid": oid, "upload_id": upload_id, "size": size, "chunk_size": chunk_size,
                                       "parts": nparts, "endpoint": endpoint, "action": action, "deadline": deadline}
        tag = hashlib.sha256(upload_id.encode()).hexdigest()[:16]
        self.path = directory / f"{oid}.{tag}.jsonl"
        self.done: dict[int, str] = {}
        self._lock = threading.Lock()
        self._fh = None

    @property
    def upload_id(self) -> str:
        return self.header["upload_id"]

    @property
    def action(self) -> dict[str, Any] | None:
        """The journaled action (``href`` and ``header``), None if an older version wrote the file."""
        action = self.header.get("action")
        return action if isinstance(action, dict) else None

    @property
    def endpoint(self) -> str | None:
        """The LFS endpoint the upload was made for (None: unknown, or an older version wrote it)."""
        value = self.header.get("endpoint")
        return value if isinstance(value, str) else None

    @property
    def deadline(self) -> float | None:
        value = self.header.get("deadline")
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None

    def done_bytes(self) -> int:
        """Bytes of the object held by the confirmed parts."""
        chunk, size = self.header["chunk_size"], self.header["size"]
        return sum(min(chunk, size - (n - 1) * chunk) for n in self.done)

    @classmethod
    def open(cls, directory: Path, oid: str, upload_id: str, size: int, chunk_size: int, nparts: int,
             action: dict[str, Any] | None = None, deadline: float | None = None,
             endpoint: str | None = None) -> "Journal":
        """Load the journal for this upload (keeping only records that match it) or start one.

        When the upload already has confirmed parts and ``action`` differs from the
        journaled one (fresh URLs for the same upload), the header is rewritten so a
        later push finds the freshest URLs.
        """
        journal = cls(directory, oid, upload_id, size, chunk_size, nparts, action, deadline, endpoint)
        found = _read(journal.path)
        if found is not None and all(found[0].get(k) == journal.header[k] for k in _IDENTITY):
            journal.done = found[1]
            if journal.done and any(found[0].get(k) != journal.header[k] for k in ("action", "deadline", "endpoint")):
                journal._rewrite()
        return journal

    @classmethod
    def saved(cls, directory: Path, oid: str, size: int) -> list["Journal"]:
        """Every readable journal of ``oid`` (any upload id) for an object of ``size`` bytes."""
        found = []
        for path in sorted(directory.glob(f"{oid}.*.jsonl")):
            read = _read(path)
            if read is None:
                continue
            header, done = read
            try:
                journal = cls(directory, header["oid"], header["upload_id"], header["size"], header["chunk_size"],
                              header["parts"], header.get("action"), header.get("deadline"), header.get("endpoint"))
            except (KeyError, TypeError, AttributeError):
                continue
            if journal.path == path and header["oid"] == oid and header["size"] == size:
                journal.done = done
                found.append(journal)
        return found

    def record(self, number: int, etag: str) -> None:
        """Durably note that part ``number`` is stored with ``etag``."""
        line = json.dumps({"part": number, "etag": etag}) + "\n"
        with self._lock:
            fh = self._writer()
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())
            self.done[number] = etag

    def forget(self, numbers: list[int]) -> None:
        """Drop parts the server no longer has; rewrite the file without them."""
        with self._lock:
            for n in numbers:
                self.done.pop(n, None)
            self._rewrite_locked()

    def update_action(self, action: dict[str, Any], deadline: float | None) -> None:
        """Fresh URLs for the same upload: keep them, so a later push continues with them."""
        with self._lock:
            self.header.update(action=action, deadline=deadline)
            if self.done or self._fh is not None:
                self._rewrite_locked()

    def _rewrite(self) -> None:
        with self._lock:
            self._rewrite_locked()

    def _rewrite_locked(self) -> None:
        """Write header and confirmed parts to a private temp file and move it over the journal."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        self._mkdir()
        tmp = self.path.with_suffix(".tmp")
        with _private(tmp, "w") as fh:
            fh.write(json.dumps(self.header) + "\n")
            for n, etag in sorted(self.done.items()):
                fh.write(json.dumps({"part": n, "etag": etag}) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
        self._fh = _private(self.path, "a")

    def _mkdir(self) -> None:
        self.directory.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)

    def _writer(self):
        if self._fh is None:
            self._mkdir()
            fresh = not self.done
            self._fh = _private(self.path, "w" if fresh else "a")
            if fresh:
                self._fh.write(json.dumps(self.header) + "\n")
        return self._fh

    def close(self) -> None:
        with self._lock:
            if self._fh is not None:
                self._fh.close()
                self._fh = None

    def remove(self) -> None:
        """Delete this journal (after a successful completion, or when the upload is given up)."""
        self.close()
        self.path.unlink(missing_ok=True)

    def remove_others(self) -> list[Path]:
        """Delete journals of other uploads of the same oid to the same endpoint (this one is in use).

        Journals of uploads to another endpoint (the same file pushed to another repo) are kept.
        """
        removed = []
        for other in self.directory.glob(f"{self.oid}.*.jsonl"):
            found = _read(other)
            theirs = found[0].get("endpoint") if found is not None else None
            if other != self.path and (theirs is None or theirs == self.endpoint):
                try:
                    other.unlink()
                    removed.append(other)
                except OSError:
                    pass
        return removed


def _private(path: Path, mode: str):
    """Open ``path`` as text, created with mode 0600 (and made 0600 if an older version left it wider)."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if mode == "a" else os.O_TRUNC)
    fd = os.open(path, flags, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
        return os.fdopen(fd, mode, encoding="utf-8")
    except BaseException:
        os.close(fd)
        raise


def read_records(path: Path) -> list[Any]:
    """The JSON records of a journal file, skipping a torn line (kill -9 mid-write); [] if unreadable.

    Shared by the upload and download journals.
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return []
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except ValueError:
            continue
    return records


def _read(path: Path) -> tuple[dict[str, Any], dict[int, str]] | None:
    """(header, {part: etag}) of a journal file; None if missing or without a readable header."""
    records = read_records(path)
    if not records or not isinstance(records[0], dict):
        return None
    header = records[0]
    nparts = header.get("parts")
    if not isinstance(nparts, int):
        return None
    done = {}
    for rec in records[1:]:
        number, etag = (rec.get("part"), rec.get("etag")) if isinstance(rec, dict) else (None, None)
        if isinstance(number, int) and 1 <= number <= nparts and isinstance(etag, str) and etag:
            done[number] = etag
    return header, done
