"""git_hf_agent.gitindex against indexes real git wrote: versions 2, 3 (extended flags) and 4 (compressed paths)."""

from __future__ import annotations

import pytest

from git_hf_agent import gitindex
from tests.support import git


@pytest.fixture
def repo(tmp_path):
    path = tmp_path / "r"
    git("init", "-q", "-b", "main", str(path))
    for name in ("a.txt", "dir/deep/one.bin", "dir/deep/two.bin", "dir/x", "l" * 200 + "/" + "m" * 200):
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(name)
    git("add", ".", cwd=path)
    return path


def staged(repo) -> dict[bytes, str]:
    out = git("ls-files", "-s", "-z", cwd=repo).stdout
    return {rec.split("\t", 1)[1].encode(): rec.split()[1] for rec in out.split("\0") if rec}


@pytest.mark.parametrize("version", [2, 4])
def test_every_entry_is_found_with_its_object_id(repo, version):
    git("update-index", "--index-version", str(version), cwd=repo)
    data = (repo / ".git" / "index").read_bytes()
    entries = gitindex.parse(data)
    assert data[4:8] == version.to_bytes(4, "big")
    assert {path: e.oid for path, e in entries.items()} == staged(repo)
    assert entries[b"a.txt"].mode == 0o100644


def test_entries_git_does_not_compare_with_the_work_tree_are_left_out(repo):
    git("update-index", "--skip-worktree", "dir/x", cwd=repo)
    (repo / "new.txt").write_text("n")
    git("add", "--intent-to-add", "new.txt", cwd=repo)
    data = (repo / ".git" / "index").read_bytes()
    assert data[4:8] == (3).to_bytes(4, "big")
    entries = gitindex.parse(data)
    assert b"dir/x" not in entries and b"new.txt" not in entries
    assert set(entries) == set(staged(repo)) - {b"dir/x", b"new.txt"}


def test_new_stat_data_makes_git_see_a_rewritten_file_as_unchanged(repo):
    """A filtered file whose stat data is stale makes git run the clean filter; after with_stat it does not."""
    (repo / ".gitattributes").write_text("*.bin filter=probe\n")
    git("-c", "filter.probe.clean=cat", "add", ".", cwd=repo)
    git("commit", "-q", "-m", "c", cwd=repo)
    probe = ("-c", "filter.probe.clean=false", "-c", "filter.probe.required=true", "diff-files", "--name-only")
    target = repo / "dir" / "deep" / "one.bin"
    target.unlink()
    target.write_text("dir/deep/one.bin")   # same content, new inode and times
    assert git(*probe, cwd=repo, check=False).returncode == 128   # git had to clean it to compare
    index = repo / ".git" / "index"
    data = index.read_bytes()
    entries = gitindex.parse(data)
    with gitindex.IndexLock(index) as lock:
        lock.commit(gitindex.with_stat(data, {entries[b"dir/deep/one.bin"].offset: target.stat()}), target.stat().st_mtime_ns)
    assert git(*probe, cwd=repo).stdout == ""
    assert staged(repo) == {p: e.oid for p, e in gitindex.parse(index.read_bytes()).items()}
    assert git("fsck", "--no-progress", cwd=repo).returncode == 0 and not (repo / ".git" / "index.lock").exists()


def test_a_held_lock_or_a_damaged_index_is_refused_and_nothing_changes(repo):
    index = repo / ".git" / "index"
    data = index.read_bytes()
    damaged = bytearray(data)
    damaged[20] ^= 1
    with pytest.raises(gitindex.IndexUnusable, match="checksum"):
        gitindex.parse(bytes(damaged))
    with pytest.raises(gitindex.IndexUnusable):
        gitindex.parse(data[:40])
    (repo / ".git" / "index.lock").write_bytes(b"")
    with pytest.raises(gitindex.IndexUnusable, match="another git command"):
        with gitindex.IndexLock(index):
            pass
    assert (repo / ".git" / "index.lock").exists() and index.read_bytes() == data


def test_a_split_index_is_refused(repo):
    git("update-index", "--split-index", cwd=repo)
    with pytest.raises(gitindex.IndexUnusable, match="split index"):
        gitindex.parse((repo / ".git" / "index").read_bytes())


def test_an_index_git_wrote_without_its_checksum_keeps_none(repo):
    """git 2.40+ with index.skipHash (feature.manyFiles) writes zeros where the checksum goes."""
    data = (repo / ".git" / "index").read_bytes()
    skipped = data[:-20] + bytes(20)
    entries = gitindex.parse(skipped)
    assert {path: e.oid for path, e in entries.items()} == staged(repo)
    st = (repo / "a.txt").stat()
    rewritten = gitindex.with_stat(skipped, {entries[b"a.txt"].offset: st})
    assert rewritten[-20:] == bytes(20) and len(rewritten) == len(data)
    assert gitindex.with_stat(data, {entries[b"a.txt"].offset: st})[-20:] != bytes(20)


def test_files_stamped_by_a_clock_far_ahead_give_up_within_the_limit_and_leave_the_index_alone(repo):
    """Files from a skewed clock (a network file system's server) would have the index wait as long as the
    skew: the wait stops at MTIME_WAIT_S, the index is unchanged and unlocked (git's checkout then does it)."""
    import time

    index = repo / ".git" / "index"
    data = index.read_bytes()
    ahead_ns = time.time_ns() + 30 * 10**9
    started = time.monotonic()
    with pytest.raises(gitindex.IndexUnusable, match="clock"):
        with gitindex.IndexLock(index) as lock:
            lock.commit(data, ahead_ns)
    assert time.monotonic() - started < gitindex.MTIME_WAIT_S + 2
    assert index.read_bytes() == data and not (repo / ".git" / "index.lock").exists()
