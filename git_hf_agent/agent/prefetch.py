"""Batch-ahead for standalone downloads: download URLs of the checkout's pending objects, 100 per call.

In standalone mode git-lfs makes no batch call and hands each agent process one
object at a time, so asking the batch API per object would add a round trip to
every object (git-lfs's ``basic`` asks once per 100). The objects a clone or pull
downloads are in practice HEAD's LFS pointers missing from the object store, but
not in path order: git checks files out in index order, yet git-lfs hands delayed
objects to its workers in an order of its own. So when an object has no cached
URL, the agent lists those pointers (``git ls-tree`` plus ``git cat-file --batch``,
once per process) and asks the batch API for that object and the pending ones
after it, wrapping round to the start of the list, :data:`WINDOW` objects in calls
of :data:`BATCH`. The answers go to a cache file beside the temp files, shared by
the agent processes of the run: one fills a window under a file lock while the
others wait for it.

Small objects of the list are also fetched ahead (:mod:`ahead`, from :meth:`Prefetcher.after`).
An object outside that list (``git lfs fetch`` of another ref) or without a
usable answer gets its own batch call, as before; an action is used only while
it has more than a minute left. The cache (it holds presigned URLs) is removed
when the agent process ends.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import threading
import time
from pathlib import Path

from git_hf_agent.agent.dlbatch import BatchError, DownloadBatch
from git_hf_agent.agent.plan import expiry
from git_hf_agent.agent.retry import Policy
from git_hf_agent.lfspointer import MAX_POINTER_SIZE
from git_hf_agent.lfspointer import parse as parse_pointer

WINDOW = 400
BATCH = 100
MARGIN = 60.0   # seconds an action must still be valid to be used from the cache


class ListingFailed(Exception):
    """git could not list HEAD's LFS pointers (the message says why)."""


def head_pointers(cwd: str | None = None, *, strict: bool = False) -> list[tuple[str, int]]:
    """HEAD's LFS pointers (oid, size), each object once, in path order.

    Objects already in place are not left out here but where the list is used: it
    is read once per process, and an object asked for may be in place by the time
    the list is read (another agent finished it), yet still belongs to the checkout."""
    found, seen = [], set()
    for _path, oid, size in head_pointer_paths(cwd, strict=strict):
        if oid not in seen:
            seen.add(oid)
            found.append((oid, size))
    return found


def head_pointer_paths(cwd: str | None = None, *, strict: bool = False) -> list[tuple[bytes, str, int]]:
    """(path, oid, size) of every LFS pointer blob in HEAD's tree, in path order (``git ls-tree`` plus
    ``git cat-file --batch``). When git fails: an empty list (the agent's fetching ahead is only a
    help), or with ``strict`` (``git hf clone``, whose whole download is this list) :class:`ListingFailed`,
    and no time limit."""
    def failed(why: str) -> list:
        if strict:
            raise ListingFailed(why)
        return []

    try:
        tree = subprocess.run(["git", "ls-tree", "-r", "-l", "-z", "HEAD"], cwd=cwd, capture_output=True,
                              timeout=None if strict else 120)
    except (OSError, subprocess.SubprocessError) as exc:
        return failed(f"git ls-tree: {exc}")
    if tree.returncode != 0:
        return failed(f"git ls-tree: {tree.stderr.decode(errors='replace').strip()[:300]}")
    blobs, paths = [], []
    for record in tree.stdout.split(b"\0"):
        meta, _, path = record.partition(b"\t")
        fields = meta.split()
        if len(fields) == 4 and fields[1] == b"blob" and fields[3].isdigit() and int(fields[3]) < MAX_POINTER_SIZE:
            blobs.append(fields[2])
            paths.append(path)
    if not blobs:
        return []
    try:
        cat = subprocess.run(["git", "cat-file", "--batch"], cwd=cwd, input=b"\n".join(blobs) + b"\n",
                             capture_output=True, timeout=None if strict else 300)
    except (OSError, subprocess.SubprocessError) as exc:
        return failed(f"git cat-file: {exc}")
    found, data, pos = [], cat.stdout, 0
    for path in paths:
        end = data.find(b"\n", pos)
        header = data[pos:end].split()
        if end < 0 or len(header) != 3 or not header[2].isdigit():
            if strict:
                raise ListingFailed(f"git cat-file answered {data[pos:pos + 80]!r} for {os.fsdecode(path)}")
            break
        size = int(header[2])
        pointer = parse_pointer(data[end + 1:end + 1 + size])
        pos = end + 1 + size + 1
        if pointer:
            found.append((path, pointer.oid, pointer.size))
    return found


class Prefetcher:
    """Download actions fetched ahead and shared through ``<temp dir>/prefetch.json``."""

    def __init__(self, batch: DownloadBatch, temp_dir: Path, objects_dir: Path, cwd: str | None = None) -> None:
        self.batch = batch
        self.temp_dir = temp_dir
        self.objects_dir = objects_dir
        self.cwd = cwd
        self.path = temp_dir / "prefetch.json"
        self._cache: dict[str, dict] = {}
        self._pending: list[tuple[str, int]] | None = None
        self._index: dict[str, int] = {}
        self._placed: set[str] = set()
        self._pending_lock = threading.Lock()   # listed once per process, by whichever thread asks first

    def action(self, oid: str, policy: Policy) -> dict | None:
        """A cached (or just prefetched) raw download action for ``oid``, or None: ask for it alone."""
        hit = self._fresh(oid)
        if hit is not None:
            return hit
        try:
            self.temp_dir.mkdir(parents=True, exist_ok=True)
            with open(self.temp_dir / "prefetch.lock", "a") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                self._load()
                hit = self._fresh(oid)
                if hit is None and self._fill(oid, policy):
                    self._save()
                    hit = self._fresh(oid)
        except OSError:
            return None
        return hit

    def _fresh(self, oid: str) -> dict | None:
        entry = self._cache.get(oid)
        if entry is None or (entry["deadline"] is not None and entry["deadline"] < time.time() + MARGIN):
            return None
        return entry["action"]

    def _in_place(self, oid: str) -> bool:
        """The object is in ``objects/`` (remembered: it stays there)."""
        if oid in self._placed:
            return True
        if (self.objects_dir / oid[:2] / oid[2:4] / oid).is_file():
            self._placed.add(oid)
            return True
        return False

    def _load_pending(self) -> None:
        if self._pending is None:
            self._pending = head_pointers(self.cwd)
            self._index = {o: i for i, (o, _) in enumerate(self._pending)}

    def after(self, oid: str) -> list[tuple[str, int]] | None:
        """The other pending pointers, from the one after ``oid`` round to the one before it; None when
        ``oid`` is not one of them (git-lfs is then fetching something other than HEAD's checkout)."""
        with self._pending_lock:
            self._load_pending()
            start = self._index.get(oid)
            if start is None:
                return None
            return [(o, s) for o, s in self._pending[start + 1:] + self._pending[:start] if not self._in_place(o)]

    def _fill(self, oid: str, policy: Policy) -> bool:
        with self._pending_lock:
            self._load_pending()
        start = self._index.get(oid)
        if start is None:
            return False
        around = self._pending[start:] + self._pending[:start]
        window = []
        for o, s in around:
            if self._fresh(o) is None and not self._in_place(o):
                window.append((o, s))
                if len(window) == WINDOW:
                    break
        added = False
        for i in range(0, len(window), BATCH):
            try:
                answers = self.batch.actions(window[i:i + BATCH], policy)
            except BatchError:
                break
            for o, raw in answers.items():
                self._cache[o] = {"action": raw, "deadline": expiry(raw)}
                added = True
        return added

    def _load(self) -> None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        if isinstance(data, dict):
            for o, entry in data.items():
                if isinstance(entry, dict) and isinstance(entry.get("action"), dict) and o not in self._cache:
                    self._cache[o] = {"action": entry["action"], "deadline": entry.get("deadline")}

    def _save(self) -> None:
        tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)   # presigned URLs: owner only
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(self._cache, fh)
        os.replace(tmp, self.path)

    def close(self) -> None:
        """Remove the shared cache (presigned URLs do not outlive the run)."""
        try:
            self.path.unlink()
        except OSError:
            pass
