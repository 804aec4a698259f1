"""What the user sees besides the transfer: exact progress, push-view events, --help, one prefix (issue 10)."""

from __future__ import annotations

import io
import json
import subprocess
import threading

import pytest

from git_hf_agent.agent.log import Log
from git_hf_agent.agent.main import run
from git_hf_agent.agent.progress import Progress
from tests.agent.fakehub import CHUNK, DATA, drive, init_line, make_object, upload_line
from tests.agent.realgit import AGENT



def test_a_count_held_back_by_the_rate_limit_is_sent_when_the_interval_has_passed():
    now, events, timers = [0.0], [], []
    progress = Progress(1000, lambda so_far, since: events.append(so_far), clock=lambda: now[0],
                        schedule=lambda delay, fn: timers.append((delay, fn)) or (lambda: None))
    progress.advance("a", 10)            # first bytes: at once
    now[0] = 0.1
    progress.advance("a", 500)           # within 0.25 s: held back, a flush is scheduled
    progress.advance("a", 600)           # still held back, no second timer
    assert events == [10] and len(timers) == 1 and timers[0][0] == pytest.approx(0.15)
    now[0] = 0.25
    timers[0][1]()                       # the timer fires: the last count goes out
    assert events == [10, 600]
    progress.close()
    progress.advance("a", 700)
    assert events == [10, 600]           # nothing after close (the object's complete is next)


def test_real_timer_flushes_the_trailing_edge_without_further_bytes():
    events = []
    progress = Progress(1000, lambda so_far, since: events.append(so_far), interval=0.05)
    progress.advance("a", 10)
    progress.advance("a", 400)
    threading.Event().wait(0.3)
    assert events == [10, 400]
    progress.close()


def test_failing_part_still_reports_every_byte_sent_and_the_log_path(repo, hub):
    """The issue's frozen counter: parts 1-3 go out fast, part 4 fails every time; progress shows all bytes."""
    hub.broken_parts = {4}
    oid, path = make_object(repo, DATA)
    t = drive([init_line(), upload_line(oid, len(DATA), path, hub.action())], repo / "agent.jsonl", "--parallel", "1")
    [done] = t.completes
    assert t.progress[-1]["bytesSoFar"] == len(DATA)       # all bytes were handed to the network at least once
    assert done["error"]["message"].endswith(f"(agent log: {repo / 'agent.jsonl'})")
    assert t.raw.splitlines()[-1] == json.dumps(done, separators=(",", ":"))   # no progress after complete


def test_events_file_gets_the_push_view_events(repo, hub, tmp_path):
    hub.fail("part", 503)
    oid, path = make_object(repo, DATA)
    events_file = tmp_path / "events.jsonl"
    stdout = io.StringIO()
    lines = [init_line(), upload_line(oid, len(DATA), path, hub.action()), '{"event":"terminate"}']
    argv = ["--parallel", "1", "--backoff", "0.01", "--max-attempts", "4", "--log", str(tmp_path / "l.jsonl")]
    assert run(io.StringIO("\n".join(lines) + "\n"), stdout, argv, stderr=io.StringIO(),
               events=str(events_file), verbose=True) == 0

    got = [json.loads(line) for line in events_file.read_text().splitlines()]
    assert got == [json.loads(line) for line in (tmp_path / "l.jsonl").read_text().splitlines()]
    assert all(isinstance(e["pid"], int) and e["ts"] for e in got)
    by = {}
    for e in got:
        by.setdefault(e["event"], []).append(e)
    assert by["init"][0]["verbose"] is True and by["init"][0]["log"] == str(tmp_path / "l.jsonl")
    [start] = by["object_start"]
    assert (start["oid"], start["size"], start["transfer"], start["parts"], start["chunk_size"]) == \
        (oid, len(DATA), "multipart", 4, CHUNK)
    [retry] = by["retry"]
    assert (retry["what"], retry["part"], retry["parts"], retry["status"], retry["attempt"], retry["max_attempts"]) == \
        ("part", 1, 4, 503, 2, 4)
    assert retry["line"] == f"part 1/4: HTTP 503, retry 2/4 in {retry['delay_s']:.1f} s"
    assert [e["parts_done"] for e in by["part_done"]] == [1, 2, 3, 4]
    assert by["part_done"][-1]["bytes_done"] == len(DATA)
    [done] = by["object_done"]
    assert done["result"] == "stored" and done["bytes_sent"] >= len(DATA)
    assert "request_headers" in by["http"][0]               # verbose raises the detail


def test_events_of_several_writers_stay_whole_lines(tmp_path):
    target = tmp_path / "events.jsonl"
    logs = [Log(None, events=str(target), stderr=io.StringIO()) for _ in range(4)]

    def write(log, n):
        for i in range(300):
            log.event("progress", writer=n, i=i, pad="x" * 2000)

    threads = [threading.Thread(target=write, args=(log, n)) for n, log in enumerate(logs)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    records = [json.loads(line) for line in target.read_text().splitlines()]
    assert len(records) == 1200
    assert target.stat().st_mode & 0o077 == 0


def test_help_prints_the_options_and_exits_0():
    proc = subprocess.run([AGENT, "--help"], capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0 and proc.stderr == ""
    for option in ("--parallel", "--max-attempts", "--timeout", "--backoff", "--log", "--verbose",
                   "GIT_HF_AGENT_EVENTS", "GIT_HF_AGENT_VERBOSE"):
        assert option in proc.stdout
    assert "(default 10)" in proc.stdout


def test_stderr_lines_carry_the_prefix_once(tmp_path):
    stderr = io.StringIO()
    stdin = io.StringIO(init_line() + "\n")
    run(stdin, io.StringIO(), ["--parallel", "0", "--log", str(tmp_path / "l.jsonl")], stderr=stderr)
    text = stderr.getvalue()
    assert "git-hf-agent: bad option" in text and "git-hf-agent: git-hf-agent:" not in text
