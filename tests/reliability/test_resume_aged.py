"""Resume still works when the second run comes more than an hour after the kill.

git-lfs 3.3 deletes every file older than one hour below ``<git dir>/lfs/tmp``
(in a subdirectory: when the directory is that old too) in a background task
started by any git-lfs command (the pre-push of the next ``git push``, the next
``git lfs pull``, ``git lfs env``). State kept there would silently vanish between a kill and
a re-run the next morning, and the object would start from zero. These tests age
every file and directory below ``<git dir>/lfs`` by two hours after the kill (wherever the
agent keeps its state, it is in there) and check that the plain re-run still
sends or fetches only what was missing.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from tests.download.helpers import global_init, pushed_repo
from tests.reliability.chaos import CHUNK, MiB, assert_pushed, setup
from tests.reliability.test_resume import _kill_agents_at, _since
from tests.support import agent_processes, git

pytestmark = [pytest.mark.e2e, pytest.mark.reliability, pytest.mark.timeout(240)]
PARALLEL = 4
TWO_HOURS = 2 * 3600


def _age(lfs_dir: Path, seconds: int = TWO_HOURS) -> int:
    """Set the mtime (and atime) of every file and directory below ``lfs_dir`` ``seconds`` back, as two
    hours of nobody touching them would; how many files. (git-lfs prunes a file in a subdirectory of
    lfs/tmp only when that directory is old too.)"""
    when = time.time() - seconds
    paths = list(lfs_dir.rglob("*"))
    for path in sorted(paths, key=lambda p: len(p.parts), reverse=True):   # files before their directory
        os.utime(path, (when, when))
    return sum(1 for p in paths if p.is_file())


def test_push_killed_then_repushed_two_hours_later_sends_only_the_missing_parts(start_hub, tmp_path):
    """The Hub starts a new upload on every batch (the real Hub may): only the agent's own journal,
    with the first upload's URLs, lets the second push skip the parts already stored."""
    ch = setup(start_hub, tmp_path, "--conn-rate", "2MB", "--upload-reuse", "new",
               agent_args=("--parallel", str(PARALLEL)), size=32 * MiB)
    before = _kill_agents_at(ch, int(ch.nparts * 0.6))
    accepted = ch.part_counts()
    assert int(ch.nparts * 0.6) <= len(accepted) < ch.nparts, f"kill did not land mid-upload: {len(accepted)} parts"
    before["log_lines"] = len(ch.log_events())
    assert _age(ch.repo / ".git" / "lfs") > 0

    git("lfs", "env", cwd=ch.repo)         # any git-lfs command in between (its tmp cleanup runs in the background)
    stats = assert_pushed(ch, ch.push())   # then a plain `git push`

    second = sum(e["bytes"] for e in _since(ch, before) if e["event"] == "http" and e.get("kind") == "part")
    missing = ch.size - len(accepted) * CHUNK
    print(f"killed at {len(accepted)}/{ch.nparts} parts; 2 h later the push sent {second} part bytes "
          f"for {missing} missing")
    [start] = [e for e in _since(ch, before) if e["event"] == "object_start"]
    assert start["resumed"] == "journaled_upload", f"the aged journal was not used: {start}"
    assert second <= missing + PARALLEL * CHUNK, (
        f"second push sent {second} part bytes; {missing} were missing, at most {PARALLEL} parts in flight")
    assert stats["completions"] == 1


def test_lfs_pull_killed_then_rerun_two_hours_later_fetches_only_the_missing_ranges(start_hub, tmp_path):
    hub = start_hub("--conn-rate", "2MB")
    global_init(hub)
    git("config", "--global", "lfs.customtransfer.multipart.args", "--parallel 2 --range-size 1MiB --backoff 0.05")
    size, nranges = 24 * MiB, 24
    data = os.urandom(size)
    url = pushed_repo(hub, tmp_path / "work", "aged", {"big.bin": data})
    clone = tmp_path / "clone"
    git("clone", "-q", url, str(clone), env={"GIT_LFS_SKIP_SMUDGE": "1"})
    pull = subprocess.Popen(["git", "lfs", "pull"], cwd=clone, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and hub.stats()["requests"]["download"] < 10:
        time.sleep(0.05)
    victims = agent_processes(clone)
    assert victims, "no agent process to kill"
    for proc in victims:
        proc.send_signal(signal.SIGKILL)
    psutil.wait_procs(victims, timeout=5)
    pull.communicate(timeout=60)
    assert (clone / "big.bin").read_bytes() != data                       # still a pointer
    before = hub.stats()["requests"]["download"]   # range GETs started; all but the 2 in flight finished
    assert 10 <= before < nranges, f"kill did not land mid-download: {before} range GETs"
    assert _age(clone / ".git" / "lfs") > 0

    git("lfs", "env", cwd=clone)      # any git-lfs command in between (its tmp cleanup runs in the background)
    git("lfs", "pull", cwd=clone)

    assert (clone / "big.bin").read_bytes() == data
    fetched_again = hub.stats()["requests"]["download"] - before
    print(f"killed after {before}/{nranges} range GETs; 2 h later the pull fetched {fetched_again} ranges")
    assert fetched_again <= nranges - before + 2, (
        f"{fetched_again} ranges fetched again; {nranges - before} were never asked for, at most 2 were in flight")
