"""End to end: plain ``git push`` through git-lfs and the agent to ``git hf serve``."""

from __future__ import annotations

import pytest

from git_hf_agent.units import parse_size
from tests.agent.realgit import agent_log, commit_all, hub_repo, lfs_oid, sha256_file, stored_object
from tests.support import TOKEN, git, sparse_file

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
    assert not list((work / ".git" / "lfs" / "tmp" / "git-hf-agent").glob("*.jsonl"))  # journal removed


@pytest.mark.big
def test_six_gib_sparse_file_through_multipart_with_default_server(hub, tmp_path):
    size = 6 * 1024**3
    work = hub_repo(hub, tmp_path / "work", "six-gib")
    sparse_file(work / "huge.bin", size, stamp=b"six-gib-stamp")
    commit_all(work)

    git("push", "-q", "origin", "main", cwd=work, timeout=3600)

    oid = lfs_oid(work, "huge.bin")
    stored = stored_object(hub, oid)
    assert stored.stat().st_size == size   # the server checked sha256 at completion
    stats = hub.stats()
    assert stats["completions"] == 1
    assert len(stats["parts"][oid]) == 96   # 6 GiB / 64 MiB chunks
    assert stats["auth_headers_seen"]["part"] == 0 and stats["auth_headers_seen"]["complete"] == 0
