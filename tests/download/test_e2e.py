"""End to end: after ``git hf init --global``, plain git clone / lfs pull download through the agent.

Real git 2.39 + git-lfs 3.3.0 against ``git hf serve``. Proves the routing that
docs/agent.md ("Downloads") describes: downloads go to the agent in standalone
mode while uploads keep git-lfs's batch call plus the multipart agent, and
``--no-downloads`` leaves downloads to git-lfs.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import time

import psutil
import pytest

from git_hf_agent.localhub.process import ServeProcess
from tests.agent.realgit import state_dir
from tests.download.helpers import GIT_HF, agent_events, global_init, pushed_repo, sha256_file
from tests.support import TOKEN, USER, agent_processes, git

pytestmark = pytest.mark.e2e
MIB = 1 << 20


def _random(size: int, seed: str) -> bytes:
    return b"".join(hashlib.sha256(f"{seed}{i}".encode()).digest() for i in range(size // 32 + 1))[:size]


def _agent_args(*args: str) -> None:
    git("config", "--global", "lfs.customtransfer.multipart.args", " ".join(args))


def test_plain_clone_downloads_through_the_agent_while_push_keeps_batch_and_multipart(start_hub, tmp_path):
    hub = start_hub("--multipart-threshold", "2MiB", "--chunk-size", "1MiB")
    global_init(hub)
    _agent_args("--parallel", "4", "--range-size", "1MiB", "--backoff", "0.05")
    files = {"big.bin": _random(5 * MIB + 17, "big"), **{f"s{i}.bin": _random(100 + i, f"s{i}") for i in range(8)}}

    url = pushed_repo(hub, tmp_path / "work", "clone-me", files)

    pushed = hub.stats()
    assert pushed["completions"] == 1 and pushed["part_puts"] == 6      # upload: batch + multipart, as before
    assert pushed["requests"]["download"] == 0
    clone = tmp_path / "clone"
    batches = pushed["requests"]["batch"]
    out = git("clone", url, str(clone), env={"HF_TOKEN": TOKEN, "GIT_TRACE": "1"})
    # download URLs fetched ahead, many objects per batch call (not one call per object)
    assert hub.stats()["requests"]["batch"] - batches <= 2

    for name, data in files.items():
        assert (clone / name).read_bytes() == data
    events = agent_events(clone)
    done = [e for e in events if e.get("event") == "object" and e.get("result") == "downloaded"]
    assert len(done) == len(files)
    ranged = [e for e in events if e.get("event") == "object" and e.get("direction") == "download"]
    assert [e["ranges"] for e in ranged] == [6]
    statuses = [e["status"] for e in events if e.get("event") == "http" and e.get("kind") == "download"]
    assert statuses.count(206) == 6 and statuses.count(200) == 8        # 6 ranges, 8 small objects in one GET
    assert hub.stats()["auth_headers_seen"]["download"] == 0          # presigned hrefs: no token
    assert TOKEN not in out.stderr.replace(f":{TOKEN}@", "")           # nothing printed the token
    assert not list(state_dir(clone, "downloads").glob("*.journal"))


def test_no_downloads_leaves_clone_to_git_lfs(start_hub, tmp_path):
    hub = start_hub()
    global_init(hub, "--no-downloads")
    files = {"a.bin": _random(3000, "a")}
    url = pushed_repo(hub, tmp_path / "work", "plain", files)

    clone = tmp_path / "clone"
    git("clone", "-q", url, str(clone))

    assert (clone / "a.bin").read_bytes() == files["a.bin"]
    assert not [e for e in agent_events(clone) if e.get("result") == "downloaded"]
    # and turning them on later is one init away, turning them off again removes the keys
    assert "standalonetransferagent" in global_init(hub).stdout
    assert "remove" in global_init(hub, "--no-downloads").stdout


@pytest.mark.reliability
def _settled_downloads(hub, quiet: float = 1.0, limit: float = 20.0) -> int:
    """The Hub's count of download GETs once it has not changed for ``quiet`` seconds (a loaded machine's
    Hub threads may count a request the killed agent sent just before SIGKILL only later)."""
    count, since, end = hub.stats()["requests"]["download"], time.monotonic(), time.monotonic() + limit
    while time.monotonic() - since < quiet and time.monotonic() < end:
        time.sleep(0.1)
        now = hub.stats()["requests"]["download"]
        if now != count:
            count, since = now, time.monotonic()
    return count


def test_kill_9_mid_lfs_pull_resumes_fetching_only_the_ranges_in_flight(start_hub, tmp_path):
    hub = start_hub("--conn-rate", "2MB")
    global_init(hub)
    _agent_args("--parallel", "2", "--range-size", "1MiB", "--backoff", "0.05")
    size = 24 * MIB
    work = tmp_path / "work"
    url = pushed_repo(hub, work, "resume", {"big.bin": _random(size, "kill")})
    clone = tmp_path / "clone"
    git("clone", "-q", url, str(clone), env={"GIT_LFS_SKIP_SMUDGE": "1"})
    tmp = state_dir(clone, "downloads")

    pull = subprocess.Popen(["git", "lfs", "pull"], cwd=clone, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    journal = None
    while time.monotonic() < deadline:
        journals = list(tmp.glob("*.journal")) if tmp.exists() else []
        if journals and len(journals[0].read_text().splitlines()) >= 1 + 6:   # header + 6 finished ranges
            journal = journals[0]
            break
        time.sleep(0.05)
    assert journal is not None, "the download never got going"
    victims = agent_processes(clone)
    assert victims
    for proc in victims:
        proc.send_signal(signal.SIGKILL)
    psutil.wait_procs(victims, timeout=5)
    pull.communicate(timeout=60)
    done_at_kill = len(journal.read_text().splitlines()) - 1
    before = _settled_downloads(hub)   # GETs sent just before the kill may be counted a moment later
    assert (clone / "big.bin").read_bytes() != _random(size, "kill")     # still a pointer
    assert journal.exists() and journal.with_name(journal.name[:-len(".journal")]).exists()   # partial data kept

    git("lfs", "pull", cwd=clone)

    assert (clone / "big.bin").read_bytes() == _random(size, "kill")
    fetched_again = hub.stats()["requests"]["download"] - before
    assert fetched_again == 24 - done_at_kill                             # only ranges not journaled
    total = hub.stats()["requests"]["download"]
    assert total <= 24 + 2 + 1, f"{total} range GETs for 24 ranges"       # at most --parallel ranges twice
    assert not list(tmp.glob("*.journal")) and not list(tmp.glob("*.download"))


def test_two_fetches_of_the_same_object_at_once_both_succeed(start_hub, tmp_path):
    """The second fetch's agent waits on the object's lock, then hands its git-lfs the verified file under a
    name of its own, fetching nothing again: the first git-lfs is still hashing (then renaming) the file handed
    to it, which must not be written over."""
    hub = start_hub("--conn-rate", "2MB")
    global_init(hub)
    _agent_args("--parallel", "2", "--range-size", "1MiB")
    data = _random(8 * MIB, "twice")
    url = pushed_repo(hub, tmp_path / "work", "twice", {"big.bin": data})
    clone = tmp_path / "clone"
    git("clone", "-q", url, str(clone), env={"GIT_LFS_SKIP_SMUDGE": "1"})
    tmp = state_dir(clone, "downloads")

    fetch = ["git", "lfs", "fetch"]   # no checkout: two pulls would fight over index.lock instead
    first = subprocess.Popen(fetch, cwd=clone, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (tmp.exists() and list(tmp.glob("*.journal"))):
        time.sleep(0.05)
    second = subprocess.Popen(fetch, cwd=clone, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    outs = [proc.communicate(timeout=300) for proc in (first, second)]

    assert [first.returncode, second.returncode] == [0, 0], outs
    assert hub.stats()["requests"]["download"] == 8     # 8 ranges of 1 MiB, each fetched once
    oid = hashlib.sha256(data).hexdigest()
    assert sha256_file(clone / ".git" / "lfs" / "objects" / oid[:2] / oid[2:4] / oid) == oid
    assert not list(tmp.glob("*.done")) and not list(tmp.glob("*.download"))


@pytest.mark.reliability
@pytest.mark.parametrize("fault", ["download:500:1:2", "download:429:1:2", "download:reset:1:2",
                                   "download:stall:1:1", "download:short:1:2", "batch:503:1:1"])
def test_download_lands_byte_identical_under_each_fault_kind(start_hub, tmp_path, fault):
    clean = start_hub()
    global_init(clean)
    files = {"big.bin": _random(4 * MIB + 5, fault), "small.bin": _random(700, fault)}
    pushed_repo(clean, tmp_path / "work", "chaos", files)
    clean.stop()
    hub = ServeProcess("--fault", fault, "--stall-seconds", "3", root=clean.root, tokens={USER: TOKEN})
    try:
        global_init(hub)
        _agent_args("--parallel", "3", "--range-size", "1MiB", "--backoff", "0.05", "--timeout", "2")
        clone = tmp_path / "clone"
        git("clone", "-q", f"{hub.url}/alice/chaos", str(clone), env={"HF_TOKEN": TOKEN})

        for name, data in files.items():
            assert (clone / name).read_bytes() == data
        assert sum(hub.stats()["faults_injected"].values()) >= 1
    finally:
        hub.stop()


@pytest.mark.reliability
def test_a_fault_that_never_clears_names_the_object_not_eof(start_hub, tmp_path):
    hub = start_hub("--fault", "download:500:1")
    global_init(hub)
    _agent_args("--parallel", "2", "--range-size", "1MiB", "--backoff", "0", "--max-attempts", "2")
    data = _random(3 * MIB, "never")
    url = pushed_repo(hub, tmp_path / "work", "never", {"big.bin": data})
    oid = hashlib.sha256(data).hexdigest()

    clone = tmp_path / "clone"
    git("clone", "-q", url, str(clone), env={"GIT_LFS_SKIP_SMUDGE": "1"})
    pull = git("lfs", "pull", cwd=clone, check=False)

    assert pull.returncode != 0
    assert f"download of {oid[:12]}" in pull.stderr and "HTTP 500" in pull.stderr
    assert "EOF" not in pull.stderr


def test_git_hf_clone_downloads_through_the_agent_even_with_global_downloads_off(start_hub, tmp_path):
    hub = start_hub()
    global_init(hub)
    files = {"model.bin": _random(20 * MIB + 3, "hfclone")}
    pushed_repo(hub, tmp_path / "work", "hfclone", files)
    subprocess.run([GIT_HF, "init", "--global", "--endpoint", hub.url, "--no-downloads"], check=True,
                   capture_output=True)

    clone = tmp_path / "clone"
    proc = subprocess.run([GIT_HF, "clone", "--endpoint", hub.url, "alice/hfclone", str(clone)],
                          capture_output=True, text=True, timeout=600)

    assert proc.returncode == 0, proc.stderr
    assert (clone / "model.bin").read_bytes() == files["model.bin"]
    ranged = [e for e in agent_events(clone) if e.get("event") == "object" and e.get("direction") == "download"]
    assert [e["ranges"] for e in ranged] == [2]                      # 20 MiB in 16 MiB ranges
