"""Bad input gets a 400 with a message; nothing escapes the state directory; tokens never logged."""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit

import pytest
import requests

from tests.localhub.wire import LFS, batch
from tests.support import TOKEN, create_repo

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def raw_request(base: str, method: str, path: str, body: bytes = b"", headers: dict | None = None):
    """Send ``path`` exactly as given (no client-side normalisation of ``..``)."""
    u = urlsplit(base)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    conn.request(method, path, body=body, headers={**AUTH, **(headers or {})})
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, data


@pytest.mark.parametrize("path", [
    "/al..ice/x.git/info/lfs/objects/batch",
    "/alice/..git/info/lfs/objects/batch",
    "/%2e%2e/x.git/info/lfs/objects/batch",
    "/alice/x%2fy.git/info/lfs/objects/batch",
    "/api/models/alice/..%2F..%2Fetc/tree/main",
    "/alice/../../x/info/refs",
    "/api/models/alice/x/resolve/main/../../../hub.json",
])
def test_repo_ids_with_path_tricks_are_400(hub, path):
    status, body = raw_request(hub.url, "POST" if "batch" in path else "GET", path, b"{}", LFS)
    assert status == 400, body
    assert b"invalid" in body


@pytest.mark.parametrize("oid", ["../../../../etc/passwd", "..%2F..%2Fhub.json", "ABCDEF" + "0" * 58, "g" * 64,
                                 "a" * 63, "a" * 65])
def test_bad_oids_are_400_on_storage_urls(hub, oid):
    status, body = raw_request(hub.url, "PUT", f"/_lfs/objects/{oid}?size=1&expires=1&signature=x", b"x")
    assert status == 400, body


def test_bad_oids_in_a_batch_get_per_object_errors(hub):
    create_repo(hub.url, "alice/x")
    body = batch(hub.url, "alice/x", [("../x", 1), ("a" * 64, -1)]).json()
    assert [o["error"]["code"] for o in body["objects"]] == [422, 422]


def test_malformed_json_is_400_with_a_message(hub):
    create_repo(hub.url, "alice/x")
    resp = requests.post(f"{hub.url}/alice/x.git/info/lfs/objects/batch", data=b"{not json",
                         headers={**LFS, **AUTH}, timeout=30)
    assert resp.status_code == 400 and "malformed JSON" in resp.json()["message"]
    resp = requests.post(f"{hub.url}/api/repos/create", data=b"[1, 2]", headers=AUTH, timeout=30)
    assert resp.status_code == 400 and "malformed JSON" in resp.json()["error"]
    resp = requests.post(f"{hub.url}/api/models/alice/x/commit/main", data=b'{"key": "file"}\nnope\n',
                         headers=AUTH, timeout=30)
    assert resp.status_code == 400 and "ndjson" in resp.json()["error"]


def test_commit_paths_cannot_escape_the_repo(hub):
    """The Hub's path rules answer 422; paths git cannot store (under any `.git`) 400, never a silent drop."""
    create_repo(hub.url, "alice/x")
    cases = {"../evil": 422, "..\\x": 422, "a/./b": 422, "/": 422, "a//b": 422, "tab\tname": 422,
             ".git/hooks/pre-receive": 400, ".GIT/config": 400, "sub/.git/config": 400, "a/.Git./x": 400,
             "git~1/x": 400}
    for path, status in cases.items():
        line = json.dumps({"key": "file", "value": {"path": path, "content": "eA==", "encoding": "base64"}})
        resp = requests.post(f"{hub.url}/api/models/alice/x/commit/main", data=line.encode(), headers=AUTH, timeout=30)
        assert resp.status_code == status, (path, resp.text)
        assert resp.headers["X-Error-Message"].startswith("Invalid path"), path
    files = requests.get(f"{hub.url}/api/models/alice/x/tree/main?recursive=1", timeout=30).json()
    assert [f["path"] for f in files] == [".gitattributes"]


def test_repo_creation_rules(hub, start_hub):
    bad = requests.post(f"{hub.url}/api/repos/create", json={"name": "../x"}, headers=AUTH, timeout=30)
    assert bad.status_code == 400
    anonymous = requests.post(f"{hub.url}/api/repos/create", json={"name": "x"}, timeout=30)
    assert anonymous.status_code == 401
    other = start_hub(tokens={"alice": TOKEN, "bob": "hf_bobToken123456"})
    foreign = requests.post(f"{other.url}/api/repos/create", json={"name": "x", "organization": "bob"},
                            headers=AUTH, timeout=30)
    assert foreign.status_code == 403
    shouted = requests.post(f"{other.url}/api/repos/create", json={"name": "x", "organization": "BOB"},
                            headers=AUTH, timeout=30)
    assert shouted.status_code == 403  # namespaces match case-insensitively: BOB is the user bob
    org = requests.post(f"{other.url}/api/repos/create", json={"name": "x", "organization": "acme"},
                        headers=AUTH, timeout=30)
    assert org.status_code == 200


def test_tokens_never_reach_the_log(hub):
    create_repo(hub.url, "alice/x")
    requests.get(f"{hub.url}/api/whoami-v2", headers=AUTH, timeout=30)
    requests.get(f"{hub.url}/api/whoami-v2?token={TOKEN}", timeout=30)
    requests.get(f"{hub.url}/api/whoami-v2", headers={"Authorization": "Bearer hf_wrongButSecret123"}, timeout=30)
    log = hub.log_path.read_text()
    assert "whoami-v2" in log
    assert TOKEN not in log and "hf_wrongButSecret123" not in log


def test_commit_api_refuses_large_or_binary_regular_files(hub):
    import base64

    create_repo(hub.url, "alice/x")
    for content, words in ((b"\0\1\2", "binary"), (b"x" * (10 * 1024 * 1024 + 1), "larger than 10 MiB")):
        line = {"key": "file", "value": {"path": "f", "content": base64.b64encode(content).decode(), "encoding": "base64"}}
        resp = requests.post(f"{hub.url}/api/models/alice/x/commit/main", data=json.dumps(line).encode(),
                             headers=AUTH, timeout=30)
        assert resp.status_code == 400 and words in resp.json()["error"]
