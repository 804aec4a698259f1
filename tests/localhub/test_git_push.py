"""Real ``git`` + ``git-lfs`` against ``git hf serve``: push, clone, and the Hub's push checks."""

from __future__ import annotations

import os

import pytest

from tests.support import TOKEN, authed, create_repo, git, sparse_file, start_from_hub

pytestmark = pytest.mark.e2e
MiB = 1024 * 1024


def _work_repo(path, url):
    """A work repo on the Hub repo's initial commit, git-lfs tracking *.bin (basic transfer, locks verification off)."""
    git("lfs", "install", "--skip-repo")  # filters in the hermetic global config, so clones smudge too
    git("init", "-q", "-b", "main", str(path))
    start_from_hub(path, url)
    git("lfs", "track", "*.bin", cwd=path)
    git("config", f"lfs.{url}.git/info/lfs.locksverify", "false", cwd=path)
    return path


def _remote_main(url, cwd):
    return git("ls-remote", url, "refs/heads/main", cwd=cwd).stdout.split()[0]


def _commit_all(work, message):
    git("add", ".", cwd=work)
    git("commit", "-qm", message, cwd=work)


def test_push_and_clone_lfs_files(hub, tmp_path):
    url = create_repo(hub.url, "alice/x")
    work = _work_repo(tmp_path / "work", url)
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
    work = _work_repo(tmp_path / "work", url)
    (work / "a.bin").write_bytes(b"\0" * 5000)
    _commit_all(work, "data")
    git("push", authed(url) + ".git", "main", cwd=work)
    assert "refs/heads/main" in git("ls-remote", f"{url}.git", cwd=work).stdout


def test_non_lfs_blob_over_10_mib_is_rejected_with_the_fix(hub, tmp_path):
    url = create_repo(hub.url, "alice/x")
    work = _work_repo(tmp_path / "work", url)
    initial = git("rev-parse", "HEAD", cwd=work).stdout.strip()
    sparse_file(work / "big.dat", 10 * MiB + 1, stamp=b"too-big")
    (work / "ok.dat").write_bytes(b"x" * (10 * MiB))  # exactly 10 MiB is allowed
    _commit_all(work, "big")
    proc = git("push", authed(url), "main", cwd=work, check=False)
    assert proc.returncode != 0
    assert "big.dat" in proc.stderr and "git lfs track" in proc.stderr and "git hf commit" in proc.stderr
    assert "ok.dat" not in proc.stderr
    assert _remote_main(url, work) == initial  # nothing was accepted


def test_pointer_to_an_object_the_hub_lacks_is_rejected(hub, tmp_path):
    url = create_repo(hub.url, "alice/x")
    work = tmp_path / "work"
    git("init", "-q", "-b", "main", str(work))
    start_from_hub(work, url)
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
    work = _work_repo(tmp_path / "work", url)
    (work / "README.md").write_text("x\n")
    _commit_all(work, "x")
    anonymous = git("push", url, "main", cwd=work, check=False)
    assert anonymous.returncode != 0 and "could not read Username" in anonymous.stderr  # 401 -> credential prompt
    wrong = git("push", authed(url, token="hf_wrongToken"), "main", cwd=work, check=False)
    assert wrong.returncode != 0 and "Authentication failed" in wrong.stderr
    assert TOKEN not in (hub.log_path.read_text())


def test_partial_clone_without_blobs(hub, tmp_path):
    url = create_repo(hub.url, "alice/x")
    work = _work_repo(tmp_path / "work", url)
    (work / "a.txt").write_text("a\n")
    _commit_all(work, "a")
    git("push", authed(url), "main", cwd=work)
    clone = tmp_path / "clone"
    git("clone", "-q", "--filter=blob:none", url, str(clone))
    assert (clone / "a.txt").read_text() == "a\n"
    assert git("config", "remote.origin.partialclonefilter", cwd=clone).stdout.strip() == "blob:none"


def _binary_commit(url, work):
    work = _work_repo(work, url)
    (work / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR" + os.urandom(3000))
    (work / "latin1.txt").write_bytes("caf\u00e9\n".encode("latin-1"))  # not UTF-8: binary, as at preupload
    (work / "notes.txt").write_text("plain text is fine\n")
    _commit_all(work, "binary")
    return work


def test_binary_files_outside_lfs_are_rejected_unless_allowed(start_hub, tmp_path):
    strict = start_hub()
    url = create_repo(strict.url, "alice/x")
    proc = git("push", authed(url), "main", cwd=_binary_commit(url, tmp_path / "strict"), check=False)
    assert proc.returncode != 0
    assert "image.png is a binary file not in Git LFS" in proc.stderr and "git lfs track" in proc.stderr
    assert "latin1.txt is a binary file" in proc.stderr and "notes.txt" not in proc.stderr
    lenient = start_hub("--allow-binary")
    url = create_repo(lenient.url, "alice/x")
    git("push", authed(url), "main", cwd=_binary_commit(url, tmp_path / "lenient"))


def test_new_repos_start_with_the_hubs_gitattributes_like_the_hub(hub, tmp_path):
    from git_hf_agent.localhub.hubrules import DEFAULT_GITATTRIBUTES

    url = create_repo(hub.url, "alice/x")
    git("lfs", "install", "--skip-repo")
    clone = tmp_path / "clone"
    git("clone", "-q", url, str(clone))
    assert (clone / ".gitattributes").read_text() == DEFAULT_GITATTRIBUTES["model"]
    assert "*.safetensors filter=lfs" in DEFAULT_GITATTRIBUTES["model"]
    assert git("log", "--format=%s", cwd=clone).stdout == "initial commit\n"
    # The Hub's rules apply to a clone with no `git lfs track`: a small model.safetensors becomes a pointer.
    (clone / "model.safetensors").write_bytes(b"{}" * 10)
    git("config", f"lfs.{url}.git/info/lfs.locksverify", "false", cwd=clone)
    _commit_all(clone, "weights")
    assert git("show", "HEAD:model.safetensors", cwd=clone).stdout.startswith("version https://git-lfs")
    git("push", "-q", authed(url), "main", cwd=clone)
    assert hub.stats()["objects_stored"] == 1

    # A repo made with `git init` that ignores the initial commit is refused, as on the Hub.
    other = create_repo(hub.url, "alice/y")
    fresh = tmp_path / "fresh"
    git("init", "-q", "-b", "main", str(fresh))
    (fresh / "README.md").write_text("hi\n")
    _commit_all(fresh, "mine")
    proc = git("push", authed(other), "main", cwd=fresh, check=False)
    assert proc.returncode != 0 and "fetch first" in proc.stderr


def test_empty_repos_option_keeps_repos_without_a_commit(start_hub, tmp_path):
    hub = start_hub("--empty-repos")
    url = create_repo(hub.url, "alice/x")
    assert git("ls-remote", url, cwd=tmp_path).stdout == ""
    work = tmp_path / "work"
    git("init", "-q", "-b", "main", str(work))
    (work / "README.md").write_text("hi\n")
    _commit_all(work, "first")
    git("push", "-q", authed(url), "main", cwd=work)
    assert _remote_main(url, work) == git("rev-parse", "HEAD", cwd=work).stdout.strip()


def test_git_and_huggingface_hub_share_a_default_repo(hub, tmp_path):
    """git + git-lfs and huggingface_hub work on the same initial-commit repo, each seeing the other's files."""
    from huggingface_hub import HfApi, hf_hub_download

    api = HfApi(endpoint=hub.url, token=TOKEN)
    api.create_repo("alice/shared", repo_type="dataset")
    url = f"{hub.url}/datasets/alice/shared"
    git("lfs", "install", "--skip-repo")
    clone = tmp_path / "clone"
    git("clone", "-q", authed(url), str(clone))
    git("config", f"lfs.{authed(url)}.git/info/lfs.locksverify", "false", cwd=clone)
    (clone / "img.png").write_bytes(os.urandom(2000))  # the dataset template sends *.png to LFS
    (clone / "data.parquet").write_bytes(os.urandom(3000))
    _commit_all(clone, "from git")
    git("push", "-q", "origin", "main", cwd=clone)

    info = {e.path: e for e in api.get_paths_info("alice/shared", ["img.png", "data.parquet"], repo_type="dataset")}
    assert info["img.png"].lfs.size == 2000 and info["data.parquet"].lfs.size == 3000
    got = hf_hub_download("alice/shared", "img.png", repo_type="dataset", endpoint=hub.url, token=TOKEN,
                          cache_dir=tmp_path / "cache")
    assert open(got, "rb").read() == (clone / "img.png").read_bytes()

    weights = os.urandom(5000)
    api.upload_file(path_or_fileobj=weights, path_in_repo="sub/w.bin", repo_id="alice/shared", repo_type="dataset")
    git("pull", "-q", "origin", "main", cwd=clone)
    assert (clone / "sub" / "w.bin").read_bytes() == weights  # smudged by git-lfs from the API's upload
    assert git("log", "--format=%s", cwd=clone).stdout.splitlines()[-1] == "initial commit"


def test_a_pushed_tree_naming_dot_git_is_refused(hub, tmp_path):
    """What the commit API refuses (a `.GIT` path) cannot come in by a push either (git's fsck of pushed objects)."""
    url = create_repo(hub.url, "alice/x")
    work = tmp_path / "work"
    git("init", "-q", "-b", "main", str(work))
    initial = start_from_hub(work, url)
    blob = git("hash-object", "-w", "--stdin", cwd=work, input="[core]\n").stdout.strip()
    inner = git("mktree", cwd=work, input=f"100644 blob {blob}\tconfig\n").stdout.strip()
    top = git("ls-tree", "HEAD", cwd=work).stdout + f"040000 tree {inner}\t.GIT\n"
    tree = git("mktree", cwd=work, input=top).stdout.strip()
    commit = git("commit-tree", tree, "-p", initial, "-m", "sneaky", cwd=work).stdout.strip()
    proc = git("push", authed(url), f"{commit}:refs/heads/main", cwd=work, check=False)
    assert proc.returncode != 0 and "hasDotgit" in proc.stderr
    assert _remote_main(url, work) == initial
