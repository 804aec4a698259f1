"""Identifiers are full matches: a trailing newline (which ``$`` accepts) is refused everywhere (issue 8)."""

from __future__ import annotations

import json

import pytest

from git_hf_agent.agent import protocol
from git_hf_agent.hubconf import RepoId
from git_hf_agent.localhub.errors import StorageError, check_oid

OID = "ab" * 32


def test_agent_refuses_an_oid_with_a_trailing_newline():
    good = protocol.parse(json.dumps({"event": "upload", "oid": OID, "size": 1, "path": "/tmp/x"}))
    bad = protocol.parse(json.dumps({"event": "upload", "oid": OID + "\n", "size": 1, "path": "/tmp/x"}))
    assert isinstance(good, protocol.Transfer) and isinstance(bad, protocol.BadLine)


def test_local_hub_refuses_an_oid_with_a_trailing_newline():
    assert check_oid(OID) == OID
    with pytest.raises(StorageError):
        check_oid(OID + "\n")


@pytest.mark.parametrize("text", ["alice/m\n", "alice\n/m"])
def test_repo_ids_are_full_matches(text):
    with pytest.raises(ValueError):
        RepoId.parse(text)
