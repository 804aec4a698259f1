"""kill -9 of the agent mid-push, then a new ``git push``: confirmed parts are not sent again.

The server is throttled (2 MB/s per connection, 4 parts in flight) so the push
is still running when the agent is killed. A part the server accepted may be
sent twice only if its answer was in flight at the kill: at most ``--parallel``
of them.
"""

from __future__ import annotations

import os
import signal
import subprocess

import psutil
import pytest

from tests.reliability.chaos import CHUNK, MiB, assert_pushed, setup, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.reliability, pytest.mark.timeout(240)]
PARALLEL = 4


def _agents(root_pid: int) -> list[psutil.Process]:
    try:
        children = psutil.Process(root_pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    found = []
    for proc in children:
        try:
            if any(arg.endswith("git-hf-agent") for arg in proc.cmdline()[:2]):
                found.append(proc)
        except psutil.Error:
            pass
    return found


def test_kill9_mid_push_then_repush_sends_only_unfinished_parts(start_hub, tmp_path):
    ch = setup(start_hub, tmp_path, "--conn-rate", "2MB", agent_args=("--parallel", str(PARALLEL)),
               size=32 * MiB)
    push = subprocess.Popen(["git", "push", "origin", "main"], cwd=ch.repo, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: ch.stats()["part_puts"] >= 8, 60, "8 parts accepted before the kill")
        agents = wait_for(lambda: _agents(push.pid), 10, "the agent process")
        for agent in agents:
            os.kill(agent.pid, signal.SIGKILL)
        _, first_err = push.communicate(timeout=60)
    finally:
        if push.poll() is None:
            push.kill()
            push.communicate()
    assert push.returncode != 0, "the first push succeeded although its agent was killed"
    before = ch.part_counts()
    assert 8 <= len(before) < ch.nparts, f"kill did not land mid-upload: {len(before)} of {ch.nparts} parts"

    stats = assert_pushed(ch, ch.push())
    after = ch.part_counts()
    resent = {n: c for n, c in after.items() if c > 1}
    assert max(after.values()) <= 2, f"a part was accepted more than twice: {after}"
    assert len(resent) <= PARALLEL, f"{len(resent)} confirmed parts sent again (at most {PARALLEL} in flight): {resent}"
    assert sorted(after) == list(range(1, ch.nparts + 1))
    assert stats["part_bytes"][ch.oid] <= ch.size + PARALLEL * CHUNK
    assert stats["completions"] == 1
    journal = ch.repo / ".git" / "lfs" / "tmp" / "git-hf-agent"
    leftovers = [p for p in journal.rglob("*") if p.is_file()] if journal.exists() else []
    assert not leftovers, f"resume journal not removed after the successful completion: {leftovers}"
