"""kill -9 of the agent mid-push, then a new ``git push``: confirmed parts are not sent again.

The server is throttled (2-3 MB/s per connection, 4 parts in flight) so the push
is still running when the agent is killed at about 60 %. A part the server
accepted may be sent twice only if its answer was in flight at the kill: at most
``--parallel`` of them. Both server behaviours are covered: ``--upload-reuse
keep`` hands back the upload in progress, ``new`` starts a new upload on every
batch (the agent then continues the journaled upload with its own URLs, or,
once those expired, starts over and says what it sends again).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time

import psutil
import pytest

from tests.agent.realgit import state_dir
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


def _kill_agents_at(ch, parts: int, victim: str = "agent"):
    """Start ``git push``; once ``parts`` parts were accepted kill -9 its agents (``agent``) or the whole
    ``git push`` with git-lfs and the agents (``push``: its process group); return the stats then."""
    push = subprocess.Popen(["git", "push", "origin", "main"], cwd=ch.repo, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        wait_for(lambda: ch.stats()["part_puts"] >= parts, 60, f"{parts} parts accepted before the kill")
        agents = wait_for(lambda: _agents(push.pid), 10, "the agent process")
        if victim == "push":
            os.killpg(push.pid, signal.SIGKILL)
        for agent in agents:
            try:
                os.kill(agent.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        push.communicate(timeout=60)
    finally:
        if push.poll() is None:
            push.kill()
            push.communicate()
    assert push.returncode != 0, "the first push succeeded although its agent was killed"
    return ch.stats()


def _since(ch, before: dict) -> list[dict]:
    """The agent's log events written after the kill (the second push)."""
    events = ch.log_events()
    return events[before["log_lines"]:]


@pytest.mark.parametrize(("reuse", "victim"), [("keep", "agent"), ("new", "agent"), ("new", "push")])
def test_kill9_at_60_percent_then_repush_sends_only_unfinished_parts(start_hub, tmp_path, reuse, victim):
    """Whether the Hub hands back the upload in progress (keep) or a new one (new), the second
    push continues the first upload: only the parts not confirmed at the kill are sent."""
    ch = setup(start_hub, tmp_path, "--conn-rate", "2MB", "--upload-reuse", reuse,
               agent_args=("--parallel", str(PARALLEL)), size=32 * MiB)
    before = _kill_agents_at(ch, int(ch.nparts * 0.6), victim)
    accepted = ch.part_counts()
    assert int(ch.nparts * 0.6) <= len(accepted) < ch.nparts, f"kill did not land mid-upload: {len(accepted)} parts"
    before["log_lines"] = len(ch.log_events())

    stats = assert_pushed(ch, ch.push())

    after = ch.part_counts()
    assert sorted(after) == list(range(1, ch.nparts + 1)) and max(after.values()) <= 2
    resent = {n: c for n, c in after.items() if c > 1}
    assert len(resent) <= PARALLEL, f"{len(resent)} confirmed parts sent again (at most {PARALLEL} in flight): {resent}"
    # What the second push sent: the agent's own count (the server may still have been reading the killed
    # agent's buffered bytes when the first push ended, so its counter is no measure of the second push).
    second = sum(e["bytes"] for e in _since(ch, before) if e["event"] == "http" and e.get("kind") == "part")
    [done] = [e for e in _since(ch, before) if e["event"] == "object_done"]
    assert done["bytes_sent"] == second
    missing = ch.size - len(accepted) * CHUNK
    print(f"[{reuse}, kill {victim}] killed at {len(accepted)}/{ch.nparts} parts accepted; the second push sent {second} part "
          f"bytes for {missing} missing: {second - missing} re-sent")
    assert second <= missing + PARALLEL * CHUNK, (
        f"second push sent {second} part bytes; {missing} were missing, at most {PARALLEL} parts in flight")
    assert stats["completions"] == 1
    [start] = [e for e in _since(ch, before) if e["event"] == "object_start"]
    assert start["resumed"] == ("same_upload" if reuse == "keep" else "journaled_upload")
    assert start["parts_done"] >= len(accepted) - PARALLEL
    journal = state_dir(ch.repo, "uploads")
    leftovers = [p for p in journal.rglob("*") if p.is_file()] if journal.exists() else []
    assert not leftovers, f"resume journal not removed after the successful completion: {leftovers}"


def test_kill9_then_repush_after_the_urls_expired_starts_over_and_says_what_it_resends(start_hub, tmp_path):
    """A new upload per batch and the first upload's URLs expired: the file is sent again, and the
    agent says how many bytes that costs (stderr under GIT_TRACE, and a ``restart`` event)."""
    ttl = 10
    ch = setup(start_hub, tmp_path, "--conn-rate", "3MB", "--upload-reuse", "new", "--url-ttl", str(ttl),
               agent_args=("--parallel", str(PARALLEL)), size=32 * MiB)
    started = time.monotonic()
    _kill_agents_at(ch, int(ch.nparts * 0.6))
    accepted = ch.part_counts()
    before_lines = len(ch.log_events())
    time.sleep(max(0.0, ttl - 4 - (time.monotonic() - started)))   # the journaled URLs now expire within 5 s

    proc = ch.push(env={"GIT_TRACE": "1"})

    stats = assert_pushed(ch, proc)
    [restart] = [e for e in ch.log_events()[before_lines:] if e["event"] == "restart"]
    assert "expired" in restart["reason"]
    assert len(accepted) - PARALLEL <= restart["parts_resent"] <= len(accepted)
    assert restart["bytes_resent"] == restart["parts_resent"] * CHUNK
    assert f"in {restart['parts_resent']} parts already stored must be sent again" in proc.stderr
    assert stats["completions"] == 1
    [start] = [e for e in ch.log_events()[before_lines:] if e["event"] == "object_start"]
    assert start["resumed"] == "none" and start["parts_done"] == 0
