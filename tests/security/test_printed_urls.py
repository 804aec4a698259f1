"""Every URL the CLI prints has its userinfo and secrets redacted (issue 8, item 6)."""

from __future__ import annotations

import pytest

from tests.cli_setup.conftest import hf
from tests.support import TOKEN, authed, create_repo, git

pytestmark = pytest.mark.e2e


def test_push_to_a_url_with_a_token_never_prints_it(start_hub, tmp_path):
    hub = start_hub()
    url = create_repo(hub.url, "alice/p")
    repo = tmp_path / "p"
    git("clone", "-q", authed(url), str(repo))
    assert hf("init", "--endpoint", hub.url, cwd=repo).returncode == 0
    (repo / "w.bin").write_bytes(b"\0w" * 5000)
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "w", cwd=repo)
    proc = hf("push", authed(url), "HEAD:main", cwd=repo)
    out = proc.stdout + proc.stderr
    assert "git push" in out, out
    assert TOKEN not in out and "REDACTED@" in out


@pytest.mark.parametrize("args", [
    ("clone", f"http://alice:{TOKEN}@127.0.0.1:9/alice/m"),
    ("clone", "alice/m", "--endpoint", f"http://alice:{TOKEN}@127.0.0.1:9"),
    ("init", "--endpoint", f"http://alice:{TOKEN}@127.0.0.1:9"),
    ("doctor", "--endpoint", f"http://alice:{TOKEN}@127.0.0.1:9"),
    ("create", "alice/m", "--endpoint", f"http://alice:{TOKEN}@127.0.0.1:9"),
])
def test_errors_never_print_a_token_from_a_url(tmp_path, args):
    git("init", "-q", str(tmp_path / "r"))
    proc = hf(*args, cwd=tmp_path / "r")
    assert proc.returncode != 0
    assert TOKEN not in proc.stdout + proc.stderr
