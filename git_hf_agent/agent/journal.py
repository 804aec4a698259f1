"""Resume journal: the parts of one multipart upload already confirmed, with their ETags.

One file per (oid, upload id) under ``<git dir>/lfs/tmp/git-hf-agent/``. The first
line describes the upload (oid, upload id, size, chunk size, part count); each
following line records one part the server answered 2xx with an ETag. Every
append is flushed and fsync'd before the part counts as done, so a kill -9 loses
at most the parts in flight; a torn last line is ignored on reading. A new
``git push`` that gets the same upload id back from the server skips the
recorded parts and completes with their ETags. The file is removed only after
the completion returned 2xx (or when the server starts a new upload for the oid).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path


def journal_dir_for(object_path: str, git_dir: str | None = None) -> Path:
    """``<lfs dir>/tmp/git-hf-agent`` for an object at ``<lfs dir>/objects/aa/bb/<oid>``."""
    path = Path(object_path).resolve()
    parents = path.parents
    if len(parents) >= 4 and parents[2].name == "objects":
        return parents[3] / "tmp" / "git-hf-agent"
    base = Path(git_dir) if git_dir else Path(".git")
    return base / "lfs" / "tmp" / "git-hf-agent"


class Journal:
    """Confirmed parts of one upload; thread-safe appends, durable before they count."""

    def __init__(self, directory: Path, oid: str, upload_id: str, size: int, chunk_size: int, nparts: int) -> None:
        self.directory = directory
        self.oid = oid
        self.header = {"oid": oid, "upload_id": upload_id, "size": size, "chunk_size": chunk_size, "parts": nparts}
        tag = hashlib.sha256(upload_id.encode()).hexdigest()[:16]
        self.path = directory / f"{oid}.{tag}.jsonl"
        self.done: dict[int, str] = {}
        self._lock = threading.Lock()
        self._fh = None

    @classmethod
    def open(cls, directory: Path, oid: str, upload_id: str, size: int, chunk_size: int, nparts: int) -> "Journal":
        """Load the journal for this upload (keeping only records that match it) or start one."""
        journal = cls(directory, oid, upload_id, size, chunk_size, nparts)
        journal.done = journal._load()
        return journal

    def _load(self) -> dict[int, str]:
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            return {}
        records = []
        for line in lines:
            try:
                records.append(json.loads(line))
            except ValueError:
                continue  # torn write at kill time
        if not records or records[0] != self.header:
            return {}
        done = {}
        for rec in records[1:]:
            number, etag = (rec.get("part"), rec.get("etag")) if isinstance(rec, dict) else (None, None)
            if isinstance(number, int) and 1 <= number <= self.header["parts"] and isinstance(etag, str) and etag:
                done[number] = etag
        return done

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
            if self._fh is not None:
                self._fh.close()
                self._fh = None
            self.directory.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            with open(tmp, "w", encoding="utf-8") as fh:
                fh.write(json.dumps(self.header) + "\n")
                for n, etag in sorted(self.done.items()):
                    fh.write(json.dumps({"part": n, "etag": etag}) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
            self._fh = open(self.path, "a", encoding="utf-8")

    def _writer(self):
        if self._fh is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            fresh = not self.done
            self._fh = open(self.path, "w" if fresh else "a", encoding="utf-8")
            if fresh:
                self._fh.write(json.dumps(self.header) + "\n")
        return self._fh

    def close(self) -> None:
        with self._lock:
            if self._fh is not None:
                self._fh.close()
                self._fh = None

    def remove(self) -> None:
        """Delete this journal (after a successful completion)."""
        self.close()
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass

    def remove_others(self) -> list[Path]:
        """Delete journals of older uploads of the same oid (the server started a new one)."""
        removed = []
        for other in self.directory.glob(f"{self.oid}.*.jsonl"):
            if other != self.path:
                try:
                    other.unlink()
                    removed.append(other)
                except OSError:
                    pass
        return removed
