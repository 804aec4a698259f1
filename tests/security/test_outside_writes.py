"""Nothing is written outside the work tree and its git dir; a failed `git hf commit` changes nothing (issue 8)."""

from __future__ import annotations

import os

import pytest

from tests.cli_content.helpers import hf, new_repo
from tests.support import git

pytestmark = pytest.mark.e2e
OUTSIDE = b"a file of the user's, outside the repository\n"


@pytest.fixture
def symlinked(tmp_path):
    """A repo whose committed .gitattributes is a symlink to ../outside.txt (as a hostile repo can ship)."""
    outside = tmp_path / "outside.txt"
    outside.write_bytes(OUTSIDE)
    repo = new_repo(tmp_path / "repo")
    os.symlink("../outside.txt", repo / ".gitattributes")
    git("add", ".gitattributes", cwd=repo)
    git("commit", "-q", "-m", "symlinked attributes", cwd=repo)
    return repo, outside


def index_bytes(repo):
    return (repo / ".git" / "index").read_bytes()


def test_init_refuses_a_symlinked_gitattributes(symlinked):
    repo, outside = symlinked
    proc = hf("init", cwd=repo, check=False)
    assert proc.returncode == 1
    assert "symbolic link" in proc.stderr and "fix:" in proc.stderr and "regular file" in proc.stderr
    assert outside.read_bytes() == OUTSIDE
    assert os.path.islink(repo / ".gitattributes")


def test_commit_refuses_a_symlinked_gitattributes_and_changes_nothing(symlinked):
    repo, outside = symlinked
    git("lfs", "install", "--local", cwd=repo)
    (repo / "weights.bin").write_bytes(b"\0\1\2" * 50_000)
    git("add", "weights.bin", cwd=repo)  # already staged as a regular blob: must stay exactly so
    before = index_bytes(repo)
    proc = hf("commit", "-m", "weights", cwd=repo, check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "symbolic link" in proc.stderr and "fix:" in proc.stderr
    assert outside.read_bytes() == OUTSIDE
    assert index_bytes(repo) == before
    assert git("rev-list", "--count", "HEAD", cwd=repo).stdout.strip() == "1"


def test_failed_commit_puts_index_and_gitattributes_back(tmp_path):
    repo = new_repo(tmp_path / "repo")
    git("lfs", "install", "--local", cwd=repo)
    (repo / "README.md").write_text("hello\n")
    git("add", "README.md", cwd=repo)
    git("commit", "-q", "-m", "first", cwd=repo)
    (repo / "notes.txt").write_text("staged by the user\n")
    git("add", "notes.txt", cwd=repo)
    (repo / "weights.bin").write_bytes(b"\0\1\2" * 50_000)
    hook = repo / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\necho 'refused by the hook' >&2\nexit 1\n")
    hook.chmod(0o755)
    before = index_bytes(repo)
    proc = hf("commit", "-m", "weights", cwd=repo, check=False)
    assert proc.returncode == 1 and "git commit failed" in proc.stderr, proc.stdout + proc.stderr
    assert index_bytes(repo) == before
    assert not (repo / ".gitattributes").exists()  # the tracking line it added is gone again
    assert (repo / "weights.bin").read_bytes() == b"\0\1\2" * 50_000
    assert git("status", "--porcelain", cwd=repo).stdout.splitlines() == ["A  notes.txt", "?? weights.bin"]
