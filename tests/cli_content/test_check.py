"""`git hf check` end to end on real repositories: each rule, exit codes, JSON, history and upstream ranges."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from tests.cli_content.helpers import commit_all, fake_pointer, hf, new_repo
from tests.support import git, sparse_file

pytestmark = pytest.mark.e2e
GB = 1000**3


def check_json(repo, *args, ok: bool):
    proc = hf("check", "--json", *args, cwd=repo, check=ok)
    return json.loads(proc.stdout)


def rules(report):
    return sorted((f["level"], f["rule"], f["path"]) for f in report["findings"])


@pytest.fixture
def repo(tmp_path):
    path = new_repo(tmp_path / "repo")
    git("lfs", "install", "--local", cwd=path)
    return path


def test_clean_repo_passes(repo):
    (repo / "README.md").write_text("# model\n")
    fake_pointer(repo, "weights.safetensors", 3 * GB)
    commit_all(repo)
    proc = hf("check", cwd=repo)
    assert "0 errors, 0 warnings: ready to push" in proc.stdout
    assert check_json(repo, ok=True)["files_checked"] == 2


def test_large_and_binary_files_outside_lfs_are_errors(repo):
    sparse_file(repo / "big.txt", 12 * 1024**2)  # sparse: no disk, and zlib squeezes it
    (repo / "tiny.png").write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR")
    (repo / "notes.txt").write_text("plain text\n")
    commit_all(repo)
    proc = hf("check", cwd=repo, check=False)
    assert proc.returncode == 1
    assert "big.txt: 12.0 MiB stored in git, not LFS" in proc.stdout
    assert "tiny.png: binary file stored in git, not LFS" in proc.stdout
    assert "notes.txt" not in proc.stdout
    assert 'git lfs migrate import --include="big.txt"' in proc.stdout
    assert rules(check_json(repo, ok=False)) == [
        ("error", "binary-file-not-in-lfs", "tiny.png"), ("error", "large-file-not-in-lfs", "big.txt")]


def test_huge_file_in_git_is_sized_from_its_header_not_read(repo):
    """A 1 GiB file committed outside LFS: check reports it with a small memory peak (the blob is not loaded)."""
    sparse_file(repo / "huge.dat", 1024**3)
    commit_all(repo)
    probe = ("import resource, subprocess, sys; "
             "p = subprocess.run([sys.executable, '-m', 'git_hf_agent', 'check'], capture_output=True, text=True); "
             "print(p.stdout); print('maxrss_kib', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", probe], cwd=repo, capture_output=True, text=True, check=True).stdout
    assert "huge.dat: 1.0 GiB stored in git, not LFS" in out
    peak_mib = int(out.rsplit("maxrss_kib", 1)[1]) / 1024
    print(f"git hf check peak RSS with a 1 GiB blob: {peak_mib:.0f} MiB")
    assert peak_mib < 150


def test_lfs_size_limits(repo):
    hf("init", cwd=repo)
    fake_pointer(repo, "ok.bin", 19 * GB)
    fake_pointer(repo, "warn.bin", 21 * GB)
    commit_all(repo)
    report = check_json(repo, ok=True)  # warnings alone keep exit 0
    assert ("warning", "lfs-file-large", "warn.bin") in rules(report)
    fake_pointer(repo, "huge.bin", 51 * GB)
    commit_all(repo)
    report = check_json(repo, ok=False)
    assert ("error", "lfs-file-too-large", "huge.bin") in rules(report)
    assert not any(f["path"] == "ok.bin" and f["rule"].startswith("lfs-file") for f in report["findings"])


def test_over_5gib_without_the_agent_is_an_error_until_init(repo):
    fake_pointer(repo, "model.bin", 6 * 1024**3)
    commit_all(repo)
    proc = hf("check", cwd=repo, check=False)
    assert "model.bin: 6.0 GiB is over 5 GiB and needs a multipart upload" in proc.stdout
    assert "git hf init" in proc.stdout
    hf("init", cwd=repo)
    assert rules(check_json(repo, ok=True)) == []


def test_registered_agent_that_is_not_installed_is_reported(repo):
    fake_pointer(repo, "model.bin", 6 * 1024**3)
    commit_all(repo)
    git("config", "lfs.customtransfer.multipart.path", "/nowhere/git-hf-agent", cwd=repo)
    proc = hf("check", cwd=repo, check=False)
    assert "the registered multipart agent '/nowhere/git-hf-agent' is not installed" in proc.stdout
    git("config", "lfs.customtransfer.multipart.path", "huggingface-cli", cwd=repo)
    git("config", "lfs.customtransfer.multipart.args", "lfs-multipart-upload", cwd=repo)
    proc = hf("check", cwd=repo, check=False)
    assert "huggingface_hub's `huggingface-cli lfs-multipart-upload`, a command that was removed" in proc.stdout
    hf("init", cwd=repo)  # replaces it
    hf("check", cwd=repo)


def test_missing_lfs_hook_is_an_error_when_lfs_files_are_pushed(tmp_path):
    repo = new_repo(tmp_path / "nohook")
    fake_pointer(repo, "w.bin", 100)
    commit_all(repo)
    report = check_json(repo, ok=False)
    assert rules(report) == [("error", "lfs-hook-missing", None)]


def test_own_pre_push_hook_without_lfs_is_a_warning(repo):
    hook = repo / ".git" / "hooks" / "pre-push"
    hook.write_text("#!/bin/sh\nexec my-linter\n")
    fake_pointer(repo, "w.bin", 100)
    commit_all(repo)
    assert rules(check_json(repo, ok=True)) == [("warning", "lfs-hook-unknown", None)]


def test_git_lfs_missing(repo, tmp_path):
    (repo / "a.txt").write_text("a\n")
    commit_all(repo)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    os.symlink(shutil.which("git"), bin_dir / "git")
    proc = hf("check", cwd=repo, check=False, env={"PATH": str(bin_dir)})
    assert "git-lfs is not installed" in proc.stdout and "apt-get install git-lfs" in proc.stdout


def test_deleted_file_still_in_unpushed_history_is_caught(repo):
    (repo / "blob.bin").write_bytes(b"\0\1\2" * 100)
    commit_all(repo, "add")
    git("rm", "-q", "blob.bin", cwd=repo)
    (repo / "a.txt").write_text("a\n")
    commit_all(repo, "remove")
    proc = hf("check", cwd=repo, check=False)
    assert "blob.bin: binary file" in proc.stdout and "deleted later but still in the history" in proc.stdout


def test_files_brought_in_by_a_merge_are_checked(repo):
    (repo / "a.txt").write_text("a\n")
    commit_all(repo, "base")
    git("checkout", "-q", "-b", "side", cwd=repo)
    (repo / "side.bin").write_bytes(b"\0side")
    commit_all(repo, "side")
    git("checkout", "-q", "main", cwd=repo)
    (repo / "b.txt").write_text("b\n")
    commit_all(repo, "main")
    git("merge", "-q", "--no-edit", "side", cwd=repo)
    assert rules(check_json(repo, ok=False)) == [("error", "binary-file-not-in-lfs", "side.bin")]


def test_only_what_the_remote_lacks_is_checked(repo):
    """Files already on the remote (its tracking refs) are not the push's problem; new ones are."""
    (repo / "legacy.bin").write_bytes(b"\0legacy")
    base = commit_all(repo, "on the Hub already")
    git("update-ref", "refs/remotes/origin/main", base, cwd=repo)
    git("config", "remote.origin.url", "https://huggingface.co/alice/m", cwd=repo)
    git("config", "branch.main.remote", "origin", cwd=repo)
    git("config", "branch.main.merge", "refs/heads/main", cwd=repo)
    (repo / "a.txt").write_text("a\n")
    commit_all(repo, "new")
    report = check_json(repo, ok=True)
    assert report["files_checked"] == 1 and report["compared_to"] == "origin/main"
    (repo / "new.bin").write_bytes(b"\0new")
    commit_all(repo, "newer")
    proc = hf("check", cwd=repo, check=False)
    assert "new.bin: binary file" in proc.stdout and "legacy.bin" not in proc.stdout
    assert "git reset --soft origin/main" in proc.stdout


def test_folder_and_repo_file_counts(repo):
    """100,001 files (10,001 in one folder), built with plumbing; prints how long check took."""
    blob = git("hash-object", "-w", "--stdin", cwd=repo, input="x\n").stdout.strip()
    lines = [f"100644 {blob}\tcrowded/f{i}.txt" for i in range(10_001)]
    lines += [f"100644 {blob}\tdata/{i // 5000}/f{i}.txt" for i in range(90_000)]
    git("update-index", "--index-info", cwd=repo, input="\n".join(lines) + "\n")
    git("commit", "-q", "-m", "many", cwd=repo)
    start = time.monotonic()
    report = check_json(repo, ok=True)
    print(f"git hf check on {report['tree_files']} files: {time.monotonic() - start:.2f} s")
    assert report["tree_files"] == 100_001
    assert rules(report) == [("warning", "folder-too-many-entries", "crowded"), ("warning", "repo-too-many-files", None)]


def test_unknown_revision_and_not_a_repo(repo, tmp_path):
    (repo / "a.txt").write_text("a\n")
    commit_all(repo)
    proc = hf("check", "nope", cwd=repo, check=False)
    assert "error: unknown revision 'nope'" in proc.stderr
    outside = tmp_path / "plain"
    outside.mkdir()
    proc = hf("check", cwd=outside, check=False)
    assert "not a git repository" in proc.stderr and "fix:" in proc.stderr
