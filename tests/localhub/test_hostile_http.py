"""Property: whatever a client sends (method, path, headers, body), the local Hub answers 2xx/3xx/4xx and stays up.

One server takes every example, so state left by earlier requests (uploads,
repos, half-read bodies) is part of what later ones meet. Requests go over a raw
socket, framed correctly (Content-Length matches the body) but with arbitrary
content: known routes with mutated segments, real presigned URLs with mutated
queries, random headers (tokens, ranges, chunked, hosts) and random or
batch-shaped bodies. At the end the server's RSS must stay under 100 MB.
"""

from __future__ import annotations

import json
import os
import socket
from urllib.parse import quote

import psutil
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.localhub.wire import batch, oid
from tests.support import TOKEN, create_repo

MiB = 1024 * 1024
RSS_LIMIT = 100 * MiB
EXAMPLES = int(os.environ.get("HOSTILE_HTTP_EXAMPLES", "300"))  # raise it locally to hunt for more
TEMPLATES = [  # (method, path) of every route family; real presigned hrefs are added by the fixture
    ("GET", "/"), ("GET", "/_local/stats"), ("POST", "/alice/x.git/info/lfs/objects/batch"),
    ("POST", "/alice/x/info/lfs/objects/batch"), ("POST", "/datasets/alice/d.git/info/lfs/objects/batch"),
    ("POST", "/alice/x.git/info/lfs/objects/verify"), ("POST", "/alice/x.git/info/lfs/locks/verify"),
    ("GET", "/alice/x.git/info/refs?service=git-upload-pack"), ("GET", "/alice/x.git/info/refs?service=git-receive-pack"),
    ("POST", "/alice/x.git/git-upload-pack"), ("POST", "/alice/x.git/git-receive-pack"),
    ("GET", "/api/whoami-v2"), ("POST", "/api/repos/create"), ("DELETE", "/api/repos/delete"),
    ("GET", "/api/models/alice/x"), ("GET", "/api/models/alice/x/tree/main"), ("GET", "/api/datasets/alice/d/tree/main"),
    ("POST", "/api/models/alice/x/paths-info/main"), ("POST", "/api/models/alice/x/preupload/main"),
    ("POST", "/api/models/alice/x/commit/main"), ("GET", "/api/models/alice/x/revision/main"),
    ("GET", "/api/models/alice/x/refs"), ("GET", "/api/models/alice/x/commits/main"),
    ("GET", "/alice/x/resolve/main/.gitattributes"), ("HEAD", "/alice/x/resolve/main/small.bin"),
    ("POST", "/api/complete_multipart"), ("GET", "/_lfs/objects/" + "a" * 64), ("PUT", "/_lfs/parts/" + "a" * 64),
    ("POST", "/api/validate-yaml"),
]
METHODS = ["GET", "POST", "PUT", "HEAD", "DELETE", "PATCH", "OPTIONS"]


@pytest.fixture
def hostile_hub(start_hub):
    """A Hub with a repo, a dataset, a stored object and an upload in progress; its real presigned hrefs."""
    hub = start_hub("--chunk-size", "1MiB", "--multipart-threshold", "1MiB", "--upload-reuse", "keep")
    create_repo(hub.url, "alice/x")
    create_repo(hub.url, "alice/d", "dataset")
    small = b"small object\n"
    up = batch(hub.url, "alice/x", [(oid(small), len(small))], transfers=("basic",)).json()["objects"][0]
    import requests

    requests.put(up["actions"]["upload"]["href"], data=small, timeout=30)
    big = bytes(3 * MiB + 7)
    action = batch(hub.url, "alice/x", [(oid(big), len(big))]).json()["objects"][0]["actions"]
    parts = [v for k, v in action["upload"]["header"].items() if k.isdigit()]
    requests.put(parts[0], data=big[:MiB], timeout=30)
    down = batch(hub.url, "alice/x", [(oid(small), len(small))], operation="download").json()["objects"][0]
    hrefs = [*(("PUT", p) for p in parts), ("POST", action["upload"]["href"]), ("POST", action["verify"]["href"]),
             ("GET", down["actions"]["download"]["href"]), ("PUT", up["actions"]["upload"]["href"])]
    hub.targets = [(m, h.split(hub.url, 1)[1]) for m, h in hrefs]
    return hub


def _segment() -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(["", ".", "..", "%2f", "%00", "alice", "x.git", "a" * 64, "main", "%0d%0a"]),
                     st.text(max_size=20).map(lambda t: quote(t, safe="")))


def _target(targets: list[tuple[str, str]]) -> st.SearchStrategy[tuple[str, str]]:
    """Mostly a real route with its method, sometimes with one segment or query value mutated, or anything."""
    exact = st.sampled_from(targets)
    mutated = st.tuples(exact, st.integers(1, 8), _segment()).map(
        lambda t: (t[0][0], "/".join(s if i != t[1] else t[2] for i, s in enumerate(t[0][1].split("/")))))
    query = st.tuples(exact, st.sampled_from(["uploadId", "partNumber", "size", "chunk", "repo", "expires",
                                              "signature", "oid", "user", "service"]), _segment()).map(
        lambda t: (t[0][0], t[0][1].replace(f"{t[1]}=", f"{t[1]}={t[2]}", 1)))
    free = st.tuples(st.sampled_from(METHODS), st.lists(_segment(), max_size=6).map(lambda s: "/" + "/".join(s)))
    odd_method = st.tuples(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=8) | st.sampled_from(
        METHODS), exact.map(lambda t: t[1]))
    return st.one_of(exact, exact, exact, mutated, query, free, odd_method)


_json_value = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2 ** 80), 2 ** 80), st.text(max_size=30),
              st.sampled_from(["a" * 64, "upload", "download", "multipart", "basic"])),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["oid", "size", "operation", "objects", "transfers", "parts", "partNumber", "etag",
                         "ref", "hash_algo", "name", "type", "private", "organization"]) | st.text(max_size=8),
        inner, max_size=5),
    max_leaves=25)


def _batch_body() -> st.SearchStrategy[bytes]:
    obj = st.fixed_dictionaries({"oid": st.sampled_from(["a" * 64, "b" * 64, oid(b"small object\n"), "x"]),
                                 "size": st.one_of(st.integers(-5, 5 * MiB), st.sampled_from([2 ** 70, 2 ** 36]))})
    body = st.fixed_dictionaries({"operation": st.sampled_from(["upload", "download", "x"]),
                                  "transfers": st.lists(st.sampled_from(["basic", "multipart", "xet"]), max_size=3),
                                  "objects": st.lists(obj, max_size=20)})
    return body.map(lambda b: json.dumps(b).encode())


def _ndjson() -> st.SearchStrategy[bytes]:
    header = st.fixed_dictionaries({"key": st.just("header"), "value": st.fixed_dictionaries(
        {"summary": st.text(max_size=20)}, optional={"parentCommit": st.text(max_size=40)})})
    line = st.fixed_dictionaries({"key": st.sampled_from(["file", "lfsFile", "deletedFile", "deletedFolder", "x"]),
                                  "value": _json_value})
    return st.tuples(header, st.lists(line, max_size=5)).map(
        lambda t: b"\n".join(json.dumps(x).encode() for x in [t[0], *t[1]]))


_body = st.one_of(st.just(b""), st.binary(max_size=4096), _json_value.map(lambda v: json.dumps(v).encode()),
                  _batch_body(), _batch_body(), _ndjson(), st.integers(1, 2 * MiB).map(lambda n: b"\0" * n))

_random_headers = st.dictionaries(
    st.sampled_from(["Authorization", "Content-Type", "Range", "Transfer-Encoding", "Host", "Accept",
                     "Content-Encoding", "Expect", "X-Anything"]),
    st.one_of(st.sampled_from([f"Bearer {TOKEN}", "Bearer nope", "Basic !!!", "Basic " + "YTpi", "bytes=0-3",
                               "bytes=-1", "bytes=5-2", "bytes=" + "9" * 30 + "-", "chunked", "gzip",
                               "evil.example", "application/vnd.git-lfs+json", "100-continue", "identity"]),
              st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40)),
    max_size=5)
_headers = st.one_of(_random_headers, _random_headers.map(lambda h: {"Authorization": f"Bearer {TOKEN}", **h}),
                     st.just({"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/vnd.git-lfs+json"}))


def _send(hub, method: str, path: str, headers: dict[str, str], body: bytes) -> bytes:
    """One framed request over a fresh connection; the status line (b"" if the server closed without one)."""
    host, port = hub.url.split("//")[1].rsplit(":", 1)
    if headers.get("Transfer-Encoding") == "chunked":  # a correctly chunked body, in pieces of up to 1000 bytes
        pieces = [body[i:i + 1000] for i in range(0, len(body), 1000)]
        framed = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"
    else:
        headers.pop("Transfer-Encoding", None)
        headers, framed = {**headers, "Content-Length": str(len(body))}, body
    lines = [f"{method} {path} HTTP/1.1", f"Host: {headers.pop('Host', f'{host}:{port}')}", "Connection: close",
             *(f"{k}: {v}" for k, v in headers.items())]
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall("\r\n".join(lines).encode("utf-8", "surrogateescape") + b"\r\n\r\n" + framed)
        answer = b""
        try:
            while chunk := sock.recv(1 << 20):
                answer += chunk
        except ConnectionResetError:
            pass
    while answer.startswith(b"HTTP/1.1 1"):  # interim answers (100 Continue) come before the final one
        answer = answer.split(b"\r\n\r\n", 1)[-1]
    return answer.split(b"\r\n", 1)[0]


@pytest.mark.reliability
def test_any_request_gets_a_non_5xx_answer_and_the_server_stays_up_and_small(hostile_hub):
    hub = hostile_hub
    server = psutil.Process(hub.proc.pid)

    @settings(max_examples=EXAMPLES, deadline=None, derandomize="HOSTILE_HTTP_EXAMPLES" not in os.environ,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                     HealthCheck.data_too_large])
    @given(target=_target(TEMPLATES + hub.targets), headers=_headers, body=_body)
    def one_request(target, headers, body):
        method, path = target
        status = _send(hub, method, path, dict(headers), body)
        assert hub.proc.poll() is None, "the server died"
        assert status.startswith(b"HTTP/1."), (method, path, headers, body[:100], status)
        code = int(status.split()[1])
        assert 200 <= code < 500, (method, path, headers, body[:200], status)
        assert server.memory_info().rss < RSS_LIMIT, f"server RSS {server.memory_info().rss / MiB:.0f} MiB"

    one_request()
    assert hub.stats()["requests"]["batch"] > 0  # the server still answers
