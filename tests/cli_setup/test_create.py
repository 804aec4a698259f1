"""`git hf create`: repos created through the Hub API, with clear errors for exists/no token/bad token."""

from __future__ import annotations

import pytest

from tests.cli_setup.conftest import hf
from tests.support import TOKEN, git

pytestmark = pytest.mark.e2e


def create(hub, *args, token=TOKEN):
    env = {"HF_ENDPOINT": hub.url, **({"HF_TOKEN": token} if token else {})}
    return hf("create", *args, env=env)


def test_create_prints_git_url_and_the_repo_exists(hub):
    proc = create(hub, "alice/fresh")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"{hub.url}/alice/fresh"
    assert git("ls-remote", proc.stdout.strip()).returncode == 0


@pytest.mark.parametrize("args,path", [
    (("datasets/alice/d1",), "datasets/alice/d1"),
    (("alice/d2", "--type", "dataset"), "datasets/alice/d2"),
    (("spaces/alice/s1",), "spaces/alice/s1"),
])
def test_repo_types(hub, args, path):
    proc = create(hub, *args)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"{hub.url}/{path}"
    assert git("ls-remote", f"{hub.url}/{path}").returncode == 0


def test_existing_repo_needs_exist_ok(hub):
    assert create(hub, "alice/twice").returncode == 0
    again = create(hub, "alice/twice")
    assert again.returncode == 1
    assert "already exists" in again.stderr and "--exist-ok" in again.stderr
    ok = create(hub, "alice/twice", "--exist-ok")
    assert ok.returncode == 0 and ok.stdout.strip() == f"{hub.url}/alice/twice"


def test_private_repo_is_not_readable_anonymously(hub):
    url = create(hub, "alice/secret", "--private").stdout.strip()
    assert git("ls-remote", url, check=False, env={"GIT_TERMINAL_PROMPT": "0"}).returncode != 0


def test_no_token_says_how_to_log_in(hub):
    proc = create(hub, "alice/nope", token=None)
    assert proc.returncode == 1
    assert "no Hugging Face token" in proc.stderr and "hf auth login" in proc.stderr and "HF_TOKEN" in proc.stderr


def test_rejected_token_is_a_401_without_the_token_in_the_message(hub):
    bad = "hf_wrongWrongWrongWrong123"
    proc = create(hub, "alice/nope", token=bad)
    assert proc.returncode == 1
    assert "401" in proc.stderr and "fix:" in proc.stderr
    assert bad not in proc.stderr + proc.stdout


def test_other_users_namespace_is_refused(start_hub):
    hub = start_hub(tokens={"alice": TOKEN, "bob": "hf_bobTokenBobToken0123456789"})
    proc = create(hub, "bob/mine")
    assert proc.returncode == 1
    assert "403" in proc.stderr and "fix:" in proc.stderr


def test_bad_repo_id_and_unreachable_endpoint(hub):
    bad = create(hub, "not-a-repo-id")
    assert bad.returncode == 1 and "NAMESPACE/NAME" in bad.stderr
    conflict = create(hub, "datasets/alice/x", "--type", "model")
    assert conflict.returncode == 1 and "--type" in conflict.stderr
    down = hf("create", "alice/x", "--endpoint", "http://127.0.0.1:9", env={"HF_TOKEN": TOKEN})
    assert down.returncode == 1 and "cannot reach the Hub" in down.stderr


def test_hub_server_error_is_reported_with_status(start_hub):
    hub = start_hub("--fault", "api:503:1")
    proc = create(hub, "alice/later")
    assert proc.returncode == 1
    assert "503" in proc.stderr and "retry later" in proc.stderr
