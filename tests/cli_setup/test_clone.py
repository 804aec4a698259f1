"""`git hf clone`: full, --lazy (pointers only, nothing downloaded) and --include (only matching files)."""

from __future__ import annotations

import pytest

from tests.cli_setup.conftest import hf, push_lfs_files
from git_hf_agent.localhub.process import ServeProcess
from git_hf_agent.units import format_size
from tests.support import TOKEN, USER, authed, create_repo, git, start_from_hub

pytestmark = pytest.mark.e2e
POINTER_PREFIX = b"version https://git-lfs.github.com/spec/v1\n"


def lfs_objects(clone):
    return [p for p in (clone / ".git" / "lfs" / "objects").rglob("*") if p.is_file()]


def test_full_clone_materialises_everything_and_configures(seeded, tmp_path):
    hub, files = seeded
    proc = hf("clone", "alice/seeded", str(tmp_path / "full"), env={"HF_ENDPOINT": hub.url})
    assert proc.returncode == 0, proc.stderr
    clone = tmp_path / "full"
    for name, data in files.items():
        assert (clone / name).read_bytes() == data
    assert git("config", "lfs.customtransfer.multipart.path", cwd=clone).stdout.strip().endswith("git-hf-agent")
    assert git("status", "--porcelain", cwd=clone).stdout == ""
    assert hub.stats()["requests"].get("download", 0) == 2


def test_full_clone_fetches_each_object_once_and_checks_out_even_when_git_lfs_skips_smudge(seeded, tmp_path):
    """The objects go straight into the store (no git lfs pull); the work tree is written by git's own checkout,
    which must still smudge when the user installed git-lfs globally with --skip-smudge."""
    hub, files = seeded
    git("lfs", "install", "--skip-smudge")
    proc = hf("clone", "alice/seeded", str(tmp_path / "full"), env={"HF_ENDPOINT": hub.url})
    assert proc.returncode == 0, proc.stderr
    clone = tmp_path / "full"
    for name, data in files.items():
        assert (clone / name).read_bytes() == data
    assert git("status", "--porcelain", cwd=clone).stdout == ""
    assert hub.stats()["requests"].get("download", 0) == 2
    assert sorted(p.name for p in lfs_objects(clone)) == sorted(
        git("lfs", "ls-files", "--long", cwd=clone).stdout.split()[0::3])
    assert "downloading 2 LFS file(s)" in proc.stderr
    assert "downloading: " in proc.stderr and "files done" in proc.stderr   # the live status line
    lfs_bytes = format_size(len(files["weights.bin"]) + len(files["data.parquet"]))
    assert f"[2/2] {lfs_bytes} of {lfs_bytes}" in proc.stderr


def test_full_clone_whose_download_keeps_failing_says_which_file_and_how_to_go_on(start_hub, tmp_path):
    healthy = start_hub()
    push_lfs_files(create_repo(healthy.url, "alice/flaky"), tmp_path / "seed", {"w.bin": b"w" * 5000})
    healthy.stop()
    hub = ServeProcess("--fault", "download:500:1", root=healthy.root, tokens={USER: TOKEN})
    quick = {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "lfs.customtransfer.multipart.args",
             "GIT_CONFIG_VALUE_0": "--max-attempts 2 --backoff 0"}   # over the args init writes into the clone
    try:
        proc = hf("clone", "alice/flaky", str(tmp_path / "c"), env={"HF_ENDPOINT": hub.url, **quick})
    finally:
        hub.stop()

    assert proc.returncode != 0
    assert "download of" in proc.stderr and "HTTP 500" in proc.stderr and "after 9" not in proc.stderr
    assert "git lfs pull" in proc.stderr and "EOF" not in proc.stderr
    assert (tmp_path / "c" / "w.bin").read_bytes().startswith(POINTER_PREFIX)   # the clone is kept, nothing half-written


def test_clone_keeps_the_agent_options_set_globally(seeded, tmp_path):
    hub, _files = seeded
    assert hf("init", "--global", "--endpoint", hub.url, "--parallel", "16").returncode == 0

    proc = hf("clone", "alice/seeded", str(tmp_path / "c"), env={"HF_ENDPOINT": hub.url})

    assert proc.returncode == 0, proc.stderr
    assert git("config", "lfs.customtransfer.multipart.args", cwd=tmp_path / "c").stdout.strip() == "--parallel 16"


def test_lazy_clone_keeps_pointers_and_downloads_nothing(seeded, tmp_path):
    hub, files = seeded
    proc = hf("clone", f"{hub.url}/alice/seeded", str(tmp_path / "lazy"), "--lazy", "--endpoint", hub.url)
    assert proc.returncode == 0, proc.stderr
    clone = tmp_path / "lazy"
    assert (clone / "weights.bin").read_bytes().startswith(POINTER_PREFIX)
    assert (clone / "data.parquet").read_bytes().startswith(POINTER_PREFIX)
    assert (clone / "README.md").read_bytes() == files["README.md"]
    assert lfs_objects(clone) == []
    assert hub.stats()["requests"].get("download", 0) == 0
    assert sorted(git("ls-files", cwd=clone).stdout.split()) == [".gitattributes", "README.md", "data.parquet", "weights.bin"]
    assert git("status", "--porcelain", cwd=clone).stdout == ""
    # The clone is already configured: init would only add the Hub's .gitattributes patterns.
    dry = hf("init", "--dry-run", "--endpoint", hub.url, cwd=clone)
    changes = [line for line in dry.stdout.splitlines() if line.startswith("  - ")]
    assert len(changes) == 1 and "LFS patterns to .gitattributes" in changes[0], dry.stdout
    # Content can still be fetched later, on demand.
    git("lfs", "pull", "--include=weights.bin", cwd=clone)
    assert (clone / "weights.bin").read_bytes() == files["weights.bin"]


def test_include_fetches_only_matching_files(seeded, tmp_path):
    hub, files = seeded
    proc = hf("clone", "alice/seeded", str(tmp_path / "some"), "--include", "*.parquet", env={"HF_ENDPOINT": hub.url})
    assert proc.returncode == 0, proc.stderr
    clone = tmp_path / "some"
    assert (clone / "data.parquet").read_bytes() == files["data.parquet"]
    assert (clone / "weights.bin").read_bytes().startswith(POINTER_PREFIX)
    assert len(lfs_objects(clone)) == 1
    assert hub.stats()["requests"].get("download", 0) == 1
    assert git("status", "--porcelain", cwd=clone).stdout == ""


def push_more(hub, tmp_path, files):
    """Another commit on the Hub with one more .bin and one more .parquet file."""
    from tests.support import authed

    work = tmp_path / "more"
    git("clone", "-q", authed(f"{hub.url}/alice/seeded"), str(work), env={"GIT_LFS_SKIP_SMUDGE": "1"})
    git("lfs", "install", "--local", cwd=work)
    (work / "more.bin").write_bytes(b"M" * 50_000)
    (work / "more.parquet").write_bytes(b"Q" * 40_000)
    git("add", ".", cwd=work)
    git("commit", "-q", "-m", "more", cwd=work)
    git("-c", f"lfs.{hub.url}/.locksverify=false", "push", "-q", "origin", "main", cwd=work)


@pytest.mark.parametrize("option,fetched", [(("--lazy",), []), (("--include", "*.parquet"), ["more.parquet"])])
def test_lazy_and_include_last_beyond_the_clone(seeded, tmp_path, option, fetched):
    """A later `git pull` keeps to the choice made at clone time."""
    hub, files = seeded
    clone = tmp_path / "sel"
    assert hf("clone", "alice/seeded", str(clone), *option, env={"HF_ENDPOINT": hub.url}).returncode == 0
    push_more(hub, tmp_path, files)
    before = hub.stats()["requests"].get("download", 0)
    git("pull", "-q", "origin", "main", cwd=clone)
    for name in ("more.bin", "more.parquet"):
        content = (clone / name).read_bytes()
        assert content.startswith(POINTER_PREFIX) is (name not in fetched)
    assert hub.stats()["requests"].get("download", 0) - before == len(fetched)


def test_dataset_prefix_and_default_directory(hub, tmp_path):
    create_repo(hub.url, "alice/dset", "dataset")
    proc = hf("clone", "datasets/alice/dset", cwd=tmp_path, env={"HF_ENDPOINT": hub.url})
    assert proc.returncode == 0, proc.stderr
    clone = tmp_path / "dset"
    # the configured URL (get-url would show the download insteadOf rewrite)
    assert git("config", "remote.origin.url", cwd=clone).stdout.strip() == f"{hub.url}/datasets/alice/dset"


def test_private_repo_clones_with_the_token_through_the_helper(hub, tmp_path):
    env = {"HF_ENDPOINT": hub.url, "HF_TOKEN": TOKEN}
    assert hf("create", "alice/priv", "--private", env=env).returncode == 0
    src = tmp_path / "src"
    git("init", "-q", "-b", "main", str(src))
    start_from_hub(src, f"{hub.url}/alice/priv")
    git("lfs", "track", "*.bin", cwd=src)
    (src / "w.bin").write_bytes(b"secret weights" * 1000)
    git("add", ".", cwd=src)
    git("commit", "-q", "-m", "w", cwd=src)
    git("-c", f"lfs.{hub.url}/.locksverify=false", "push", "-q", authed(f"{hub.url}/alice/priv"), "main", cwd=src)

    denied = hf("clone", "alice/priv", str(tmp_path / "anon"), env={"HF_ENDPOINT": hub.url})
    assert denied.returncode == 1
    proc = hf("clone", "alice/priv", str(tmp_path / "priv"), env=env)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "priv" / "w.bin").read_bytes() == b"secret weights" * 1000
    assert TOKEN not in git("config", "--list", cwd=tmp_path / "priv").stdout
    assert TOKEN not in proc.stdout + proc.stderr


def test_errors_missing_repo_and_occupied_directory(hub, tmp_path):
    missing = hf("clone", "alice/nothing-here", str(tmp_path / "x"), env={"HF_ENDPOINT": hub.url})
    assert missing.returncode == 1 and "git clone failed" in missing.stderr and "fix:" in missing.stderr
    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "keep.txt").write_text("mine")
    proc = hf("clone", "alice/seeded", str(occupied), env={"HF_ENDPOINT": hub.url})
    assert proc.returncode == 1 and "not an empty directory" in proc.stderr
    assert [p.name for p in occupied.iterdir()] == ["keep.txt"]
