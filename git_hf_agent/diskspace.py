"""Free disk space before work that needs it (issue 10 item 6): ``git hf commit`` and ``git hf clone``.

git-lfs copies every file it cleans into its object store (``lfs.storage``,
default ``.git/lfs``) and every file it downloads there too, then once more into
the work tree; running out half-way leaves a half-staged index or a half-filled
clone. So both commands ask first, here, and stop with the numbers and a fix
(the rule and the message are :func:`git_hf_agent.preflight.space_problem`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from git_hf_agent import preflight
from git_hf_agent.errors import HfError


def lfs_dirs(repo_dir: Path) -> tuple[Path, Path]:
    """git-lfs's (object store, temp dir) for the repo, as ``git lfs env`` reports them (``lfs.storage`` honoured)."""
    proc = subprocess.run(["git", "lfs", "env"], cwd=repo_dir, capture_output=True, text=True)
    found = dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)
    git_dir = Path(found.get("LocalGitStorageDir") or repo_dir / ".git")
    return Path(found.get("LocalMediaDir") or git_dir / "lfs" / "objects"), Path(found.get("TempDir") or git_dir / "lfs" / "tmp")


def free_bytes(path: Path) -> tuple[int, Path]:
    """Free bytes on the file system holding ``path`` (or its nearest existing parent), and that parent."""
    probe = Path(os.path.abspath(path))
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    return shutil.disk_usage(probe).free, probe


def require(needs: dict[Path, int], doing: str, fix: str = preflight.STORAGE_FIX) -> None:
    """HfError when the bytes ``needs`` maps to each directory do not fit; directories on one disk add up."""
    per_disk: dict[int, tuple[Path, int]] = {}
    for where, need in needs.items():
        free, probe = free_bytes(where)
        dev = probe.stat().st_dev
        shown, total = per_disk.get(dev, (where, 0))
        per_disk[dev] = (shown, total + need)
        problem = preflight.space_problem(per_disk[dev][1], free, str(shown), doing)
        if problem:
            raise HfError(problem, fix)


def check_clone(repo_dir: Path, include: str = "") -> None:
    """Before ``git lfs pull`` in a fresh clone: room for the LFS files it downloads (store + work tree copies)."""
    args = ["git", "lfs", "ls-files", "--json"] + (["-I", include] if include else [])
    proc = subprocess.run(args, cwd=repo_dir, capture_output=True, text=True)
    try:
        files = json.loads(proc.stdout).get("files") or []
    except ValueError:
        return  # git-lfs without --json: nothing to measure; git lfs pull reports a full disk itself
    need = sum(int(f.get("size") or 0) for f in files if isinstance(f, dict))
    if not need:
        return
    store, _ = lfs_dirs(repo_dir)
    require({store: need, repo_dir: need}, f"downloading {len(files)} LFS file{'s' * (len(files) != 1)}",
            f"the clone (without LFS content) is in {repo_dir}: free space and run `git lfs pull` there, "
            "or clone with `--include PATTERN` / `--lazy` to download less, or set `lfs.storage` to a bigger disk")
