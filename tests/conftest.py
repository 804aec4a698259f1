"""Fixtures for every suite: the hermetic seal (autouse), a local Hub per test, and HTTP faked at the wire."""

from __future__ import annotations

import shutil

import pytest
import responses

from git_hf_agent.localhub.process import ServeProcess
from tests.support import TOKEN, USER, hermetic_env


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
