"""The Hub queries behind `git hf verify`, at the wire (`responses`): batching, auth, retries, errors."""

from __future__ import annotations

import json
from urllib.parse import parse_qs

import pytest
import responses

from git_hf_agent.errors import HfError
from git_hf_agent.hubremote import HubRemote

TOKEN = "hf_wireTestToken0123456789"
BASE = "https://huggingface.co"


@pytest.fixture
def env(monkeypatch):
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    monkeypatch.delenv("HF_ENDPOINT", raising=False)


def test_remote_urls_are_understood(env):
    hub = HubRemote.from_url("https://huggingface.co/datasets/alice/d.git")
    assert (hub.endpoint, hub.repo.path, hub.repo.type) == (BASE, "datasets/alice/d", "dataset")
    assert hub.lfs_url == f"{BASE}/datasets/alice/d.git/info/lfs" and hub.token == TOKEN
    proxied = HubRemote.from_url("http://u:secret@proxy.local:8080/hub/alice/m")
    assert (proxied.endpoint, proxied.token, proxied.username) == ("http://proxy.local:8080/hub", "secret", "u")
    assert HubRemote.from_url(f"{BASE}/alice/m", lfs_url="https://lfs.example/x/").lfs_url == "https://lfs.example/x"
    with pytest.raises(HfError, match="not an http"):
        HubRemote.from_url("git@hf.co:alice/m")


def test_configured_token_never_goes_to_another_host(env):
    assert HubRemote.from_url("https://git.example.com/alice/m").token is None


@responses.activate
def test_paths_info_is_batched_with_bearer_auth(env):
    seen = []

    def reply(request):
        paths = parse_qs(request.body)["paths"]
        seen.append((len(paths), request.headers["Authorization"]))
        return 200, {}, json.dumps([{"type": "file", "path": p, "lfs": {"oid": "a" * 64, "size": 1}} for p in paths])

    responses.add_callback(responses.POST, f"{BASE}/api/models/alice/m/paths-info/refs%2Fpr%2F1", callback=reply)
    found = HubRemote.from_url(f"{BASE}/alice/m").paths_info("refs/pr/1", [f"f{i}" for i in range(1201)])
    assert len(found) == 1201 and sorted(n for n, _ in seen) == [201, 500, 500]
    assert {auth for _, auth in seen} == {f"Bearer {TOKEN}"}


@responses.activate
def test_lfs_batch_reports_missing_and_stored(env):
    def reply(request):
        body = json.loads(request.body)
        assert body["operation"] == "download" and request.headers["Accept"] == "application/vnd.git-lfs+json"
        assert request.headers["Authorization"].startswith("Basic ")
        objects = [{"oid": o["oid"], "error": {"code": 404, "message": "Not found"}} if o["oid"].startswith("b")
                   else {"oid": o["oid"], "size": 7, "actions": {"download": {"href": "https://cdn/x"}}}
                   for o in body["objects"]]
        return 200, {}, json.dumps({"objects": objects})

    responses.add_callback(responses.POST, f"{BASE}/alice/m.git/info/lfs/objects/batch", callback=reply)
    objs = [(c * 64, 7) for c in "ab"] + [(f"{i:064x}", 7) for i in range(150)]
    found = HubRemote.from_url(f"{BASE}/alice/m").stored_objects(objs)
    assert found["a" * 64].present and found["a" * 64].size == 7
    assert not found["b" * 64].present and found["b" * 64].error is None
    assert len(responses.calls) == 2  # 152 objects, 100 per request


@responses.activate
def test_server_errors_are_retried_then_succeed(env):
    url = f"{BASE}/api/models/alice/m/paths-info/main"
    responses.add(responses.POST, url, status=503)
    responses.add(responses.POST, url, json=[{"type": "file", "path": "a"}])
    assert "a" in HubRemote.from_url(f"{BASE}/alice/m").paths_info("main", ["a"])
    assert len(responses.calls) == 2


@responses.activate
def test_refused_access_names_the_fix_and_hides_the_token(env):
    responses.add(responses.POST, f"{BASE}/api/models/alice/m/paths-info/main", status=401,
                  body=f"Invalid credentials in Authorization header {TOKEN}")
    with pytest.raises(HfError) as err:
        HubRemote.from_url(f"{BASE}/alice/m").paths_info("main", ["a"])
    assert "answered 401" in err.value.message and TOKEN not in err.value.message
    assert "HF_TOKEN" in err.value.fix


@responses.activate
def test_missing_revision_is_a_clear_404(env):
    responses.add(responses.POST, f"{BASE}/api/models/alice/m/paths-info/dev", status=404, json={"error": "Revision Not Found"})
    with pytest.raises(HfError, match="revision 'dev' not found"):
        HubRemote.from_url(f"{BASE}/alice/m").paths_info("dev", ["a"])


@responses.activate
@pytest.mark.parametrize("body", [{"error": "oops"}, [{"path": 3}], [{"path": "a", "lfs": "x"}],
                                  [{"path": "a", "lfs": {"oid": "a" * 64, "size": "1"}}], "not json"])
def test_unexpected_paths_info_json_is_a_clear_error(env, body):
    url = f"{BASE}/api/models/alice/m/paths-info/main"
    if body == "not json":
        responses.add(responses.POST, url, body="<html>", status=200)
    else:
        responses.add(responses.POST, url, json=body)
    with pytest.raises(HfError) as err:
        HubRemote.from_url(f"{BASE}/alice/m").paths_info("main", ["a"])
    assert "is not" in err.value.message and "git remote -v" in err.value.fix


@responses.activate
@pytest.mark.parametrize("body", [[], {"objects": {"oid": "x"}}, {"objects": [{"oid": 1}]},
                                  {"objects": [{"oid": "a" * 64, "error": "gone"}]}])
def test_unexpected_batch_json_is_a_clear_error(env, body):
    responses.add(responses.POST, f"{BASE}/alice/m.git/info/lfs/objects/batch", json=body)
    with pytest.raises(HfError, match="is not an object"):
        HubRemote.from_url(f"{BASE}/alice/m").stored_objects([("a" * 64, 1)])


@responses.activate
def test_lfs_credentials_are_chosen_for_the_lfs_url(env):
    """lfsurl on another host gets no token; the remote URL's own password stays with its origin."""
    hub = HubRemote.from_url(f"{BASE}/alice/m", lfs_url="https://lfs.example/alice/m")
    assert hub.token == TOKEN and hub.lfs_token is None
    responses.add(responses.POST, "https://lfs.example/alice/m/objects/batch", json={"objects": []})
    hub.stored_objects([("a" * 64, 1)])
    assert "Authorization" not in responses.calls[0].request.headers
    mine = HubRemote.from_url("https://u:pw@git.example/alice/m", lfs_url="https://git.example/lfs")
    assert (mine.lfs_username, mine.lfs_token) == ("u", "pw")
    other = HubRemote.from_url("https://u:pw@git.example/alice/m", lfs_url="https://lfs.example/lfs")
    assert other.lfs_token is None and other.token == "pw"
    assert HubRemote.from_url("http://huggingface.co/alice/m").token is None  # never over plain http


@responses.activate
def test_netrc_never_replaces_or_adds_credentials(env, hermetic, tmp_path):
    netrc = tmp_path / "home" / ".netrc"
    netrc.write_text("machine huggingface.co login n password netrc-secret\nmachine lfs.example login n password netrc-secret\n")
    netrc.chmod(0o600)
    responses.add(responses.POST, f"{BASE}/api/models/alice/m/paths-info/main", json=[])
    responses.add(responses.POST, "https://lfs.example/x/objects/batch", json={"objects": []})
    hub = HubRemote.from_url(f"{BASE}/alice/m", lfs_url="https://lfs.example/x")
    hub.paths_info("main", ["a"])
    hub.stored_objects([("a" * 64, 1)])
    assert responses.calls[0].request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert "Authorization" not in responses.calls[1].request.headers


@responses.activate
def test_refusal_by_a_host_that_gets_no_token_says_why(env):
    responses.add(responses.POST, "https://git.example/api/models/alice/m/paths-info/main", status=401)
    with pytest.raises(HfError) as err:
        HubRemote.from_url("https://git.example/alice/m").paths_info("main", ["a"])
    assert "not a configured Hub endpoint" in err.value.message
    assert "git hf init --endpoint https://git.example" in err.value.fix
    assert "Authorization" not in responses.calls[0].request.headers
