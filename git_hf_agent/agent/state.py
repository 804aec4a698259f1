"""Where the agent keeps state that must outlive a killed run: ``<lfs storage>/git-hf-agent/``.

Resume state is the upload journals (``uploads/``: which parts the server
confirmed, with the upload's presigned URLs) and the partial downloads with
their range journals (``downloads/``). It must survive hours between a kill and
the re-run, so it is NOT kept under ``<lfs storage>/tmp``: git-lfs (3.3) starts
every command with a background sweep that deletes files in ``lfs/tmp`` older
than one hour (in a subdirectory, once the directory is that old too). It lives
beside ``objects/`` instead, in the directory git-lfs stores objects in
(``lfs.storage`` honoured), because a finished download is renamed by git-lfs
into ``objects/``: the partial file must be on that filesystem.

Directories are created 0700 (journals hold presigned URLs, which are secrets);
the journals are 0600. A partial download keeps the mode git-lfs gives objects,
since it becomes one.

Nothing here grows without bound: state of an object is removed once the object
is stored (uploads) or in place (downloads), and :func:`sweep` removes state
nobody touched for :data:`STALE_DAYS` days. ``rm -rf <lfs storage>/git-hf-agent``
is always safe while no push or pull runs: the next run starts those objects
from zero. ``git hf doctor`` reports the size (:func:`usage`).

State written by earlier versions under ``<lfs storage>/tmp/git-hf-agent`` is
moved here once, at the first use in a process (:func:`state_dir`), so a push
or pull killed before an upgrade still resumes.
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
import time
from pathlib import Path
from typing import Callable

NAME = "git-hf-agent"
UPLOADS = "uploads"
DOWNLOADS = "downloads"
DIR_MODE = 0o700
STALE_DAYS = 14
# State files each kind moves from the old layout, and the wider set its sweep may remove
# (a journal rewrite's temp file, a download's lock file); the rest of a directory is left alone.
_FILES = {
    UPLOADS: re.compile(r"^([0-9a-f]{64})\.[0-9a-f]{16}\.jsonl$"),
    DOWNLOADS: re.compile(r"^([0-9a-f]{64})\.download(?:\.journal)?$"),
}
# A finished download handed to git-lfs under a name of its own (``<oid>.download.<pid>-<n>.done``), which
# git-lfs renames into objects/ once it has hashed it; swept only when old (it may be mid-rename otherwise).
HANDOFFS = "handoffs"
HANDOFF_SUFFIX = ".done"
HANDOFF_STALE_DAYS = 1
AHEAD = "ahead"   # the ahead files alone (agent/ahead.py), swept when an agent ends
# ``git hf clone``'s work tree copy of a big object (``<oid>.download.<pid>.worktree``, ranges.Mirror), moved
# into the work tree or removed by that command; swept when a day old (the command was killed).
MIRRORS = "mirrors"
_SWEPT = {
    UPLOADS: re.compile(r"^([0-9a-f]{64})\.[0-9a-f]{16}\.(?:jsonl|tmp)$"),
    DOWNLOADS: re.compile(r"^([0-9a-f]{64})\.download(?:\.journal|\.lock|\.ahead)?$"),
    AHEAD: re.compile(r"^([0-9a-f]{64})\.download\.ahead$"),
    HANDOFFS: re.compile(r"^([0-9a-f]{64})\.download\.[0-9]+-[0-9]+\.done$"),
    MIRRORS: re.compile(r"^([0-9a-f]{64})\.download\.[0-9]+\.worktree$"),
}
_adopted: set[tuple[str, str]] = set()
_adopt_lock = threading.Lock()


def lfs_dir(cwd: str | None = None) -> Path:
    """git-lfs's storage directory: ``lfs.storage`` (relative to the git dir) or ``<common git dir>/lfs``."""
    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else None

    common = git("rev-parse", "--path-format=absolute", "--git-common-dir") or os.path.abspath(".git")
    storage = git("config", "--get", "lfs.storage")
    return Path(common, storage) if storage else Path(common, "lfs")


def storage_of(object_path: str, git_dir: str | None = None) -> Path:
    """The storage directory holding an object at ``<storage>/objects/aa/bb/<oid>`` (git-lfs hands uploads
    this path, so ``lfs.storage`` is honoured); ``<git dir>/lfs`` for any other path."""
    path = Path(object_path).resolve()
    parents = path.parents
    if len(parents) >= 4 and parents[2].name == "objects":
        return parents[3]
    return Path(git_dir or ".git") / "lfs"


def state_dir(storage: Path, kind: str) -> Path:
    """``<storage>/git-hf-agent/<kind>`` (kind: uploads | downloads), created 0700.

    The first call per process and kind also moves that kind's files left by an
    earlier version in ``<storage>/tmp/git-hf-agent`` here (never over a newer file).
    When the directory cannot be created the path is returned all the same: the
    first write there fails and says so with the fix.
    """
    directory = storage / NAME / kind
    try:
        for level in (storage / NAME, directory):
            try:
                level.mkdir(mode=DIR_MODE, parents=True)
            except FileExistsError:
                pass
    except OSError:
        return directory
    key = (str(directory), kind)
    with _adopt_lock:
        if key not in _adopted:
            _adopted.add(key)
            _adopt_legacy(storage / "tmp" / NAME, directory, _FILES[kind])
    return directory


def _adopt_legacy(legacy: Path, directory: Path, names: re.Pattern) -> None:
    """Move an earlier version's state files (same filesystem: a rename) from ``legacy`` to ``directory``."""
    try:
        found = [p for p in legacy.iterdir() if names.match(p.name)]
    except OSError:
        return
    for path in found:
        target = directory / path.name
        if target.exists():
            continue   # newer state already here; git-lfs prunes the old copy
        try:
            os.rename(path, target)
        except OSError:
            pass       # another agent process moved it first, or it vanished


def sweep(directory: Path, kind: str, finished: Callable[[str], bool], *, stale_days: float = STALE_DAYS,
          now: float | None = None) -> list[Path]:
    """Remove ``kind``'s files in ``directory`` whose object is ``finished(oid)`` or that nobody touched for
    ``stale_days`` days; the paths removed. Files of other names are left alone."""
    limit = (time.time() if now is None else now) - stale_days * 86400
    removed = []
    try:
        entries = list(directory.iterdir())
    except OSError:
        return removed
    for path in entries:
        match = _SWEPT[kind].match(path.name)
        if match is None:
            continue
        try:
            if finished(match.group(1)) or path.stat().st_mtime < limit:
                path.unlink()
                removed.append(path)
        except OSError:
            pass
    return removed


def mirror_path(directory: Path, oid: str) -> Path:
    """This process's work tree copy of ``oid`` in the downloads directory (see :data:`MIRRORS`)."""
    return directory / f"{oid}.download.{os.getpid()}.worktree"


def object_path(storage: Path, oid: str) -> Path:
    """Where git-lfs keeps object ``oid`` in ``storage``."""
    return storage / "objects" / oid[:2] / oid[2:4] / oid


def usage(storage: Path) -> tuple[int, int]:
    """(files, bytes on disk) of the agent's state in ``storage`` (partial downloads are sparse: blocks, not sizes).

    Empty ``*.lock`` files only serialise agents working on the same object; they hold no
    unfinished work, so they are not counted (a finished clone reports no state)."""
    files = used = 0
    for root, _dirs, names in os.walk(storage / NAME):
        for name in names:
            if name.endswith(".lock"):
                continue
            try:
                st = os.lstat(os.path.join(root, name))
            except OSError:
                continue
            files += 1
            used += st.st_blocks * 512
    return files, used
