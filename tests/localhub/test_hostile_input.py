"""Hostile input at the HTTP level: limits answer 4xx with a message, never 5xx, never a forged header or href."""

from __future__ import annotations

import json
import socket
import time

import psutil
import requests

from tests.localhub.wire import LFS, batch, oid
from tests.support import TOKEN, create_repo

MiB = 1024 * 1024
AUTH = {**LFS, "Authorization": f"Bearer {TOKEN}"}


def _raw(hub, request: bytes, timeout: float = 10) -> bytes:
    """Send raw bytes, return everything the server answered until it closed the connection."""
    host, port = hub.url.split("//")[1].rsplit(":", 1)
    received = b""
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(request)
        try:
            while not _complete_answer(received) and (chunk := sock.recv(65536)):
                received += chunk
        except (ConnectionResetError, TimeoutError):
            pass
    return received


def _complete_answer(received: bytes) -> bool:
    """Has a whole answer with a Content-Length arrived (the server may keep the connection open)?"""
    head, sep, body = received.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n")[1:] if sep else ():
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value)
    return False


def _batch_url(hub, repo="alice/x") -> str:
    return f"{hub.url}/{repo}.git/info/lfs/objects/batch"


def test_cr_lf_in_the_path_never_becomes_a_header(hub):
    for path in ("/a%0d%0aX-Injected:%20yes", "/alice/x%0aX-Injected:%20yes/info/lfs/objects/batch",
                 "/api/models/alice/x%0d%0aSet-Cookie:%20a=b"):
        answer = _raw(hub, f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        head = answer.split(b"\r\n\r\n")[0].split(b"\r\n")
        assert head[0].split()[1].startswith(b"4"), head[0]
        names = [line.split(b":")[0].lower() for line in head[1:]]
        assert b"x-injected" not in names and b"set-cookie" not in names, head


def test_batch_limits_answer_4xx_with_a_message(hub):
    create_repo(hub.url, "alice/x")
    rss_before = psutil.Process(hub.proc.pid).memory_info().rss
    too_many = {"operation": "upload", "objects": [{"oid": "a" * 64, "size": 1}] * 1001}
    resp = requests.post(_batch_url(hub), json=too_many, headers=AUTH, timeout=30)
    assert resp.status_code == 413 and "at most 1000" in resp.json()["message"]
    empties = b'{"operation": "upload", "objects": [' + b",".join([b"{}"] * 700_000) + b"]}"  # 2.1 MB of {}
    resp = requests.post(_batch_url(hub), data=empties, headers=AUTH, timeout=30)
    assert resp.status_code == 413 and len(resp.content) < 1000
    huge = b'{"operation": "upload", "objects": [], "pad": "' + b"x" * (5 * MiB) + b'"}'
    resp = requests.post(_batch_url(hub), data=huge, headers=AUTH, timeout=30)
    assert resp.status_code == 413 and "too large" in resp.json()["message"]
    assert psutil.Process(hub.proc.pid).memory_info().rss - rss_before < 60 * MiB


def test_malformed_json_huge_numbers_and_deep_nesting_answer_400_or_a_per_object_error(hub):
    create_repo(hub.url, "alice/x")
    for body in (b"{not json", b"[1, 2]", b"\xff\xfe", b"[" * 100_000 + b"]" * 100_000,
                 b'{"operation": "upload", "objects": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",
                 b'{"operation": "upload", "objects": [], "n": 1' + b"0" * 5000 + b"}"):
        resp = requests.post(_batch_url(hub), data=body, headers=AUTH, timeout=30)
        assert resp.status_code == 400 and "malformed JSON" in resp.json()["message"], body[:40]
    for size in (2 ** 70, 2 ** 63, 400 * 10 ** 9):
        resp = batch(hub.url, "alice/x", [("b" * 64, size)])
        assert resp.status_code == 200
        error = resp.json()["objects"][0]["error"]
        assert error["code"] == 422 and "Maximum individual file size is 50.0GB" in error["message"]
        assert len(resp.content) < 2000
    odd = [{"oid": 5, "size": 1}, {"oid": "a" * 64, "size": -1}, {"oid": "a" * 64, "size": True},
           {"oid": "A" * 64, "size": 1}, {"oid": "a" * 10_000, "size": 1}, "x", None]
    resp = requests.post(_batch_url(hub), json={"operation": "upload", "objects": odd}, headers=AUTH, timeout=30)
    assert resp.status_code == 200 and len(resp.content) < 5000
    assert [o["error"]["code"] for o in resp.json()["objects"]] == [422] * len(odd)
    for operation in ("delete", None, ["upload"]):
        resp = requests.post(_batch_url(hub), json={"operation": operation, "objects": []}, headers=AUTH, timeout=30)
        assert resp.status_code == 422


def test_max_file_size_is_an_option(start_hub):
    hub = start_hub("--max-file-size", "1MB")
    create_repo(hub.url, "alice/x")
    objects = batch(hub.url, "alice/x", [("c" * 64, 10 ** 6), ("d" * 64, 10 ** 6 + 1)]).json()["objects"]
    assert "actions" in objects[0]
    assert objects[1]["error"]["code"] == 422 and "Maximum individual file size is 0.0GB" in objects[1]["error"]["message"]


def test_hrefs_never_reflect_a_forged_host(start_hub):
    hub = start_hub("--allow-host", "hub.internal")
    create_repo(hub.url, "alice/x")
    port = hub.url.rsplit(":", 1)[1]
    body = json.dumps({"operation": "upload", "objects": [{"oid": "e" * 64, "size": 10}]})

    def href(host: str) -> str:
        resp = requests.post(_batch_url(hub), data=body, headers={**AUTH, "Host": host}, timeout=30)
        return resp.json()["objects"][0]["actions"]["upload"]["href"]

    assert href(f"evil.example:{port}").startswith(f"{hub.url}/_lfs/")
    assert href("127.0.0.1:1").startswith(f"{hub.url}/_lfs/")  # right name, wrong port
    assert href(f"hub.internal:{port}").startswith(f"http://hub.internal:{port}/_lfs/")
    assert href(f"localhost:{port}").startswith(f"http://localhost:{port}/_lfs/")


def test_storage_urls_refuse_wrong_sizes_without_a_5xx(start_hub):
    hub = start_hub("--chunk-size", "1MiB", "--multipart-threshold", "1MiB")
    create_repo(hub.url, "alice/x")
    data = b"z" * 100
    action = batch(hub.url, "alice/x", [(oid(data), len(data))]).json()["objects"][0]["actions"]["upload"]
    for body in (data[:50], data + b"!", b""):
        resp = requests.put(action["href"], data=body, timeout=30)
        assert resp.status_code == 400 and "<Error>" in resp.text
    assert requests.put(action["href"], data=data, timeout=30).status_code == 200
    bad_query = action["href"].replace("size=100", "size=abc")
    assert requests.put(bad_query, data=data, timeout=30).status_code == 403  # the signature covers it


def test_many_connections_sending_bodies_at_once_keep_the_server_small(start_hub):
    """Each connection reading a body holds a buffer; past a few dozen they get small ones (RSS stays bounded)."""
    hub = start_hub("--chunk-size", "1MiB", "--multipart-threshold", "1MiB")
    create_repo(hub.url, "alice/x")
    data = bytes(3 * MiB)
    action = batch(hub.url, "alice/x", [(oid(data), len(data))]).json()["objects"][0]["actions"]["upload"]
    url = action["header"]["00001"].split(hub.url, 1)[1]
    host, port = hub.url.split("//")[1].rsplit(":", 1)
    socks = []
    try:
        for _ in range(150):
            sock = socket.create_connection((host, int(port)), timeout=10)
            sock.sendall(f"PUT {url} HTTP/1.1\r\nHost: x\r\nContent-Length: {MiB}\r\n\r\n".encode() + bytes(900 * 1024))
            socks.append(sock)
        time.sleep(0.5)  # let the server read what was sent
        rss = psutil.Process(hub.proc.pid).memory_info().rss
        assert rss < 100 * MiB, f"server RSS {rss / MiB:.0f} MiB with 150 bodies in flight"
    finally:
        for sock in socks:
            sock.close()
    assert requests.put(action["header"]["00001"], data=data[:MiB], timeout=30).status_code == 200


def test_a_wildcard_bind_uses_ip_literals_the_client_used_but_never_names(start_hub):
    hub = start_hub("--host", "0.0.0.0")
    port = hub.url.rsplit(":", 1)[1]
    local = f"http://127.0.0.1:{port}"
    create_repo(local, "alice/x")
    body = json.dumps({"operation": "upload", "objects": [{"oid": "e" * 64, "size": 10}]})

    def href(host: str) -> str:
        resp = requests.post(_batch_url(hub), data=body, headers={**AUTH, "Host": host}, timeout=30)
        return resp.json()["objects"][0]["actions"]["upload"]["href"]

    assert href(f"127.0.0.2:{port}").startswith(f"http://127.0.0.2:{port}/_lfs/")
    assert href(f"evil.example:{port}").startswith(f"http://0.0.0.0:{port}/_lfs/")


def test_connections_beyond_the_limit_get_a_429_and_the_server_stays_small(hub):
    from git_hf_agent.localhub.server import MAX_CONNECTIONS

    host, port = hub.url.split("//")[1].rsplit(":", 1)
    socks = []
    try:
        for _ in range(MAX_CONNECTIONS):  # idle connections, headers never finished: each holds a thread
            sock = socket.create_connection((host, int(port)), timeout=10)
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
            socks.append(sock)
        time.sleep(0.5)
        extra = socket.create_connection((host, int(port)), timeout=10)
        extra.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert extra.recv(4096).startswith(b"HTTP/1.1 429 Too Many Requests")
        extra.close()
        rss = psutil.Process(hub.proc.pid).memory_info().rss
        assert rss < 100 * MiB, f"server RSS {rss / MiB:.0f} MiB with {MAX_CONNECTIONS} connections open"
    finally:
        for sock in socks:
            sock.close()
    time.sleep(0.5)
    assert requests.get(f"{hub.url}/api/whoami-v2", timeout=30).status_code == 401  # served again


def test_malformed_requests_get_a_4xx_and_the_server_stays_up(hub):
    for request in (b"GARBAGE\r\n\r\n", b"GET / HTTP/2.0\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n", b"GET /\xff\xfe HTTP/1.1\r\n\r\n",
                    b"GET / HTTP/1.1\r\nX: " + b"a" * 70_000 + b"\r\n\r\n",
                    b"GET / HTTP/1.1\r\n" + b"X-A: b\r\n" * 150 + b"\r\n",
                    b"GET http://evil.example/alice/x.git/info/refs HTTP/1.1\r\nHost: evil.example\r\n\r\n",
                    b"POST /api/repos/create HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
                    b"POST /api/repos/create HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n\r\n",
                    b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n"):
        answer = _raw(hub, request)
        if not answer.startswith(b"HTTP/"):  # a one-word request line is HTTP/0.9: the answer has no status line
            assert b"Error code: 400" in answer, (request[:60], answer[:200])
            continue
        status = answer.split(b"\r\n", 1)[0]
        assert status.split()[1][:1] in (b"2", b"4"), (request[:60], status)
    assert requests.get(f"{hub.url}/api/whoami-v2", timeout=30).status_code == 401


def test_one_batch_hands_out_a_bounded_number_of_part_urls(start_hub):
    from git_hf_agent.localhub.lfs import MAX_BATCH_PARTS

    hub = start_hub("--chunk-size", "1MiB", "--multipart-threshold", "1MiB")
    create_repo(hub.url, "alice/x")
    size = 40_000 * MiB  # 40,000 parts each
    objects = [(f"{i:064x}", size) for i in range(4)]
    answer = batch(hub.url, "alice/x", objects).json()["objects"]
    fit = MAX_BATCH_PARTS // 40_000
    assert all("actions" in o for o in answer[:fit])
    assert all(o["error"]["code"] == 413 and "another batch" in o["error"]["message"] for o in answer[fit:])
    assert psutil.Process(hub.proc.pid).memory_info().rss < 100 * MiB
