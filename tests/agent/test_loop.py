"""The stdio loop: init answers, bad lines, unknown events, EOF/terminate, and stdout hygiene."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import time

import pytest

from git_hf_agent.agent.main import run
from tests.agent.fakehub import DATA, init_line, upload_line
from tests.agent.realgit import AGENT


def loop(text: str, *argv: str):
    stdout, stderr = io.StringIO(), io.StringIO()
    assert run(io.StringIO(text), stdout, list(argv), stderr=stderr) == 0
    return [json.loads(line) for line in stdout.getvalue().splitlines()], stderr.getvalue()


def test_init_gets_an_empty_object_and_eof_ends_cleanly(repo):
    out, _ = loop(init_line() + "\n")
    assert out == [{}]


def test_terminate_ends_without_reply_and_ignores_what_follows(repo):
    out, _ = loop(init_line() + '\n{"event":"terminate"}\n' + init_line() + "\n")
    assert out == [{}]


@pytest.mark.parametrize("argv", [["--parallel", "zero"], ["--parallel", "0"], ["--parallel", "500"],
                                  ["--timeout", "-1"], ["--backoff", "-2"], ["--no-such-option"]])
def test_bad_agent_options_are_reported_at_init_with_the_fix(repo, argv):
    out, _ = loop(init_line() + "\n", *argv)
    assert out[0]["error"]["code"] == 32
    assert argv[0] in out[0]["error"]["message"] and "git hf init" in out[0]["error"]["message"]


def test_download_session_is_accepted_and_an_upload_in_it_refused(repo):
    line = json.dumps({"event": "init", "operation": "download", "remote": "origin"})
    upload = json.dumps({"event": "upload", "oid": "c" * 64, "size": 3, "path": "/x", "action": None})
    out, _ = loop(line + "\n" + upload + "\n")
    assert out[0] == {}
    assert "started for downloads" in out[1]["error"]["message"]


def test_malformed_lines_are_logged_and_requests_with_an_oid_get_an_error(repo):
    oid = "b" * 64
    lines = [
        "not json", "[1, 2]", '{"event": "dance"}', '{"event": "dance", "oid": "%s"}' % oid,
        '{"event": "upload", "oid": "%s", "size": "big"}' % oid,
        '{"event": "upload", "oid": "%s", "size": 3}' % oid,             # no path
        '{"event": "upload", "oid": "XYZ", "size": 3, "path": "/x"}',    # bad oid: answered for that oid
    ]
    out, err = loop(init_line() + "\n" + "\n".join(lines) + "\n")
    assert out[0] == {}
    completes = out[1:]
    assert [c["oid"] for c in completes] == [oid, oid, oid, "XYZ"]
    assert all(c["event"] == "complete" and c["error"]["code"] == 32 for c in completes)
    assert "not JSON" in err and "unknown event 'dance'" in err


def test_non_utf8_and_binary_input_never_crashes_the_real_process(repo):
    proc = subprocess.run([AGENT, "--log", str(repo / "l.jsonl")], input=b"\xff\xfe\x00garbage\n" + init_line().encode()
                          + b"\n\x00\x01\n", capture_output=True, timeout=30)
    assert proc.returncode == 0
    assert [json.loads(line) for line in proc.stdout.splitlines()] == [{}]


def test_sigterm_stops_promptly(repo):
    proc = subprocess.Popen([AGENT, "--log", str(repo / "l.jsonl")], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdin.write(init_line().encode() + b"\n")
    proc.stdin.flush()
    assert json.loads(proc.stdout.readline()) == {}
    start = time.monotonic()
    os.kill(proc.pid, signal.SIGTERM)
    proc.wait(timeout=5)
    assert time.monotonic() - start < 2
    assert b"stopped by SIGTERM" in proc.stderr.read()


class _ClosedPipe(io.StringIO):
    def write(self, text):
        raise BrokenPipeError(32, "Broken pipe")


def test_git_lfs_going_away_ends_the_loop_quietly(repo):
    stderr = io.StringIO()
    assert run(io.StringIO(init_line() + "\n"), _ClosedPipe(), [], stderr=stderr) == 1
    assert "closed the protocol pipe" in stderr.getvalue()


class _ClosedAfter(io.StringIO):
    """stdout of an agent whose git-lfs dies after ``lines`` lines (kill -9 of git-lfs)."""

    def __init__(self, lines: int) -> None:
        super().__init__()
        self.left = lines

    def write(self, text: str) -> int:
        if self.left <= 0:
            raise BrokenPipeError(32, "Broken pipe")
        self.left -= 1
        return super().write(text)


def test_git_lfs_gone_mid_upload_stops_the_upload_instead_of_retrying(repo, hub, obj):
    oid, path = obj
    stdin = io.StringIO(init_line() + "\n" + upload_line(oid, len(DATA), path, hub.action()) + "\n")
    stderr = io.StringIO()
    code = run(stdin, _ClosedAfter(1), ["--parallel", "1", "--backoff", "0.01", "--log", str(repo / "l.jsonl")],
               stderr=stderr)
    assert code == 1
    assert hub.calls("part") == 1 and hub.calls("complete") == 0   # the part in flight, then nothing
    assert "confirmed parts are kept" in stderr.getvalue()
    assert "bug" not in (repo / "l.jsonl").read_text()
