"""`git hf commit` end to end: binary and > 10 MiB files go to LFS, text stays in git, nothing is lost."""

from __future__ import annotations

import hashlib
import shutil

import pytest

from git_hf_agent.lfspointer import parse
from tests.cli_content.helpers import commit_all, hf, new_repo
from tests.support import git, sparse_file

pytestmark = pytest.mark.e2e
MiB = 1024**2


@pytest.fixture
def repo(tmp_path):
    path = new_repo(tmp_path / "repo")
    hf("init", cwd=path)
    git("add", ".gitattributes", cwd=path)
    git("commit", "-q", "-m", "init", cwd=path)
    return path


def committed(repo, path, rev="HEAD"):
    """The blob at ``path`` in ``rev``: its LFS pointer, or None when git stores the file itself."""
    data = git("cat-file", "blob", f"{rev}:{path}", cwd=repo).stdout.encode()
    return parse(data)


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_binary_and_large_files_go_to_lfs_text_stays(repo):
    sparse_file(repo / "data" / "table.csv", 11 * 1024**2, stamp=b"row,1\n")
    (repo / "icon.ico").write_bytes(b"\0\0\1\0" + bytes(range(256)))
    (repo / "README.md").write_text("# hello\n")
    (repo / "config.json").write_text('{"a": 1}\n')
    before = {p: sha256(repo / p) for p in ("data/table.csv", "icon.ico", "README.md")}
    proc = hf("commit", "-m", "add files", cwd=repo)
    assert "tracking with LFS" in proc.stdout
    assert "data/table.csv: 11.0 MiB, over the Hub's 10 MiB limit" in proc.stdout
    assert "icon.ico: binary" in proc.stdout
    assert "README.md" not in proc.stdout.split("tracking with LFS")[1].split("[main")[0]
    attributes = (repo / ".gitattributes").read_text()
    assert "/data/table.csv filter=lfs diff=lfs merge=lfs -text" in attributes
    assert "/icon.ico filter=lfs diff=lfs merge=lfs -text" in attributes
    assert committed(repo, "data/table.csv").size == 11 * 1024**2
    assert committed(repo, "icon.ico").oid == before["icon.ico"]
    assert committed(repo, "README.md") is None and committed(repo, "config.json") is None
    assert git("log", "-1", "--format=%s", cwd=repo).stdout.strip() == "add files"
    assert git("status", "--porcelain", cwd=repo).stdout == ""
    assert {p: sha256(repo / p) for p in before} == before  # work tree untouched
    hf("check", cwd=repo)


def test_already_staged_large_file_is_restaged_as_pointer(repo):
    (repo / "blob.dat").write_bytes(b"\0" * 5000)
    git("add", "blob.dat", cwd=repo)  # staged as a regular blob before git hf commit
    hf("commit", "-m", "x", cwd=repo)
    assert committed(repo, "blob.dat").size == 5000


def test_extension_pattern_when_several_files_share_it_and_none_stays_in_git(repo):
    for i in range(3):
        (repo / "shards" / f"s{i}.rec").parent.mkdir(exist_ok=True)
        (repo / "shards" / f"s{i}.rec").write_bytes(b"\0rec" + bytes([i]))
    (repo / "w.safetensors").write_bytes(b"\0weights")
    (repo / "a.dat").write_bytes(b"\0bin")
    (repo / "b.dat").write_text("text that stays in git\n")
    hf("commit", cwd=repo)
    attributes = (repo / ".gitattributes").read_text().splitlines()
    assert "*.rec filter=lfs diff=lfs merge=lfs -text" in attributes
    assert "/a.dat filter=lfs diff=lfs merge=lfs -text" in attributes  # b.dat is text: no *.dat
    assert committed(repo, "b.dat") is None and committed(repo, "a.dat") is not None
    assert all(committed(repo, f"shards/s{i}.rec") for i in range(3))
    assert committed(repo, "w.safetensors") is not None  # *.safetensors came from git hf init
    assert git("log", "-1", "--format=%s", cwd=repo).stdout.strip() == "Add 6 files, update 1 file"


def test_paths_with_spaces_and_glob_characters(repo):
    name = "my model [final] #1.weights"
    (repo / name).write_bytes(b"\0\1")
    (repo / "my model final #1.weights").write_text("text\n")
    hf("commit", "-m", "odd names", cwd=repo)
    assert committed(repo, name) is not None
    assert committed(repo, "my model final #1.weights") is None


def test_paths_limit_what_is_committed_and_other_changes_stay(repo):
    (repo / "a.bin").write_bytes(b"\0a")
    (repo / "b.txt").write_text("not yet\n")
    hf("commit", "-m", "only a", "a.bin", cwd=repo)
    assert git("show", "--name-only", "--format=", "HEAD", cwd=repo).stdout.split() == ["a.bin"]
    assert git("status", "--porcelain", cwd=repo).stdout == "?? b.txt\n"
    assert (repo / "b.txt").read_text() == "not yet\n"


def test_nothing_to_commit(repo):
    proc = hf("commit", "-m", "nothing", cwd=repo)
    assert "nothing to commit" in proc.stdout
    assert git("rev-list", "--count", "HEAD", cwd=repo).stdout.strip() == "1"


def test_sets_up_git_lfs_when_the_repo_lacks_it(tmp_path):
    repo = new_repo(tmp_path / "bare-setup")
    (repo / "w.bin").write_bytes(b"\0w")
    proc = hf("commit", "-m", "w", cwd=repo)
    assert "git-lfs was not set up in this repo: ran `git lfs install --local`" in proc.stdout
    assert committed(repo, "w.bin") is not None
    assert "lfs" in (repo / ".git" / "hooks" / "pre-push").read_text()


def test_modified_text_file_that_grew_binary(repo):
    (repo / "notes.log").write_text("small\n")
    commit_all(repo, "text")
    (repo / "notes.log").write_bytes(b"now \0 binary")
    hf("commit", "-m", "grew", cwd=repo)
    assert committed(repo, "notes.log") is not None
    assert committed(repo, "notes.log", "HEAD~1") is None  # history is not rewritten


def test_staged_rename_and_deletion_are_committed(repo):
    (repo / "old name.bin").write_bytes(b"\0x")
    (repo / "gone.txt").write_text("bye\n")
    hf("commit", "-m", "first", cwd=repo)
    git("mv", "old name.bin", "new name.bin", cwd=repo)
    (repo / "gone.txt").unlink()
    (repo / "fresh.bin").write_bytes(b"\0fresh")
    hf("commit", "-m", "second", cwd=repo)
    files = git("ls-tree", "-r", "--name-only", "HEAD", cwd=repo).stdout.split("\n")
    assert "new name.bin" in files and "old name.bin" not in files and "gone.txt" not in files
    assert committed(repo, "new name.bin") is not None and committed(repo, "fresh.bin") is not None
    assert git("status", "--porcelain", cwd=repo).stdout == ""


def test_commit_shows_progress_while_git_lfs_stores_big_files(repo):
    sparse_file(repo / "model.safetensors", 300 * MiB, stamp=b"big")
    proc = hf("commit", "-m", "weights", cwd=repo)
    assert "; file 1 of 1: model.safetensors" in proc.stderr  # the heartbeat names the file
    assert "git-lfs: 1 file (300.0 MiB) hashed and stored in" in proc.stderr
    assert git("status", "--porcelain", cwd=repo).stdout == ""
    assert "version https://git-lfs" in git("cat-file", "blob", "HEAD:model.safetensors", cwd=repo).stdout


def test_commit_stops_before_any_work_when_the_lfs_store_lacks_room(repo):
    free = shutil.disk_usage(repo).free
    sparse_file(repo / "huge.bin", free + 10 * 1024**3, stamp=b"huge")  # sparse: costs no disk
    attributes = (repo / ".gitattributes").read_text()
    proc = hf("commit", "-m", "too big", cwd=repo, check=False)
    assert "error: git-lfs copying 1 file into its object store needs" in proc.stderr
    assert "GiB free" in proc.stderr and "short" in proc.stderr and "nothing was changed" in proc.stderr
    assert "MB" not in proc.stderr.split("fix:")[0].replace("MiB", "")  # one unit system
    assert "fix: free space there, or keep LFS objects on a disk with room: `git config lfs.storage" in proc.stderr
    assert (repo / ".gitattributes").read_text() == attributes
    assert git("status", "--porcelain", cwd=repo).stdout.strip() == "?? huge.bin"  # nothing staged
    objects = repo / ".git" / "lfs" / "objects"
    assert not objects.exists() or not any(objects.rglob("*"))  # git-lfs copied nothing


def test_a_big_file_already_staged_in_git_is_restaged_into_lfs_with_progress(repo):
    sparse_file(repo / "table.dat", 300 * MiB, stamp=b"rows")
    git("add", "table.dat", cwd=repo)  # staged as a plain 300 MiB blob, before git hf commit
    proc = hf("commit", "-m", "table", cwd=repo)
    assert "; file 1 of 1: table.dat" in proc.stderr and "git-lfs: 1 file (300.0 MiB) hashed and stored" in proc.stderr
    assert committed(repo, "table.dat").size == 300 * MiB
    assert git("status", "--porcelain", cwd=repo).stdout == ""
