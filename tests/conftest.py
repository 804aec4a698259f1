"""Fixtures for every suite: the hermetic seal (autouse), a local Hub per test, and HTTP faked at the wire."""

from __future__ import annotations

import shutil
import tempfile

import pytest
import responses

from git_hf_agent.localhub.process import ServeProcess
from tests.support import TOKEN, USER, hermetic_env


# Free space the suite needs in the temp dir; the one 6 GiB test checks for its own share.
SUITE_NEEDS = 3 * 1024**3


def pytest_sessionstart(session):
    """Stop at once, with the numbers, when the temp dir's disk is nearly full.

    Without this every test errors in its tmp_path set-up, hundreds of identical errors.
    """
    tmp = tempfile.gettempdir()
    free = shutil.disk_usage(tmp).free
    if free < SUITE_NEEDS:
        pytest.exit(
            f"only {free / 1024**3:.1f} GiB free in {tmp}; the tests need about {SUITE_NEEDS // 1024**3} GiB "
            f"(and the 6 GiB test about 24 GiB): free some space there or point TMPDIR at a bigger disk",
            returncode=1,
        )


@pytest.fixture(autouse=True)
def hermetic(tmp_path, monkeypatch):
    """Seal git, git-lfs and huggingface_hub away from the developer's config and tokens."""
    from tests.support import _DROP

    for var in _DROP:
        monkeypatch.delenv(var, raising=False)
    env = hermetic_env(tmp_path)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


@pytest.fixture
def require_git_lfs():
    """Fail loudly (not skip) when git-lfs is missing: install.sh must have installed it."""
    if shutil.which("git-lfs") is None:
        pytest.fail("git-lfs is not installed; run ./install.sh --dev")


@pytest.fixture
def start_hub(tmp_path, require_git_lfs):
    """Factory: ``start_hub("--chunk-size", "1MiB", ...)`` starts a local Hub accepting TOKEN."""
    servers: list[ServeProcess] = []

    def start(*args: str, tokens: dict[str, str] | None = None) -> ServeProcess:
        root = tmp_path / f"hub{len(servers)}"
        server = ServeProcess(*args, root=root, tokens=tokens if tokens is not None else {USER: TOKEN})
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def hub(start_hub):
    """A local Hub with default options and the test token."""
    return start_hub()


@pytest.fixture
def rsps():
    """Every HTTP request goes to ``responses``; unmatched ones fail as connection errors."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock
