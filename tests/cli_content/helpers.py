"""Helpers for the content-command tests: run `git hf` as a real subprocess, craft repos and pointers."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

from git_hf_agent.lfspointer import Pointer
from tests.support import TOKEN, create_repo, git


def hf(*args: str, cwd: Path, env: dict[str, str] | None = None, check: bool | None = True,
       timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``git hf ARGS`` (``python -m git_hf_agent``) and return the finished process (text output).

    ``check=True`` asserts exit 0, ``check=False`` asserts a non-zero exit, ``None`` asserts nothing.
    """
    proc = subprocess.run([sys.executable, "-m", "git_hf_agent", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=timeout)
    if check is not None and (proc.returncode == 0) != check:
        raise AssertionError(f"git hf {' '.join(args)} exited {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    return proc


def new_repo(path: Path) -> Path:
    """An empty local repo on branch main (no git-lfs set-up, no remote)."""
    git("init", "-q", "-b", "main", str(path))
    return path


def commit_all(repo: Path, message: str = "c") -> str:
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", message, cwd=repo)
    return git("rev-parse", "HEAD", cwd=repo).stdout.strip()


def fake_pointer(repo: Path, path: str, size: int) -> Pointer:
    """Write a valid LFS pointer for a (non-existent) object of ``size`` bytes, as if git-lfs had cleaned it.

    Lets the size rules (5 GiB, 20 GB, 50 GB) be tested without hashing gigabytes.
    """
    pointer = Pointer(hashlib.sha256(f"{path}:{size}".encode()).hexdigest(), size)
    target = repo / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(pointer.text())
    return pointer


def hub_env(hub) -> dict[str, str]:
    """What a user pointing at this local Hub has set."""
    return {"HF_ENDPOINT": hub.url, "HF_TOKEN": TOKEN}


def hub_clone(hub, tmp_path: Path, repo_id: str = "alice/m", name: str = "clone") -> Path:
    """Create ``repo_id`` on the local Hub and `git hf clone` it (configured by `git hf init`)."""
    create_repo(hub.url, repo_id)
    target = tmp_path / name
    hf("clone", "--lazy", repo_id, str(target), cwd=tmp_path, env=hub_env(hub))
    return target


def stored_object(hub, oid: str) -> Path:
    """Where the local Hub keeps an LFS object (docs/local-hub.md)."""
    return hub.root / "lfs" / "objects" / oid[:2] / oid[2:4] / oid
