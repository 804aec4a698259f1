"""Failures of the CLI's own API calls carry status, cut body, redacted URL, attempts, elapsed time and a fix."""

from __future__ import annotations

import re

import pytest

from git_hf_agent.apifailure import BODY_MAX, ApiFailure, cut
from tests.cli_content.helpers import hf, hub_env, new_repo
from tests.support import TOKEN, git


def test_description_is_redacted_and_the_body_cut_at_1_kb():
    body = "x" * 5000 + TOKEN
    text = ApiFailure("POST", f"https://user:{TOKEN}@hub.example/api/x?signature=abc", 502, body,
                      attempts=3, elapsed=4.25).describe(TOKEN)
    assert text.startswith("POST https://REDACTED@hub.example/api/x?signature=REDACTED answered 502 (3 attempts, 4.2 s): ")
    assert TOKEN not in text and text.endswith(f"… ({len(body)} bytes in all)")
    assert len(cut(body)) < BODY_MAX + 40
    network = ApiFailure("POST", "https://hub.example/api/x", reason="connection refused", elapsed=0.01).describe()
    assert network == "POST https://hub.example/api/x failed: connection refused (1 attempt, 0.0 s)"


@pytest.mark.e2e
def test_verify_failure_names_attempts_and_elapsed_time(start_hub, tmp_path):
    hub = start_hub("--fault", "api:503:1")  # every JSON API call fails
    repo = new_repo(tmp_path / "r")
    hf("init", "--endpoint", hub.url, cwd=repo, env=hub_env(hub))
    git("remote", "add", "origin", f"{hub.url}/alice/m", cwd=repo)
    (repo / "w.bin").write_bytes(b"\0w")
    hf("commit", "-m", "w", cwd=repo, env=hub_env(hub))
    proc = hf("verify", "--revision", "main", cwd=repo, env=hub_env(hub), check=False)
    err = proc.stderr
    assert re.search(r"POST http://127\.0\.0\.1:\d+/api/models/alice/m/paths-info/main answered 503 "
                     r"\(6 attempts, \d+\.\d s\)", err), err
    assert "fix: retry later" in err and TOKEN not in err


@pytest.mark.e2e
def test_create_failure_names_status_attempts_and_elapsed_time(start_hub, tmp_path):
    hub = start_hub("--fault", "api:500:1")
    proc = hf("create", "alice/later", cwd=tmp_path, env=hub_env(hub), check=False)
    assert re.search(r"the Hub at http://127\.0\.0\.1:\d+ failed: POST http://127\.0\.0\.1:\d+/api/repos/create "
                     r"answered 500 \(1 attempt, \d+\.\d s\)", proc.stderr), proc.stderr
    assert "fix: retry later" in proc.stderr and TOKEN not in proc.stderr


@pytest.mark.e2e
def test_doctor_names_the_failed_request(tmp_path):
    repo = new_repo(tmp_path / "r")
    proc = hf("doctor", "--endpoint", "http://127.0.0.1:9", cwd=repo, env={"HF_TOKEN": TOKEN}, check=False)
    assert re.search(r"GET http://127\.0\.0\.1:9/api/whoami-v2 failed: .*\(1 attempt, \d+\.\d s\)", proc.stdout), proc.stdout
