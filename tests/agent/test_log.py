"""The JSON-lines log: redaction of secrets and bounded size."""

from __future__ import annotations

import io
import json

from git_hf_agent.agent import log as agent_log
from git_hf_agent.agent.log import Log


def test_secrets_and_signatures_never_reach_the_log_or_stderr(tmp_path):
    stderr = io.StringIO()
    sink = Log(str(tmp_path / "l.jsonl"), stderr=stderr)
    sink.add_secret("s3cretPassw0rd")
    sink.event("http", url="https://s.test/p?X-Amz-Signature=abc123&partNumber=1", note="pw s3cretPassw0rd")
    sink.say("Authorization: Bearer hf_abcdefghijklmnop and https://u:pw@hub.test/x")
    sink.close()
    text = (tmp_path / "l.jsonl").read_text() + stderr.getvalue()
    for secret in ("abc123", "s3cretPassw0rd", "hf_abcdefghijklmnop", "u:pw@"):
        assert secret not in text
    assert json.loads((tmp_path / "l.jsonl").read_text())["url"].endswith("X-Amz-Signature=REDACTED&partNumber=1")


def test_a_large_log_is_rotated_when_opened(tmp_path, monkeypatch):
    monkeypatch.setattr(agent_log, "ROTATE_BYTES", 100)
    path = tmp_path / "l.jsonl"
    path.write_text("x" * 200)
    sink = Log(str(path), stderr=io.StringIO())
    sink.event("init")
    sink.close()
    assert (tmp_path / "l.jsonl.1").read_text() == "x" * 200
    assert json.loads(path.read_text())["event"] == "init"


def test_an_unwritable_log_is_reported_once_and_the_agent_goes_on(tmp_path):
    stderr = io.StringIO()
    (tmp_path / "dir").write_text("not a directory")
    sink = Log(str(tmp_path / "dir" / "l.jsonl"), stderr=stderr)
    sink.event("a")
    sink.event("b")
    assert stderr.getvalue().count("cannot write log") == 1
