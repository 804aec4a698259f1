"""End to end: plain ``git push`` through git-lfs and the agent to ``git hf serve``."""

from __future__ import annotations

import shutil
import signal
import subprocess
import time

import psutil
import pytest

from git_hf_agent.units import parse_size
from tests.agent.realgit import agent_log, commit_all, hub_repo, lfs_oid, sha256_file, state_dir, stored_object
from tests.support import TOKEN, agent_processes, git, sparse_file

pytestmark = pytest.mark.e2e


def test_push_mixing_many_small_files_with_one_large_one(start_hub, tmp_path):
    hub = start_hub("--multipart-threshold", "4MiB", "--chunk-size", "1MiB")
    work = hub_repo(hub, tmp_path / "work", "mixed", "--parallel 4 --backoff 0.05 --timeout 10")
    big = sparse_file(work / "big.bin", parse_size("9MiB") + 123, stamp=b"mixed-big")
    for i in range(30):
        (work / f"small{i:02}.bin").write_bytes(f"small file {i}\n".encode() * (i + 1))
    commit_all(work)

    push = git("push", "-q", "origin", "main", cwd=work, env={"GIT_TRACE": "1"})

    stats = hub.stats()
    big_oid = lfs_oid(work, "big.bin")
    assert sha256_file(stored_object(hub, big_oid)) == big_oid
    for i in range(30):
        oid = lfs_oid(work, f"small{i:02}.bin")
        assert stored_object(hub, oid).read_bytes() == (work / f"small{i:02}.bin").read_bytes()
    assert stats["parts"][big_oid] == {str(n): 1 for n in range(1, 11)}   # 10 parts, each sent once
    assert stats["completions"] == 1 and stats["objects_stored"] == 31
    assert stats["auth_headers_seen"]["part"] == stats["auth_headers_seen"]["basic"] == 0
    assert stats["auth_headers_seen"]["complete"] == 0
    # Observability: one JSON line per exchange; a human line under GIT_TRACE; no token anywhere.
    kinds = {e["kind"] for e in agent_log(work) if e["event"] == "http"}
    assert {"part", "basic", "complete"} <= kinds
    assert "git-hf-agent: stored" in push.stderr
    log_text = (work / ".git" / "lfs" / "logs" / "git-hf-agent.jsonl").read_text()
    agent_lines = "\n".join(line for line in push.stderr.splitlines() if "xfer[" in line)
    assert "git-hf-agent" in agent_lines and TOKEN not in agent_lines   # git's own trace shows the URL
    assert TOKEN not in log_text
    assert not list(state_dir(work, "uploads").glob("*.jsonl"))  # journal removed


@pytest.mark.big
def test_six_gib_sparse_file_through_multipart_lands_under_faults(start_hub, tmp_path):
    # Default server options (64 MiB chunks, 5 GiB multipart threshold, sha256 checked at
    # completion) plus a few deterministic faults: the "done when" push.
    faults = ("part:500:1:2", "part:reset:1:1", "part:429:1:1", "complete:503:1:1")
    size = 6 * 1024**3
    free = shutil.disk_usage(tmp_path).free
    # The pushed copy in .git/lfs, the Hub's copy, the clone's work tree: dense, 6 GiB each.
    assert free > 4 * size, f"{free / 1024**3:.1f} GiB free in {tmp_path}; this test needs 24 GiB: free space or set TMPDIR"
    hub = start_hub(*(arg for fault in faults for arg in ("--fault", fault)))
    work = hub_repo(hub, tmp_path / "work", "six-gib", "--backoff 0.2")
    sparse_file(work / "huge.bin", size, stamp=b"six-gib-stamp")
    commit_all(work)

    git("push", "-q", "origin", "main", cwd=work, timeout=3600)

    oid = lfs_oid(work, "huge.bin")
    assert stored_object(hub, oid).stat().st_size == size   # published only after the sha256 matched
    stats = hub.stats()
    assert stats["completions"] == 1 and stats["objects_stored"] == 1
    assert stats["parts"][oid] == {str(n): 1 for n in range(1, 97)}   # 6 GiB / 64 MiB, each stored once
    assert stats["faults_injected"] == {"part:500": 2, "part:reset": 1, "part:429": 1, "complete:503": 1}
    assert stats["auth_headers_seen"]["part"] == 0 and stats["auth_headers_seen"]["complete"] == 0

    # Issue 11: the same object back with plain `git clone` after `git hf init --global`,
    # through the agent's parallel ranged GETs (zero regions stay holes in the LFS object).
    from tests.download.helpers import agent_events, global_init

    global_init(hub)
    clone = tmp_path / "clone"
    git("clone", "-q", f"{hub.url}/alice/six-gib", str(clone), timeout=3600)   # no user:token@ in the URL
    assert sha256_file(clone / "huge.bin") == oid
    ranged = [e for e in agent_events(clone) if e.get("event") == "object" and e.get("direction") == "download"]
    assert ranged and ranged[0]["ranges"] == 384   # 6 GiB in 16 MiB ranges
    assert hub.stats()["auth_headers_seen"]["download"] == 0


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["kill-9", "sigterm"])
def test_agent_killed_mid_push_then_repush_resends_only_unfinished_parts(start_hub, tmp_path, sig):
    hub = start_hub("--multipart-threshold", "4MiB", "--chunk-size", "1MiB", "--conn-rate", "3MB")
    work = hub_repo(hub, tmp_path / "work", "resume", "--parallel 2 --backoff 0.05 --timeout 10")
    sparse_file(work / "big.bin", parse_size("24MiB"), stamp=b"kill-nine")
    commit_all(work)
    journal_dir = state_dir(work, "uploads")

    push = subprocess.Popen(["git", "push", "-q", "origin", "main"], cwd=work, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        journals = list(journal_dir.glob("*.jsonl"))
        if journals and len(journals[0].read_text().splitlines()) >= 1 + 6:   # header + 6 confirmed parts
            break
        time.sleep(0.05)
    victims = agent_processes(work)
    assert victims, f"the agent process was not found; push: {push.poll()} {push.communicate() if push.poll() is not None else None}"
    for proc in victims:
        proc.send_signal(sig)
    gone, alive = psutil.wait_procs(victims, timeout=2)   # SIGTERM stops promptly too
    assert not alive
    push.communicate(timeout=60)
    assert push.returncode != 0
    before = hub.stats()

    git("push", "-q", "origin", "main", cwd=work)

    oid = lfs_oid(work, "big.bin")
    assert sha256_file(stored_object(hub, oid)) == oid
    sent = hub.stats()["parts"][oid]
    assert len(sent) == 24
    resent = [n for n, count in sent.items() if count > 1]
    assert len(resent) <= 2, f"parts sent twice: {resent}"   # at most the --parallel parts in flight at kill
    assert sum(before["parts"][oid].values()) >= 6
    assert not list(journal_dir.glob("*.jsonl"))
