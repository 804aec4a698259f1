"""The agent sends exactly the headers a server puts in an action and adds no credentials (issue 8, item 10)."""

from __future__ import annotations

import io

import pytest
import responses

from git_hf_agent.agent.http import Transport
from git_hf_agent.agent.log import Log

URL = "https://storage.example/bucket/obj?X-Amz-Signature=sig"


@pytest.fixture
def transport(hermetic, tmp_path):
    netrc = tmp_path / "home" / ".netrc"  # a netrc entry for the storage host must change nothing
    netrc.write_text("machine storage.example login n password netrc-secret\n")
    netrc.chmod(0o600)
    return Transport(Log(None, stderr=io.StringIO()), parallel=1, timeout=5)


@responses.activate
@pytest.mark.parametrize("kind", ["basic", "part", "complete"])
def test_action_without_authorization_gets_none(transport, kind):
    responses.add(responses.PUT, URL, status=200, headers={"ETag": '"e"'})
    transport.request(kind, "PUT", URL, attempt=1, body=b"x", nbytes=1, headers={"X-Custom": "1"})
    sent = responses.calls[0].request.headers
    assert "Authorization" not in sent and sent["X-Custom"] == "1"


@responses.activate
def test_action_authorization_is_sent_exactly_as_given(transport):
    responses.add(responses.PUT, URL, status=200)
    transport.request("basic", "PUT", URL, attempt=1, body=b"x", nbytes=1,
                      headers={"Authorization": "RemoteAuth abc", "X-Custom": "1"})
    sent = responses.calls[0].request.headers
    assert sent["Authorization"] == "RemoteAuth abc" and sent["X-Custom"] == "1"
