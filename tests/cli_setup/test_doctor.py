"""`git hf doctor`: ok on a configured repo; each problem reported with its fix and exit 1."""

from __future__ import annotations

import pytest

from tests.cli_setup.conftest import hf
from tests.support import TOKEN, create_repo, git

pytestmark = pytest.mark.e2e


def lines_for(output: str, name: str) -> str:
    """The check's line plus its fix line."""
    lines = output.splitlines()
    for i, line in enumerate(lines):
        if line.split()[1:2] and line.split(maxsplit=1)[1].startswith(name):
            return "\n".join(lines[i:i + 2])
    raise AssertionError(f"no {name!r} line in:\n{output}")


@pytest.fixture
def configured(hub, repo):
    url = create_repo(hub.url, "alice/doc")
    git("remote", "add", "origin", url, cwd=repo)
    assert hf("init", "--endpoint", hub.url, cwd=repo).returncode == 0
    return repo


def test_ok_on_a_configured_repo(hub, configured):
    proc = hf("doctor", cwd=configured, env={"HF_TOKEN": TOKEN})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert f"endpoint {hub.url}" in out and "everything looks good" in out
    assert "FAIL" not in out
    assert "answered the init line with {}" in lines_for(out, "agent starts")
    assert "logged in as alice" in out
    assert "hf_l…(" in out and TOKEN not in out + proc.stderr  # masked, never printed


def test_agent_not_registered(hub, configured):
    git("config", "--unset", "lfs.customtransfer.multipart.path", cwd=configured)
    proc = hf("doctor", cwd=configured, env={"HF_TOKEN": TOKEN})
    assert proc.returncode == 1
    agent = lines_for(proc.stdout, "agent")
    assert "FAIL" in agent and "no multipart agent registered" in agent and "fix: run `git hf init`" in agent
    assert "1 problem found" in proc.stderr


def test_old_huggingface_cli_registration(hub, configured):
    git("config", "lfs.customtransfer.multipart.path", "huggingface-cli", cwd=configured)
    git("config", "lfs.customtransfer.multipart.args", "lfs-multipart-upload", cwd=configured)
    proc = hf("doctor", cwd=configured, env={"HF_TOKEN": TOKEN})
    assert proc.returncode == 1
    agent = lines_for(proc.stdout, "agent")
    assert "huggingface-cli" in agent and "git hf init" in agent


def test_old_registration_in_global_config_is_reported_even_when_overridden(hub, configured):
    git("config", "--global", "lfs.customtransfer.multipart.path", "hf")
    git("config", "--global", "lfs.customtransfer.multipart.args", "lfs-multipart-upload")
    proc = hf("doctor", cwd=configured, env={"HF_TOKEN": TOKEN})
    assert proc.returncode == 1
    old = lines_for(proc.stdout, "old hf config")
    assert "FAIL" in old and "global config: path=hf" in old and "git hf init --global" in old
    assert "FAIL" not in lines_for(proc.stdout, "agent starts")  # this repo's own registration still works


def test_agent_that_does_not_start(hub, configured, tmp_path):
    broken = tmp_path / "broken-agent"
    broken.write_text("#!/bin/sh\necho 'not json'\n")
    broken.chmod(0o755)
    git("config", "lfs.customtransfer.multipart.path", str(broken), cwd=configured)
    proc = hf("doctor", cwd=configured, env={"HF_TOKEN": TOKEN})
    assert proc.returncode == 1
    assert "not json" in lines_for(proc.stdout, "agent starts") and "FAIL" in lines_for(proc.stdout, "agent starts")


def test_no_token(hub, configured):
    proc = hf("doctor", cwd=configured)
    assert proc.returncode == 1
    token = lines_for(proc.stdout, "token")
    assert "FAIL" in token and "hf auth login" in token
    assert "skip" in lines_for(proc.stdout, "credential helper")


def test_rejected_token_and_unconfigured_helper(hub, repo):
    git("remote", "add", "origin", f"{hub.url}/alice/x", cwd=repo)
    proc = hf("doctor", "--endpoint", hub.url, cwd=repo, env={"HF_TOKEN": "hf_notTheRightToken000000"})
    assert proc.returncode == 1
    out = proc.stdout
    assert "FAIL" in lines_for(out, "whoami") and "401" in lines_for(out, "whoami")
    assert "FAIL" in lines_for(out, "credential helper") and "git hf init" in lines_for(out, "credential helper")
    assert "FAIL" in lines_for(out, "agent")
    assert "hf_notTheRightToken000000" not in out + proc.stderr


def test_unreachable_endpoint(repo):
    proc = hf("doctor", "--endpoint", "http://127.0.0.1:9", cwd=repo, env={"HF_TOKEN": TOKEN})
    assert proc.returncode == 1
    endpoint = lines_for(proc.stdout, "endpoint")
    assert "unreachable" in endpoint and "fix:" in endpoint


def test_origin_that_is_not_a_configured_hub_gets_no_token(hub, repo):
    """Issue 8: doctor names the problem and the fix instead of asking that host who we are."""
    git("remote", "add", "origin", f"{hub.url}/alice/x", cwd=repo)
    proc = hf("doctor", cwd=repo, env={"HF_TOKEN": TOKEN})
    assert proc.returncode == 1
    line = lines_for(proc.stdout, "hub endpoint")
    assert "FAIL" in line and "not a configured Hub endpoint" in line and f"git hf init --endpoint {hub.url}" in line
    assert "whoami" not in proc.stdout and "logged in as" not in proc.stdout
    assert hub.stats()["requests"].get("whoami", 0) == 0 or "whoami" not in hub.stats()["requests"]


def test_resume_state_left_by_an_unfinished_pull_is_reported_with_its_size_and_how_to_drop_it(hub, configured):
    assert "none (no unfinished push or pull)" in lines_for(hf("doctor", cwd=configured).stdout, "resume state")
    downloads = configured / ".git" / "lfs" / "git-hf-agent" / "downloads"
    downloads.mkdir(parents=True)
    with open(downloads / ("ab" * 32 + ".download"), "wb") as fh:   # a 4 GiB partial download, 1 MiB fetched
        fh.truncate(4 << 30)
        fh.write(b"x" * (1 << 20))

    line = lines_for(hf("doctor", cwd=configured).stdout, "resume state")

    assert "1 file, 1.0 MiB on disk" in line and str(downloads.parent) in line
    assert f"rm -rf {downloads.parent}" in line
