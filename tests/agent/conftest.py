"""Fixtures for the agent's in-process tests: a repo dir as cwd and a wire-level HTTP fake."""

from __future__ import annotations

import pytest
import responses


@pytest.fixture
def repo(tmp_path, monkeypatch):
    """An empty directory standing for the repo the agent runs in (its cwd), with a .git dir."""
    (tmp_path / ".git").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def rsps():
    """Every HTTP request of the agent goes to ``responses``; unmatched ones fail as connection errors."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock
