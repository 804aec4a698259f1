"""`git hf credential`: answers with the token for the Hub host only, through real `git credential fill`."""

from __future__ import annotations

import pytest

from tests.cli_setup.conftest import hf
from tests.support import TOKEN, git

ENDPOINT = "http://127.0.0.1:9"


def fill(repo, protocol, host, env=None):
    """Ask git (with every configured helper) for credentials; returns the answer as a dict ({} if none)."""
    proc = git("credential", "fill", cwd=repo, check=False, input=f"protocol={protocol}\nhost={host}\n\n",
               env={"GIT_TERMINAL_PROMPT": "0", **(env or {})})
    return dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line) if proc.returncode == 0 else {}


@pytest.fixture
def configured(repo):
    assert hf("init", "--endpoint", ENDPOINT, cwd=repo).returncode == 0
    return repo


@pytest.mark.e2e
def test_git_gets_the_token_for_the_hub_host(configured):
    answer = fill(configured, "http", "127.0.0.1:9", {"HF_TOKEN": TOKEN})
    assert answer["password"] == TOKEN and answer["username"]


@pytest.mark.e2e
def test_token_from_token_file(configured, hermetic, tmp_path):
    token_file = tmp_path / "home" / ".cache" / "huggingface" / "token"
    token_file.parent.mkdir(parents=True, exist_ok=True)
    token_file.write_text(TOKEN + "\n")
    assert fill(configured, "http", "127.0.0.1:9")["password"] == TOKEN


@pytest.mark.e2e
@pytest.mark.parametrize("protocol,host", [("http", "127.0.0.1:10"), ("https", "127.0.0.1:9"), ("https", "github.com"),
                                           ("http", "evil.example.com")])
def test_silent_for_any_other_host(configured, protocol, host):
    assert "password" not in fill(configured, protocol, host, {"HF_TOKEN": TOKEN})
    direct = hf("credential", "--endpoint", ENDPOINT, "get", cwd=configured, env={"HF_TOKEN": TOKEN},
                input=f"protocol={protocol}\nhost={host}\n\n")
    assert direct.returncode == 0 and direct.stdout == "" and TOKEN not in direct.stderr


@pytest.mark.e2e
def test_stale_stored_password_does_not_shadow_the_token_other_hosts_keep_theirs(configured, tmp_path):
    """A global `credential.helper=store` with an old Hub password: the Hub host gets the token, others the store."""
    store = tmp_path / "creds"
    store.write_text("http://old:stale@127.0.0.1%3a9\nhttps://bob:gh-secret@github.com\n")
    git("config", "--global", "credential.helper", f"store --file={store}")
    assert fill(configured, "http", "127.0.0.1:9", {"HF_TOKEN": TOKEN})["password"] == TOKEN
    assert fill(configured, "https", "github.com", {"HF_TOKEN": TOKEN})["password"] == "gh-secret"


@pytest.mark.e2e
def test_store_and_erase_write_nothing_and_print_nothing(configured, tmp_path):
    request = f"protocol=http\nhost=127.0.0.1:9\nusername=hf_user\npassword={TOKEN}\n\n"
    for action in ("store", "erase"):
        proc = hf("credential", "--endpoint", ENDPOINT, action, cwd=configured, input=request, env={"HF_TOKEN": TOKEN})
        assert proc.returncode == 0 and proc.stdout == "" and proc.stderr == ""
    git("credential", "approve", cwd=configured, input=request)  # what git does after a successful push
    assert not (tmp_path / "home" / ".git-credentials").exists()


@pytest.mark.e2e
def test_no_token_answers_nothing(configured):
    assert "password" not in fill(configured, "http", "127.0.0.1:9")


@pytest.mark.e2e
def test_hf_endpoint_host_counts_as_hub(repo):
    proc = hf("credential", "get", cwd=repo, env={"HF_TOKEN": TOKEN, "HF_ENDPOINT": "https://hub.example.org"},
              input="protocol=https\nhost=hub.example.org\n\n")
    assert proc.stdout.splitlines()[-1] == f"password={TOKEN}"
    default = hf("credential", "get", cwd=repo, env={"HF_TOKEN": TOKEN}, input="protocol=https\nhost=huggingface.co:443\n\n")
    assert f"password={TOKEN}" in default.stdout


@pytest.mark.e2e
@pytest.mark.usefixtures("require_git_lfs")
def test_push_authenticates_through_the_helper_only(hub, repo):
    """A remote URL without credentials: git and git-lfs get the token from `git hf credential`."""
    from tests.support import create_repo, start_from_hub

    url = create_repo(hub.url, "alice/helper")
    start_from_hub(repo, url)
    assert hf("init", "--endpoint", hub.url, cwd=repo).returncode == 0
    (repo / "w.bin").write_bytes(b"x" * 100_000)
    git("add", ".", cwd=repo)
    git("commit", "-q", "-m", "w", cwd=repo)
    git("remote", "add", "origin", url, cwd=repo)
    without = git("push", "origin", "main", cwd=repo, check=False)
    assert without.returncode != 0  # no token: nothing answers, git does not prompt
    pushed = git("push", "origin", "main", cwd=repo, env={"HF_TOKEN": TOKEN}, check=False)
    assert pushed.returncode == 0, pushed.stderr
    assert TOKEN not in pushed.stderr + pushed.stdout
    assert hub.stats()["objects_stored"] >= 1


@pytest.mark.parametrize("protocol,host,answers", [
    ("https", "huggingface.co", True),
    ("https", "HuggingFace.CO:443", True),       # case and default port do not matter
    ("http", "huggingface.co", False),           # never send the token in clear to an https Hub
    ("https", "huggingface.co:8443", False),
    ("https", "huggingface.co.evil.example", False),
    ("https", "evil.example", False),
    ("http", "127.0.0.1:9", True),               # a registered --endpoint
    ("http", "127.0.0.1:90", False),
])
def test_which_hosts_get_the_token(monkeypatch, protocol, host, answers):
    from git_hf_agent.cli.credential import answer

    monkeypatch.setenv("HF_TOKEN", TOKEN)
    reply = answer({"protocol": protocol, "host": host}, [ENDPOINT])
    assert (f"password={TOKEN}" in reply) is answers
    if not answers:
        assert reply == ""


def test_helper_path_does_not_import_huggingface_hub():
    """git runs the helper on every push and fetch: it must not pay for huggingface_hub."""
    import subprocess
    import sys

    code = ("import sys; from git_hf_agent.cli.main import cli; cli.get_command(None, 'credential'); "
            "print('huggingface_hub' in sys.modules, 'requests' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
