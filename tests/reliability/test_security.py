"""The Hub token goes to the Hub only: never to signed URLs, logs, traces, or other hosts.

The repo is configured the way users do it, ``git hf init --endpoint URL`` with
the token in ``HF_TOKEN`` (the credential helper ``git hf credential`` hands it
to git and git-lfs), then pushed under ``GIT_TRACE=1`` with faults so the
retry and error paths are logged too.
"""

from __future__ import annotations

import base64

import pytest

from tests.reliability.chaos import BASE_AGENT_ARGS, assert_pushed, setup
from tests.support import TOKEN, git

pytestmark = [pytest.mark.e2e, pytest.mark.reliability, pytest.mark.timeout(240)]


def _secrets() -> list[str]:
    """The token and the Basic credentials any username would make of it."""
    basics = [base64.b64encode(f"{user}:{TOKEN}".encode()).decode() for user in ("hf_user", "alice")]
    return [TOKEN, *basics]


def _init(repo, endpoint: str) -> None:
    git("hf", "init", "--endpoint", endpoint, cwd=repo)


def test_token_absent_from_traces_logs_and_signed_urls(start_hub, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    ch = setup(start_hub, tmp_path, "--fault", "part:500:1:2", "--fault", "complete:503:1:1",
               credentials=False)
    _init(ch.repo, ch.hub.url)
    git("config", "lfs.customtransfer.multipart.args",
        " ".join((*BASE_AGENT_ARGS, "--log", str(ch.log), "--verbose")), cwd=ch.repo)
    git("add", "-A", cwd=ch.repo)
    git("commit", "-q", "--allow-empty", "-m", "git hf init", cwd=ch.repo)
    proc = ch.push(env={"GIT_TRACE": "1", "GIT_TRANSFER_TRACE": "1"})
    stats = assert_pushed(ch, proc)
    assert stats["faults_injected"]["part:500"] == 2 and stats["faults_injected"]["complete:503"] == 1
    assert stats["auth_headers_seen"].get("part", 0) == 0
    assert stats["auth_headers_seen"].get("complete", 0) == 0
    log = ch.log.read_text()
    for secret in _secrets():
        assert secret not in proc.stderr, "token (or Basic credentials) in GIT_TRACE output"
        assert secret not in log, "token (or Basic credentials) in the agent's --verbose log"


def test_credential_helper_answers_the_hub_and_nobody_else(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    repo = tmp_path / "repo"
    git("init", "-q", str(repo))
    hub = "http://127.0.0.1:9"  # nothing listens: only git's credential machinery runs
    _init(repo, hub)
    mine = git("credential", "fill", cwd=repo, input="url=http://127.0.0.1:9/alice/x.git\n\n")
    assert f"password={TOKEN}" in mine.stdout, "the helper does not answer for the configured Hub"
    for other in ("https://example.com/alice/x.git", "http://127.0.0.1:10/alice/x.git", "https://github.com/a/b"):
        proc = git("credential", "fill", cwd=repo, input=f"url={other}\n\n", check=False)
        assert TOKEN not in proc.stdout + proc.stderr, f"token handed to {other}"
    direct = git("hf", "credential", "get", cwd=repo, input="protocol=https\nhost=example.com\n\n")
    assert direct.stdout == "", f"helper answered for example.com: {direct.stdout!r}"
