"""Done-when of issue 8: with HF_TOKEN set, a host that is not the configured Hub never sees it.

A recording HTTP server on 127.0.0.1 plays "some other git host": it answers 401
with ``WWW-Authenticate: Basic`` until credentials come (as GitHub does for a
repo it does not have) and records every request's Authorization header. The
configured Hub is a local Hub on another port (HF_ENDPOINT), set up globally
with ``git hf init --global`` as a user would. Every command that could send
the token is pointed at the recorder; the recorder must see requests (so the
test is not vacuous where a request is expected) and zero Authorization headers.
"""

from __future__ import annotations

import io
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from git_hf_agent.agent.http import Transport
from git_hf_agent.agent.log import Log
from git_hf_agent.agent.refresh import Refresher, RefreshError
from git_hf_agent.agent.retry import Policy
from tests.cli_setup.conftest import hf
from tests.support import TOKEN, git

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]
OID = "a" * 64


class Recorder(BaseHTTPRequestHandler):
    """401 + Basic challenge until an Authorization header comes (then 403); records every request."""

    protocol_version = "HTTP/1.0"
    seen: list[tuple[str, str, str | None]]

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        auth = self.headers.get("Authorization")
        self.server.seen.append((self.command, self.path, auth))
        body = b'{"message": "credentials required"}'
        self.send_response(403 if auth else 401)
        self.send_header("WWW-Authenticate", 'Basic realm="recorder"')
        self.send_header("Content-Type", "application/vnd.git-lfs+json" if "info/lfs" in self.path else "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_HEAD = _answer

    def log_message(self, *args) -> None:  # keep the test output clean
        pass


@pytest.fixture
def recorder():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    server.seen = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def user(hub, monkeypatch):
    """A user with HF_TOKEN, the local Hub as HF_ENDPOINT, and `git hf init --global` done."""
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    assert hf("init", "--global").returncode == 0
    return hub


def authorizations(recorder) -> list[str]:
    return [auth for _, _, auth in recorder.seen if auth]


def lfs_repo(path, origin: str):
    """A repo with one committed LFS file and ``origin`` as its remote."""
    git("init", "-q", "-b", "main", str(path))
    git("lfs", "install", "--local", cwd=path)
    git("lfs", "track", "*.bin", cwd=path)
    (path / "w.bin").write_bytes(b"\0weights" * 1000)
    git("add", "-A", cwd=path)
    git("commit", "-q", "-m", "w", cwd=path)
    git("remote", "add", "origin", origin, cwd=path)
    return path


def test_clone_of_another_host_sends_nothing_and_registers_nothing(user, recorder, tmp_path):
    proc = hf("clone", f"{recorder.url}/alice/m", str(tmp_path / "c"))
    assert proc.returncode == 1 and "--endpoint" in proc.stderr and "HF_ENDPOINT" in proc.stderr
    assert not (tmp_path / "c").exists()
    assert authorizations(recorder) == []
    helpers = git("config", "--global", "--get-regexp", r"credential\..*\.helper", check=False).stdout
    assert recorder.url not in helpers


@pytest.mark.parametrize("hf_endpoint", [True, False])
def test_doctor_with_another_origin(user, recorder, tmp_path, monkeypatch, hf_endpoint):
    """With HF_ENDPOINT doctor checks that Hub and flags origin; without, it checks origin's host anonymously."""
    repo = lfs_repo(tmp_path / "r", f"{recorder.url}/alice/m")
    if not hf_endpoint:
        monkeypatch.delenv("HF_ENDPOINT")
    proc = hf("doctor", cwd=repo)
    assert proc.returncode == 1
    assert "not on a configured Hub endpoint" in proc.stdout or "not a configured Hub endpoint" in proc.stdout
    assert f"git hf init --endpoint {recorder.url}" in proc.stdout
    if not hf_endpoint:
        assert recorder.seen, "doctor did not even check reachability"
        assert "logged in as" not in proc.stdout
    assert authorizations(recorder) == []


def test_verify_with_another_origin(user, recorder, tmp_path):
    repo = lfs_repo(tmp_path / "r", f"{recorder.url}/alice/m")
    proc = hf("verify", cwd=repo)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert any("paths-info" in path for _, path, _ in recorder.seen)
    assert authorizations(recorder) == []


def test_verify_with_an_lfsurl_on_another_host(user, recorder, tmp_path):
    """The Hub's own API gets the token; the LFS calls go to lfsurl's host and get none (issue 8, item 5)."""
    hub = user
    assert hf("create", "alice/v").returncode == 0
    clone = tmp_path / "v"
    assert hf("clone", "alice/v", str(clone)).returncode == 0
    git("lfs", "track", "*.bin", cwd=clone)
    (clone / "w.bin").write_bytes(b"\0weights" * 1000)
    git("add", "-A", cwd=clone)
    git("commit", "-q", "-m", "w", cwd=clone)
    git("push", "-q", "origin", "HEAD:main", cwd=clone)
    git("config", "remote.origin.lfsurl", f"{recorder.url}/alice/v.git/info/lfs", cwd=clone)
    proc = hf("verify", cwd=clone)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert any(path.endswith("/objects/batch") for _, path, _ in recorder.seen)
    assert authorizations(recorder) == []
    assert hub.stats()["requests"], "the configured Hub was not asked at all"


@pytest.mark.parametrize("create", [False, True])
def test_push_to_another_origin(user, recorder, tmp_path, create):
    repo = lfs_repo(tmp_path / "r", f"{recorder.url}/alice/m")
    proc = hf("push", *(["--create"] if create else []), cwd=repo)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    if create:
        assert "not the configured Hub" in proc.stderr or "not a configured Hub" in proc.stderr
    else:
        assert recorder.seen, "git push never reached the other host"
    assert authorizations(recorder) == []
    assert TOKEN not in proc.stdout + proc.stderr


def test_credential_helper_for_another_host(user, recorder, tmp_path):
    host = recorder.url.split("://", 1)[1]
    filled = git("credential", "fill", cwd=tmp_path, check=False, input=f"url={recorder.url}/alice/m.git\n\n")
    assert TOKEN not in filled.stdout + filled.stderr
    direct = hf("credential", "get", cwd=tmp_path, input=f"protocol=http\nhost={host}\n\n")
    assert direct.returncode == 0 and direct.stdout == ""
    # A clone through plain git with every helper configured: the recorder asks, nobody answers.
    git("clone", "-q", f"{recorder.url}/alice/m", str(tmp_path / "plain"), check=False)
    assert recorder.seen and authorizations(recorder) == []


def test_agent_refresh_against_another_host(user, recorder, tmp_path):
    """The agent's own batch call (URL refresh) asks git for credentials for the LFS URL: none come."""
    repo = lfs_repo(tmp_path / "r", f"{recorder.url}/alice/m")
    transport = Transport(Log(None, stderr=io.StringIO()), parallel=1, timeout=10)
    with pytest.raises(RefreshError):
        Refresher(transport, "origin", cwd=str(repo)).fetch(OID, 10, Policy(max_attempts=1, backoff=0))
    assert [path for _, path, _ in recorder.seen] == ["/alice/m.git/info/lfs/objects/batch"]
    assert authorizations(recorder) == []


def test_the_configured_hub_still_gets_the_token(user, recorder, tmp_path):
    """Control: the same set-up does authenticate against the configured Hub (the rule is not 'never')."""
    hub = user
    assert hf("create", "alice/ok", "--private").returncode == 0
    proc = hf("clone", "alice/ok", str(tmp_path / "ok"))
    assert proc.returncode == 0, proc.stderr
    doctor = hf("doctor", cwd=tmp_path / "ok")
    assert "logged in as alice" in doctor.stdout, doctor.stdout
    assert authorizations(recorder) == []
