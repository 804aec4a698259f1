"""Small objects of a checkout fetched ahead (agent/ahead.py): fewer round trips, never an extra download.

Real git + git-lfs against ``git hf serve --latency-ms``: git-lfs hands each agent
process one object at a time, so without fetching ahead a clone of many small
files waits one server round trip per file per process.
"""

from __future__ import annotations

import hashlib

import pytest

from tests.agent.realgit import state_dir
from tests.download.helpers import agent_events, global_init, pushed_repo
from tests.support import TOKEN, git

pytestmark = pytest.mark.e2e


def _files(n: int, seed: str) -> dict[str, bytes]:
    return {f"f{i:03}.bin": hashlib.sha256(f"{seed}{i}".encode()).digest() * (i + 3) for i in range(n)}


def _ahead(repo, result: str) -> list[dict]:
    return [e for e in agent_events(repo) if e.get("event") == "ahead" and e.get("result") == result]


def test_clone_of_many_small_files_hands_most_over_from_ahead_and_fetches_each_once(start_hub, tmp_path):
    hub = start_hub("--latency-ms", "20")
    global_init(hub)
    files = _files(60, "many")
    url = pushed_repo(hub, tmp_path / "work", "many-small", files)
    before = hub.stats()["requests"]
    before = before["download"], before["batch"]

    clone = tmp_path / "clone"
    git("clone", "-q", url, str(clone), env={"HF_TOKEN": TOKEN})

    for name, data in files.items():
        assert (clone / name).read_bytes() == data
    after = hub.stats()["requests"]
    assert after["download"] - before[0] == len(files)   # each object fetched exactly once
    assert after["batch"] - before[1] <= 2                # download URLs asked for 100 objects per call
    handed = _ahead(clone, "handed")
    assert len(handed) >= len(files) // 2, f"only {len(handed)} of {len(files)} objects were waiting when asked for"
    assert {e["oid"] for e in handed} <= {e["oid"] for e in _ahead(clone, "fetched")}
    assert not list(state_dir(clone, "downloads").glob("*.ahead"))    # every file fetched ahead was used


def test_lfs_fetchexclude_is_honoured_nothing_excluded_is_fetched_ahead(start_hub, tmp_path):
    hub = start_hub()
    global_init(hub)
    files = _files(30, "exclude")
    url = pushed_repo(hub, tmp_path / "work", "exclude", files)
    clone = tmp_path / "clone"
    git("clone", "-q", url, str(clone), env={"GIT_LFS_SKIP_SMUDGE": "1"})
    before = hub.stats()["requests"]["download"]

    git("config", "lfs.fetchexclude", "f01*,f02*", cwd=clone)
    git("lfs", "pull", cwd=clone)

    wanted = {name for name in files if not name.startswith(("f01", "f02"))}
    assert hub.stats()["requests"]["download"] - before == len(wanted)
    for name, data in files.items():
        content = (clone / name).read_bytes()
        assert (content == data) == (name in wanted)   # excluded files stay pointers
    assert not _ahead(clone, "fetched")


def test_ahead_zero_turns_it_off(start_hub, tmp_path):
    hub = start_hub()
    global_init(hub)
    git("config", "--global", "lfs.customtransfer.multipart.args", "--ahead 0")
    files = _files(12, "off")
    url = pushed_repo(hub, tmp_path / "work", "off", files)

    clone = tmp_path / "clone"
    git("clone", "-q", url, str(clone), env={"HF_TOKEN": TOKEN})

    for name, data in files.items():
        assert (clone / name).read_bytes() == data
    assert not _ahead(clone, "fetched") and not _ahead(clone, "handed")
