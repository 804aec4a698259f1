"""Benchmark content: a git repo whose commit holds LFS pointers to big sparse files.

Every contender pushes this same commit. Writing 6 GiB through git-lfs's clean
filter would cost a real 6 GiB copy per scenario, so the repo is assembled by
hand instead: the content file is sparse (zeros plus a stamp at three offsets,
so oids differ and part order matters), the LFS object is a hard link to it,
and the pointer blobs are written with ``git hash-object``. git-lfs sees an
ordinary repo whose objects are already in ``.git/lfs/objects``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from tests.support import git, sparse_file

_READ = 8 << 20


@dataclass(frozen=True)
class LfsFile:
    """One LFS object of the benchmark commit: its path in the repo, oid, size and content file."""

    name: str
    oid: str
    size: int
    content: Path


def sha256_file(path: Path) -> str:
    """sha256 hex of a file, streamed (sparse zeros read at memory speed)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(_READ):
            digest.update(block)
    return digest.hexdigest()


def pointer(oid: str, size: int) -> str:
    """The git-lfs v1 pointer text for an object."""
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {size}\n"


def _add_blob(repo: Path, name: str, text: str, env: dict) -> None:
    blob = git("hash-object", "-w", "--stdin", cwd=repo, env=env, input=text).stdout.strip()
    git("update-index", "--add", "--cacheinfo", f"100644,{blob},{name}", cwd=repo, env=env)


def build_repo(repo: Path, files: list[tuple[str, int]], stamp: str, env: dict) -> list[LfsFile]:
    """Create (or reuse, when its manifest matches) a repo whose ``main`` commit holds ``files``.

    ``files`` are (name, size) pairs; the returned list describes each object.
    """
    manifest = repo / ".bench-manifest.json"
    wanted = {"files": files, "stamp": stamp}
    if manifest.exists():
        saved = json.loads(manifest.read_text())
        if saved["wanted"] == json.loads(json.dumps(wanted)):
            return [LfsFile(f["name"], f["oid"], f["size"], Path(f["content"])) for f in saved["objects"]]
    if repo.exists():
        shutil.rmtree(repo)
    repo.mkdir(parents=True)
    git("init", "-q", "-b", "main", cwd=repo, env=env)
    git("lfs", "install", "--local", cwd=repo, env=env)
    git("config", "lfs.locksverify", "false", cwd=repo, env=env)
    content_dir = repo / ".git" / "bench-content"
    objects = []
    for name, size in files:
        content = sparse_file(content_dir / name, size, stamp=f"{stamp}:{name}".encode())
        oid = sha256_file(content)
        store = repo / ".git" / "lfs" / "objects" / oid[0:2] / oid[2:4] / oid
        store.parent.mkdir(parents=True, exist_ok=True)
        if not store.exists():
            os.link(content, store)
        _add_blob(repo, name, pointer(oid, size), env)
        objects.append(LfsFile(name, oid, size, content))
    _add_blob(repo, ".gitattributes", "*.bin filter=lfs diff=lfs merge=lfs -text\n", env)
    git("commit", "-q", "-m", f"benchmark content {stamp}", cwd=repo, env=env)
    manifest.write_text(json.dumps({
        "wanted": wanted,
        "objects": [{"name": o.name, "oid": o.oid, "size": o.size, "content": str(o.content)} for o in objects],
    }))
    return objects


def stored_ok(root: Path, obj: LfsFile) -> bool:
    """True when the local Hub under ``root`` holds ``obj`` byte-identical (size and sha256)."""
    path = root / "lfs" / "objects" / obj.oid[0:2] / obj.oid[2:4] / obj.oid
    return path.is_file() and path.stat().st_size == obj.size and sha256_file(path) == obj.oid
