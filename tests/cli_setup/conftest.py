"""Fixtures for the `git hf init/credential/create/clone/doctor` tests: repos and a seeded Hub repo."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import authed, create_repo, git


def push_lfs_files(url: str, work: Path, files: dict[str, bytes]) -> None:
    """Clone ``url`` to ``work`` with the test token, track ``*.bin`` in LFS, commit ``files`` and push."""
    git("clone", "-q", authed(url), str(work))
    git("lfs", "install", "--local", cwd=work)
    git("lfs", "track", "*.bin", cwd=work)
    for name, data in files.items():
        (work / name).write_bytes(data)
    git("add", ".", cwd=work)
    git("commit", "-q", "-m", "seed", cwd=work)
    git("push", "-q", authed(url), "main", cwd=work)


def hf(*args: str, cwd: Path | str | None = None, env: dict[str, str] | None = None,
       input: str | None = None):
    """Run the real `git hf ...` (console script on PATH) and return the completed process."""
    return git("hf", *args, cwd=cwd, env=env, input=input, check=False, timeout=300)


@pytest.fixture
def repo(tmp_path) -> Path:
    """An empty non-bare repository with a `main` branch."""
    path = tmp_path / "work"
    git("init", "-q", "-b", "main", str(path))
    return path


@pytest.fixture
def seeded(hub, tmp_path):
    """alice/seeded on the local Hub with two LFS files (weights.bin, data.parquet) and README.md.

    Returns (hub, {path: bytes}) so tests can compare what a clone materialises.
    """
    url = create_repo(hub.url, "alice/seeded")
    src = tmp_path / "seed"
    git("clone", "-q", authed(url), str(src))  # on top of the Hub's initial commit, if it made one
    git("checkout", "-q", "-B", "main", cwd=src)
    git("lfs", "install", "--local", cwd=src)
    git("lfs", "track", "*.bin", "*.parquet", cwd=src)
    files = {"weights.bin": b"W" * 300_000, "data.parquet": b"P" * 200_000, "README.md": b"# seeded\n"}
    for name, data in files.items():
        (src / name).write_bytes(data)
    git("add", ".", cwd=src)
    git("commit", "-q", "-m", "seed", cwd=src)
    git("-c", f"lfs.{url}.git/info/lfs.locksverify=false", "push", "-q", authed(url), "main", cwd=src)
    return hub, files
