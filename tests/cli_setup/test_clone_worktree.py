"""`git hf clone` writes big LFS files into the work tree itself and records them in git's index.

What a user notices: the files are byte-identical with their modes, `git status` is clean at once
(git never runs the clean filter over them again), files git-lfs treats specially (lockable, not
`filter=lfs`) come out as git-lfs's own checkout makes them, and index formats this does not
handle (a split index) still give a correct clone through git's checkout.
"""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import time

import pytest

from tests.cli_setup.conftest import hf, push_lfs_files
from git_hf_agent.localhub.process import ServeProcess
from tests.support import TOKEN, USER, authed, create_repo, git

pytestmark = pytest.mark.e2e
POINTER_PREFIX = b"version https://git-lfs.github.com/spec/v1\n"
# git must not run the clean filter: `false` with required=true makes it fail loudly if it does.
NO_CLEAN = ("-c", "filter.lfs.process=", "-c", "filter.lfs.clean=false", "-c", "filter.lfs.required=true")


def config_env(**settings: str) -> dict[str, str]:
    """git configuration for every git command `git hf clone` runs (GIT_CONFIG_COUNT)."""
    env = {"GIT_CONFIG_COUNT": str(len(settings))}
    for i, (key, value) in enumerate(settings.items()):
        env[f"GIT_CONFIG_KEY_{i}"], env[f"GIT_CONFIG_VALUE_{i}"] = key.replace("_", "."), value
    return env


@pytest.fixture
def varied(hub, tmp_path):
    """alice/varied: an executable LFS file, one in a directory with a space in its name, a lockable one,
    one git converts to CRLF line ends, a pointer committed as plain text (no filter=lfs), and README.md."""
    return hub, seed_varied(hub, tmp_path)


def seed_varied(hub, tmp_path) -> dict[str, bytes]:
    """Push alice/varied (see :func:`varied`) to ``hub``; the files' bytes by path."""
    url = create_repo(hub.url, "alice/varied")
    src = tmp_path / "seed"
    git("clone", "-q", authed(url), str(src))
    git("lfs", "install", "--local", cwd=src)
    git("lfs", "track", "*.bin", cwd=src)
    git("lfs", "track", "--lockable", "*.lck", cwd=src)
    files = {"run.bin": os.urandom(70_000), "sub dir/w é.bin": os.urandom(300_001), "guarded.lck": b"L" * 9_000,
             "README.md": b"# varied\n"}
    for name, data in files.items():
        (src / name).parent.mkdir(exist_ok=True)
        (src / name).write_bytes(data)
    (src / "run.bin").chmod(0o755)
    git("add", ".", cwd=src)
    git("commit", "-q", "-m", "seed", cwd=src)
    files["as-text.md"] = git("cat-file", "blob", "HEAD:run.bin", cwd=src).stdout.encode()   # a pointer, no filter
    (src / "as-text.md").write_bytes(files["as-text.md"])
    with open(src / ".gitattributes", "a") as fh:   # git converts this one's line ends after git-lfs's smudge
        fh.write("*.txt filter=lfs diff=lfs merge=lfs eol=crlf\n")
    (src / "notes.txt").write_bytes(b"line 1\nline 2\n" * 500)   # what a checkout makes of it: plain git decides
    git("add", ".", cwd=src)
    git("commit", "-q", "-m", "pointer as text, crlf notes", cwd=src)
    git("-c", f"lfs.{url}.git/info/lfs.locksverify=false", "push", "-q", authed(url), "main", cwd=src)
    return files


def clone(hub, tmp_path, **config):
    target = tmp_path / "c"
    proc = hf("clone", "alice/varied", str(target), env={"HF_ENDPOINT": hub.url, **config_env(**config)})
    assert proc.returncode == 0, proc.stderr
    return target


def assert_checked_out(target, files, url):
    """The work tree holds what plain git with git-lfs writes (bytes and modes) and is clean."""
    reference = target.parent / "plain"
    git("-c", "filter.lfs.process=git-lfs filter-process", "-c", "filter.lfs.required=true", "clone", "-q",
        url, str(reference))
    for name in git("ls-files", "-z", cwd=reference).stdout.split("\0")[:-1]:
        ours, theirs = (target / name).stat(), (reference / name).stat()
        assert (target / name).read_bytes() == (reference / name).read_bytes(), name
        assert stat.S_IMODE(ours.st_mode) == stat.S_IMODE(theirs.st_mode), name
    for name, data in files.items():
        assert (target / name).read_bytes() == data, name
    assert os.access(target / "run.bin", os.X_OK) and stat.S_IMODE((target / "run.bin").stat().st_mode) & 0o111
    assert not stat.S_IMODE((target / "sub dir" / "w é.bin").stat().st_mode) & 0o111
    assert not stat.S_IMODE((target / "guarded.lck").stat().st_mode) & 0o222   # git-lfs: lockable is read-only
    assert git("status", "--porcelain", cwd=target).stdout == ""
    assert not list(target.rglob(".git-hf-*.tmp"))


@pytest.mark.parametrize("version,agent_args", [
    ("2", ""),
    ("4", ""),   # git writes version 3 only for entries with extended flags
    ("2", "--range-size 64KiB"),   # the two big files are copied into the work tree while they download
])
def test_clone_writes_the_files_and_git_sees_them_unchanged_without_hashing_them(varied, tmp_path, version, agent_args):
    hub, files = varied
    target = clone(hub, tmp_path, index_version=version, lfs_customtransfer_multipart_args=agent_args)
    # The index's stat data, as git hf clone wrote it (before any other git command refreshes it), matches the
    # files written: git neither lists them as changed nor cleans them again.
    index = (target / ".git" / "index").read_bytes()
    assert git(*NO_CLEAN, "--no-optional-locks", "diff-files", "--name-only", "--", "run.bin", "sub dir",
               cwd=target).stdout == ""
    assert (target / ".git" / "index").read_bytes() == index
    assert not [p for p in (target / ".git").rglob("*") if p.name.endswith(".worktree")]   # no copy left behind

    assert_checked_out(target, files, f"{hub.url}/alice/varied")
    assert index[4:8] == int(version).to_bytes(4, "big")
    big = (target / "sub dir" / "w é.bin").stat()
    assert big.st_nlink == 1   # a copy, never a link into .git/lfs/objects a user's edit would damage


def test_a_split_index_is_left_to_gits_checkout(varied, tmp_path):
    hub, files = varied
    target = clone(hub, tmp_path, core_splitIndex="true")

    assert_checked_out(target, files, f"{hub.url}/alice/varied")
    assert list((target / ".git").glob("sharedindex.*"))   # the split index stayed split


@pytest.mark.parametrize("transfers,most", [(None, 4), ("1", 2)])
def test_big_objects_download_side_by_side_like_git_lfs_agents(start_hub, tmp_path, transfers, most):
    """Several big objects are fetched at once, each over --parallel connections, as many as git-lfs
    runs agents for a plain clone (lfs.concurrenttransfers): with 2 ranges per object at a time and
    two big objects, up to 4 connections at once; with lfs.concurrenttransfers=1, never more than 2."""
    hub = start_hub("--conn-rate", "200KB")   # each 64 KiB range takes about 0.3 s: objects overlap or queue
    files = seed_varied(hub, tmp_path)
    config = {"lfs_customtransfer_multipart_args": "--range-size 64KiB --parallel 2"}
    if transfers:
        config["lfs_concurrenttransfers"] = transfers
    target = clone(hub, tmp_path, **config)

    at_once = hub.stats()["downloads_at_once"]
    assert (at_once == most) if transfers else (2 < at_once <= most)
    assert_checked_out(target, files, f"{hub.url}/alice/varied")


def test_a_clone_stopped_by_sigterm_cleans_up_and_git_lfs_pull_finishes_it(start_hub, tmp_path):
    """SIGTERM (a closed ssh session, a job scheduler) mid-download: `git hf clone` stops at once like Ctrl-C,
    leaves no index.lock or temp file that would block git in the clone, and `git lfs pull` completes it."""
    seeding = start_hub()
    data = os.urandom(12 << 20)
    push_lfs_files(create_repo(seeding.url, "alice/slow"), tmp_path / "seed", {"big.bin": data})
    seeding.stop()
    # the same Hub, now slow: each 512 KiB range takes about 1.7 s, 24 of them, 10 at a time
    hub = ServeProcess("--conn-rate", "300KB", root=seeding.root, tokens={USER: TOKEN})
    try:
        stop_a_clone_and_finish_it(hub, tmp_path / "c", data)
    finally:
        hub.stop()


def stop_a_clone_and_finish_it(hub, target, data):
    """SIGTERM `git hf clone` of alice/slow once its download is under way; check what it leaves; pull."""
    env = {**os.environ, "HF_ENDPOINT": hub.url, **config_env(lfs_customtransfer_multipart_args="--range-size 512KiB")}
    # git-hf itself: `git hf` would pass the signal on to it, but report its own death by the signal
    proc = subprocess.Popen([shutil.which("git-hf"), "clone", "alice/slow", str(target)], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not list((target / ".git" / "lfs").rglob("*.download")) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1)
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=60)

    assert proc.returncode == 130 and "aborted" in err, err
    assert not (target / ".git" / "index.lock").exists()
    assert not list(target.rglob(".git-hf-*.tmp")) and not list((target / ".git").rglob("*.worktree"))
    git("lfs", "pull", cwd=target, env=env)   # through the agent, which continues from the ranges on disk
    assert (target / "big.bin").read_bytes() == data
    assert git("status", "--porcelain", cwd=target).stdout == ""
