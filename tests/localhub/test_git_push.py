"""Real ``git`` + ``git-lfs`` against ``git hf serve``: push, clone, and the Hub's push checks."""

from __future__ import annotations

import os

import pytest

from tests.support import TOKEN, authed, create_repo, git, sparse_file

pytestmark = pytest.mark.e2e
MiB = 1024 * 1024


def _work_repo(path, lfs_url=None):
    """A fresh work repo with git-lfs tracking *.bin (basic transfer, locks verification off)."""
    git("lfs", "install", "--skip-repo")  # filters in the hermetic global config, so clones smudge too
    git("init", "-q", "-b", "main", str(path))
    git("lfs", "track", "*.bin", cwd=path)
    if lfs_url:
        git("config", f"lfs.{lfs_url}.locksverify", "false", cwd=path)
    return path


def _commit_all(work, message):
    git("add", ".", cwd=work)
    git("commit", "-qm", message, cwd=work)


def test_push_and_clone_lfs_files(hub, tmp_path):
    url = create_repo(hub.url, "alice/x")
    work = _work_repo(tmp_path / "work", f"{url}.git/info/lfs")
    sparse_file(work / "weights.bin", 3 * MiB, stamp=b"push-and-clone")
    (work / "sub").mkdir()
    (work / "sub" / "small.bin").write_bytes(os.urandom(1000))
    (work / "README.md").write_text("hello\n")
    _commit_all(work, "weights")
    git("push", authed(url), "main", cwd=work)
    stats = hub.stats()
    assert stats["objects_stored"] == 2 and stats["requests"]["basic"] == 2

    clone = tmp_path / "clone"
    git("clone", "-q", url, str(clone))
    assert (clone / "weights.bin").read_bytes() == (work / "weights.bin").read_bytes()
    assert (clone / "sub" / "small.bin").read_bytes() == (work / "sub" / "small.bin").read_bytes()
    assert (clone / "README.md").read_text() == "hello\n"

    # A second push of the same objects uploads nothing again.
    git("commit", "--allow-empty", "-qm", "again", cwd=work)
    git("push", authed(url), "main", cwd=work)
    assert hub.stats()["requests"]["basic"] == 2


def test_dataset_repo_and_dot_git_urls(hub, tmp_path):
    url = create_repo(hub.url, "alice/data", "dataset")
    work = _work_repo(tmp_path / "work", f"{url}.git/info/lfs")
    (work / "a.bin").write_bytes(b"\0" * 5000)
    _commit_all(work, "data")
    git("push", authed(url) + ".git", "main", cwd=work)
    assert "refs/heads/main" in git("ls-remote", f"{url}.git", cwd=work).stdout


def test_non_lfs_blob_over_10_mib_is_rejected_with_the_fix(hub, tmp_path):
    url = create_repo(hub.url, "alice/x")
    work = _work_repo(tmp_path / "work")
    sparse_file(work / "big.dat", 10 * MiB + 1, stamp=b"too-big")
    (work / "ok.dat").write_bytes(b"x" * (10 * MiB))  # exactly 10 MiB is allowed
    _commit_all(work, "big")
    proc = git("push", authed(url), "main", cwd=work, check=False)
    assert proc.returncode != 0
    assert "big.dat" in proc.stderr and "git lfs track" in proc.stderr and "git hf commit" in proc.stderr
    assert "ok.dat" not in proc.stderr
    assert git("ls-remote", url, cwd=work).stdout == ""  # nothing was accepted


def test_pointer_to_an_object_the_hub_lacks_is_rejected(hub, tmp_path):
    url = create_repo(hub.url, "alice/x")
    work = tmp_path / "work"
    git("init", "-q", "-b", "main", str(work))
    missing = "ab" * 32
    (work / "model.bin").write_text(f"version https://git-lfs.github.com/spec/v1\noid sha256:{missing}\nsize 42\n")
    _commit_all(work, "pointer only")
    proc = git("push", authed(url), "main", cwd=work, check=False)
    assert proc.returncode != 0
    assert "model.bin" in proc.stderr and missing in proc.stderr and "does not hold" in proc.stderr


def test_unknown_repo_is_not_found(hub, tmp_path):
    proc = git("clone", f"{hub.url}/alice/nope", str(tmp_path / "c"), check=False)
    assert proc.returncode != 0 and "not found" in proc.stderr


def test_push_without_a_valid_token_is_asked_for_credentials(hub, tmp_path):
    url = create_repo(hub.url, "alice/x")
    work = _work_repo(tmp_path / "work")
    (work / "README.md").write_text("x\n")
    _commit_all(work, "x")
    anonymous = git("push", url, "main", cwd=work, check=False)
    assert anonymous.returncode != 0 and "could not read Username" in anonymous.stderr  # 401 -> credential prompt
    wrong = git("push", authed(url, token="hf_wrongToken"), "main", cwd=work, check=False)
    assert wrong.returncode != 0 and "Authentication failed" in wrong.stderr
    assert TOKEN not in (hub.log_path.read_text())


def test_partial_clone_without_blobs(hub, tmp_path):
    url = create_repo(hub.url, "alice/x")
    work = _work_repo(tmp_path / "work")
    (work / "a.txt").write_text("a\n")
    _commit_all(work, "a")
    git("push", authed(url), "main", cwd=work)
    clone = tmp_path / "clone"
    git("clone", "-q", "--filter=blob:none", url, str(clone))
    assert (clone / "a.txt").read_text() == "a\n"
    assert git("config", "remote.origin.partialclonefilter", cwd=clone).stdout.strip() == "blob:none"


def test_binary_files_outside_lfs_are_rejected_unless_allowed(start_hub, tmp_path):
    work = _work_repo(tmp_path / "work")
    (work / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR" + os.urandom(3000))
    (work / "notes.txt").write_text("plain text is fine\n")
    _commit_all(work, "binary")
    strict = start_hub()
    proc = git("push", authed(create_repo(strict.url, "alice/x")), "main", cwd=work, check=False)
    assert proc.returncode != 0
    assert "image.png is a binary file not in Git LFS" in proc.stderr and "git lfs track" in proc.stderr
    assert "notes.txt" not in proc.stderr
    lenient = start_hub("--allow-binary")
    git("push", authed(create_repo(lenient.url, "alice/x")), "main", cwd=work)
