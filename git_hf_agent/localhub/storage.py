"""The local Hub's state on disk, pure filesystem (no HTTP here).

Layout (documented in docs/local-hub.md):
- ``ROOT/repos/{models,datasets,spaces}/{ns}/{name}.git``: bare git repos, each
  with ``hub.json`` (private flag) and the push-check ``pre-receive`` hook;
- ``ROOT/lfs/objects/{oid[0:2]}/{oid[2:4]}/{oid}``: complete LFS objects, one copy
  per oid whatever the number of repos holding it; an object appears there only by
  an atomic rename after its size and sha256 were checked, so nothing half-written
  is ever served;
- ``{repo}.git/lfs-objects/{oid}``: empty files naming the objects a repo holds
  (uploaded to it); batches, downloads and push checks answer per repo from these;
- ``ROOT/lfs/incomplete/``: single-PUT temp files and multipart uploads
  (``{upload_id}/``, see :mod:`uploads`);
- ``ROOT/secret.key``: the HMAC key of presigned URLs (mode 0600).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import threading
import uuid
import weakref
from datetime import datetime, timezone
from pathlib import Path

from git_hf_agent.hubconf import RepoId
from git_hf_agent.lfspointer import MAX_POINTER_SIZE
from git_hf_agent.lfspointer import parse as parse_pointer
from git_hf_agent.localhub.gitrepo import GitRepo
from git_hf_agent.localhub.errors import StorageError, check_oid  # noqa: F401 - re-exported
from git_hf_agent.localhub.uploads import Uploads, write_hashed

HELD = "lfs-objects"  # in each bare repo: one empty file per LFS object the repo holds
_HOOK = """#!/bin/sh
# Installed by git hf serve: reject pushes the Hugging Face Hub would reject.
exec "${LOCALHUB_PYTHON:-python3}" -m git_hf_agent.localhub.hook
"""


class Storage:
    """Repos, LFS objects and in-progress uploads under one root directory."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.repos = self.root / "repos"
        self.objects = self.root / "lfs" / "objects"
        self.incomplete = self.root / "lfs" / "incomplete"
        for d in (self.repos, self.objects, self.incomplete):
            d.mkdir(parents=True, exist_ok=True)
        self._locks: weakref.WeakValueDictionary[str, threading.RLock] = weakref.WeakValueDictionary()
        self._locks_guard = threading.Lock()
        self.uploads = Uploads(self.incomplete, self.lock)

    def secret(self) -> bytes:
        """The HMAC key of presigned URLs, kept in ROOT so URLs survive a restart on the same root."""
        path = self.root / "secret.key"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_bytes()
        with os.fdopen(fd, "wb") as fh:
            fh.write(os.urandom(32))
        return path.read_bytes()

    def lock(self, key: str) -> threading.RLock:
        """A per-key lock (``upload:<id>``, ``repo:<path>``) serialising uploads' state changes and commits.

        Kept only while someone holds it (weak values), so the table does not grow with every upload ever seen.
        """
        with self._locks_guard:
            return self._locks.setdefault(key, threading.RLock())

    # ---- repos -------------------------------------------------------------------------
    def repo_dir(self, repo: RepoId) -> Path:
        return self.repos / f"{repo.type}s" / repo.namespace / f"{repo.name}.git"

    def repo_exists(self, repo: RepoId) -> bool:
        return (self.repo_dir(repo) / "hub.json").is_file()

    def repo_meta(self, repo: RepoId) -> dict:
        try:
            return json.loads((self.repo_dir(repo) / "hub.json").read_text())
        except (OSError, ValueError):
            raise StorageError(404, "Repository not found") from None

    def create_repo(self, repo: RepoId, private: bool) -> bool:
        """Create a bare repo with branch ``main``; False if it already exists."""
        path = self.repo_dir(repo)
        with self.lock(f"repo:{path}"):
            if self.repo_exists(repo):
                return False
            path.parent.mkdir(parents=True, exist_ok=True)
            subprocess.run(
                ["git", "init", "--bare", "--quiet", "--initial-branch=main", str(path)],
                check=True, capture_output=True,
            )
            for key, value in (("http.receivepack", "true"), ("uploadpack.allowFilter", "true"),
                               ("uploadpack.allowAnySHA1InWant", "true")):  # partial clones work, as on the Hub
                subprocess.run(["git", "config", key, value], cwd=path, check=True)
            hook = path / "hooks" / "pre-receive"
            hook.write_text(_HOOK)
            hook.chmod(0o755)
            created = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
            meta = {"private": bool(private), "id": uuid.uuid4().hex, "created": created}
            (path / HELD).mkdir()
            (path / "hub.json").write_text(json.dumps(meta))
            return True

    def delete_repo(self, repo: RepoId) -> bool:
        """Remove a repo (its LFS objects stay in the shared store); False if it did not exist."""
        path = self.repo_dir(repo)
        with self.lock(f"repo:{path}"):
            if not self.repo_exists(repo):
                return False
            (path / "hub.json").unlink()
            shutil.rmtree(path, ignore_errors=True)
            return True

    # ---- which repo holds which object --------------------------------------------------
    def repo_object_size(self, repo: RepoId, oid: str) -> int | None:
        """Size of a stored object ``repo`` holds (uploaded to it, or pushed or committed into it), else None."""
        return held_size(self.repo_dir(repo), self.objects, oid)

    def hold(self, repo: RepoId, oid: str) -> None:
        """Record that ``repo`` holds the (stored) object ``oid``; nothing if the repo was deleted meanwhile."""
        held = self.repo_dir(repo) / HELD
        try:
            held.mkdir(exist_ok=True)
            (held / check_oid(oid)).touch()
        except FileNotFoundError:
            pass

    def adopt_referenced_objects(self) -> int:
        """Repos from before per-repo scoping (no ``lfs-objects/``) hold the stored objects their history points to.

        Run once at start, so a ``--root`` written by an older version loses nothing; returns the objects adopted.
        """
        adopted = 0
        for meta in self.repos.glob("*/*/*.git/hub.json"):
            repo_dir = meta.parent
            if (repo_dir / HELD).is_dir():
                continue
            repo = GitRepo(repo_dir)
            listed = repo.git("rev-list", "--objects", "--all").decode(errors="replace").split("\n")
            ids = "".join(f"{line.split()[0]}\n" for line in listed if line.strip()).encode()
            checked = repo.git("cat-file", "--batch-check=%(objectname) %(objecttype) %(objectsize)", input=ids)
            small = [oid for oid, kind, size in (line.split() for line in checked.decode().splitlines())
                     if kind == "blob" and int(size) < MAX_POINTER_SIZE]
            (repo_dir / HELD).mkdir()
            for head in repo.heads(small, MAX_POINTER_SIZE).values():
                pointer = parse_pointer(head)
                if pointer is not None and self.object_size(pointer.oid) == pointer.size:
                    (repo_dir / HELD / pointer.oid).touch()
                    adopted += 1
        return adopted

    # ---- LFS objects -------------------------------------------------------------------
    def object_path(self, oid: str) -> Path:
        check_oid(oid)
        return self.objects / oid[0:2] / oid[2:4] / oid

    def object_size(self, oid: str) -> int | None:
        """Size of a stored object, or None when the store does not hold it."""
        try:
            return self.object_path(oid).stat().st_size
        except FileNotFoundError:
            return None

    def publish(self, tmp: Path, oid: str) -> bool:
        """Atomically move a verified temp file into the store; False if it was already there."""
        dest = self.object_path(oid)
        dest.parent.mkdir(parents=True, exist_ok=True)
        existed = dest.exists()
        os.replace(tmp, dest)
        return not existed

    def temp_file(self, tag: str) -> Path:
        return self.incomplete / f"{tag}.{uuid.uuid4().hex}.tmp"

    def store_stream(self, oid: str, size: int, blocks) -> bool:
        """Store a whole object from an iterable of byte blocks (single PUT); True if new.

        The sha256 and size are checked before the object becomes visible.
        """
        check_oid(oid)
        tmp = self.temp_file(oid)
        try:
            sha, total = write_hashed(tmp, blocks, hashlib.sha256())
            _check_content(oid, size, total, sha)
            return self.publish(tmp, oid)
        finally:
            tmp.unlink(missing_ok=True)

    def open_object(self, oid: str):
        """Open a stored object for reading; StorageError 404 when absent."""
        try:
            return open(self.object_path(oid), "rb")
        except FileNotFoundError:
            raise StorageError(404, f"object {oid} not found") from None


def held_size(repo_dir: Path, objects: Path, oid: str) -> int | None:
    """Size of ``oid`` if the repo at ``repo_dir`` holds it and the store has it (also used by the push hook)."""
    try:
        if not (repo_dir / HELD / check_oid(oid)).exists():
            return None
        return (objects / oid[0:2] / oid[2:4] / oid).stat().st_size
    except (FileNotFoundError, StorageError):
        return None


def _check_content(oid: str, size: int, total: int, sha: str) -> None:
    if total != size:
        raise StorageError(400, f"size mismatch for {oid}: received {total} bytes, expected {size}")
    if sha != oid:
        raise StorageError(400, f"sha256 mismatch: content hashes to {sha}, not the oid {oid}")
