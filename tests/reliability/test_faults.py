"""A push through injected server faults lands byte-identical, re-sending only what the faults cost.

Each fault is injected by ``git hf serve --fault ENDPOINT:KIND:RATE[:MAX]``; the
server's stats count what was injected and what it accepted.
"""

from __future__ import annotations

import json
import re
import time
from datetime import datetime

import pytest

from tests.reliability.chaos import CHUNK, assert_each_part_once, assert_pushed, setup
from tests.support import TOKEN

pytestmark = [pytest.mark.e2e, pytest.mark.reliability, pytest.mark.timeout(240)]


def _resent_bound(ch, stats, fault: str) -> None:
    """Part bytes the server read beyond the file size are at most one part per injected fault."""
    injected = stats["faults_injected"].get(fault, 0)
    assert injected > 0, f"no {fault} fault was injected: {stats['faults_injected']}"
    received = stats["bytes_received"].get("part", 0)
    assert received <= ch.size + injected * CHUNK, (
        f"server read {received} part bytes for a {ch.size}-byte file with {injected} faults")


@pytest.mark.parametrize("kind", ["500", "reset"])
def test_one_part_in_five_failing_still_lands(start_hub, tmp_path, kind):
    ch = setup(start_hub, tmp_path, "--fault", f"part:{kind}:0.2", "--seed", "5")
    stats = assert_pushed(ch, ch.push())
    assert_each_part_once(ch, stats)
    _resent_bound(ch, stats, f"part:{kind}")


@pytest.mark.parametrize("fault", ["part:no-etag:1:3", "complete:503:1:2"])
def test_limited_fault_is_absorbed_without_resending_parts(start_hub, tmp_path, fault):
    """A part answered without ETag is re-sent; a completion answered 503 is retried, parts are not re-sent."""
    ch = setup(start_hub, tmp_path, "--fault", fault)
    stats = assert_pushed(ch, ch.push())
    name, count = fault.rsplit(":", 2)[0], int(fault.rsplit(":", 1)[1])
    assert stats["faults_injected"][name] == count
    assert stats["completions"] == 1
    assert_each_part_once(ch, stats)
    if name.startswith("part:"):
        _resent_bound(ch, stats, name)


def _ts(event: dict) -> float:
    value = event["ts"]
    if isinstance(value, (int, float)):
        return float(value)
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def _part_number(event: dict) -> str | None:
    match = re.search(r"partNumber=(\d+)", event.get("url", ""))
    return match.group(1) if match else None


def test_429_waits_for_retry_after(start_hub, tmp_path):
    """The server says ``Retry-After: 1``; the agent (backoff 0.05 s) must wait about a second."""
    ch = setup(start_hub, tmp_path, "--fault", "part:429:1:3")
    stats = assert_pushed(ch, ch.push())
    assert stats["faults_injected"]["part:429"] == 3
    assert_each_part_once(ch, stats)
    events = sorted((e for e in ch.log_events() if e.get("kind") == "part"), key=_ts)
    throttled = [e for e in events if e.get("status") == 429]
    assert len(throttled) == 3, f"the agent's log shows {len(throttled)} 429 answers, the server sent 3"
    for bad in throttled:
        number = _part_number(bad)
        assert number, f"part URL in the log does not name its part: {bad}"
        retry = next(e for e in events if _ts(e) > _ts(bad) and _part_number(e) == number)
        assert _ts(retry) - _ts(bad) >= 0.9, f"part {number} retried {_ts(retry) - _ts(bad):.2f} s after a 429"


def test_stalled_part_is_timed_out_not_waited_for(start_hub, tmp_path):
    """The server stops reading for 30 s; the agent (``--timeout 3``) gives up on it and retries."""
    ch = setup(start_hub, tmp_path, "--stall-seconds", "30", "--fault", "part:stall:1:2")
    started = time.monotonic()
    proc = ch.push()
    elapsed = time.monotonic() - started
    stats = assert_pushed(ch, proc)
    assert stats["faults_injected"]["part:stall"] == 2
    assert_each_part_once(ch, stats)
    assert elapsed < 25, f"push took {elapsed:.1f} s: the agent waited for a stalled socket"


def test_fault_that_never_clears_ends_as_a_clear_error(start_hub, tmp_path):
    """Every part PUT fails: git shows the status, the redacted URL and the attempt, not a bare EOF."""
    ch = setup(start_hub, tmp_path, "--fault", "part:500:1", agent_args=("--max-attempts", "3"))
    progress = tmp_path / "lfs-progress"
    proc = ch.push(env={"GIT_LFS_PROGRESS": str(progress)}, timeout=120)
    assert proc.returncode != 0, "push reported success although no part was accepted"
    err = proc.stderr
    assert f"(agent log: {ch.log})" in err, f"the agent's log is not named in the error:\n{err}"
    # git's progress counter shows every byte sent at least once (issue 10: it froze at the first 64 KiB)
    attempted = {e["part"] for e in ch.log_events() if e.get("kind") == "part"}
    last = progress.read_text().splitlines()[-1]   # "upload 1/1 <bytes so far>/<size> data.bin"
    assert last.split()[2] == f"{len(attempted) * CHUNK}/{ch.size}", f"progress stopped at {last!r}"
    assert "500" in err, f"HTTP status missing from the error:\n{err}"
    assert ch.hub.url.split("://", 1)[1] in err, f"the failing URL is not named:\n{err}"
    assert re.search(r"attempt", err, re.I), f"attempt number missing:\n{err}"
    assert not re.search(r"signature=(?!REDACTED)[^&\s\"']+", err), f"URL signature printed:\n{err}"
    assert TOKEN not in err
    assert "EOF" not in err, f"the agent died instead of reporting the error:\n{err}"
    stats = ch.stats()
    assert stats["objects_stored"] == 0 and not ch.stored().exists()
    attempts = [e.get("attempt", 0) for e in ch.log_events() if e.get("kind") == "part"]
    assert attempts and max(attempts) == 3, f"attempts per part should stop at --max-attempts 3: {max(attempts, default=0)}"


def test_events_file_shows_retries_of_a_plain_git_push(start_hub, tmp_path):
    """``GIT_HF_AGENT_EVENTS`` (what ``git hf push`` sets): every agent process appends whole JSON lines;
    the push view finds the object's parts, each retry with its reason, and the end."""
    ch = setup(start_hub, tmp_path, "--fault", "part:503:1:2")
    events_file = tmp_path / "events.jsonl"
    stats = assert_pushed(ch, ch.push(env={"GIT_HF_AGENT_EVENTS": str(events_file), "GIT_HF_AGENT_VERBOSE": "1"}))
    assert stats["faults_injected"]["part:503"] == 2
    events = [json.loads(line) for line in events_file.read_text().splitlines()]   # every line parses
    inits = [e for e in events if e["event"] == "init"]
    assert len({e["pid"] for e in inits}) == len(inits) >= 2 and all(e["verbose"] for e in inits)
    mine = [e for e in events if e.get("oid") == ch.oid and e["event"] != "http"]
    assert mine[0]["event"] == "object_start" and mine[0]["parts"] == ch.nparts and mine[-1]["event"] == "object_done"
    retries = [e for e in mine if e["event"] == "retry"]
    assert len(retries) == 2
    for r in retries:
        assert re.fullmatch(rf"part {r['part']}/{ch.nparts}: HTTP 503, retry 2/8 in \d+\.\d s", r["line"]), r["line"]
    assert [e["parts_done"] for e in mine if e["event"] == "part_done"] == list(range(1, ch.nparts + 1))
    assert any("request_headers" in e for e in events if e["event"] == "http")   # verbose raised the detail
