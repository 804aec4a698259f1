"""Fixtures for the agent's in-process tests: a repo dir as cwd and a wire-level HTTP fake."""

from __future__ import annotations

import pytest

from tests.agent.fakehub import CHUNK, DATA, FakeHub, make_object


@pytest.fixture
def repo(tmp_path, monkeypatch):
    """An empty directory standing for the repo the agent runs in (its cwd), with a .git dir."""
    (tmp_path / ".git").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def hub(rsps):
    """The Hub and storage at the wire for the usual test object (``DATA`` in parts of ``CHUNK``)."""
    return FakeHub(rsps, DATA, CHUNK)


@pytest.fixture
def obj(repo):
    """``DATA`` stored as an LFS object in ``repo``: (oid, path)."""
    return make_object(repo, DATA)
