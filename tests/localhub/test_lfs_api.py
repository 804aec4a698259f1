"""The LFS batch API, presigned part/single PUTs, completion, verify and downloads, at the HTTP level."""

from __future__ import annotations

import hashlib
import time

import pytest
import requests

from tests.localhub.wire import LFS, batch, complete, oid, part_urls, put_parts, stored_download_href, upload_action
from tests.support import TOKEN, create_repo

MiB = 1024 * 1024


def test_small_objects_get_a_basic_single_put_and_become_downloadable(hub):
    create_repo(hub.url, "alice/x")
    data = b"hello lfs\n" * 1000
    resp = batch(hub.url, "alice/x", [(oid(data), len(data))])
    body = resp.json()
    assert body["transfer"] == "basic"
    action = body["objects"][0]["actions"]["upload"]
    assert "chunk_size" not in action.get("header", {})
    assert action["expires_in"] == 86400 and action["expires_at"].endswith("Z")
    assert requests.put(action["href"], data=data, timeout=30).status_code == 200

    again = batch(hub.url, "alice/x", [(oid(data), len(data))]).json()["objects"][0]
    assert "actions" not in again  # already stored
    down = batch(hub.url, "alice/x", [(oid(data), len(data))], operation="download").json()["objects"][0]
    href = down["actions"]["download"]["href"]
    assert requests.get(href, timeout=30).content == data
    ranged = requests.get(href, headers={"Range": "bytes=10-19"}, timeout=30)
    assert ranged.status_code == 206 and ranged.content == data[10:20]
    assert ranged.headers["Content-Range"] == f"bytes 10-19/{len(data)}"
    stats = hub.stats()
    assert stats["objects_stored"] == 1 and stats["auth_headers_seen"]["basic"] == 0


def test_multipart_upload_is_assembled_checked_and_served(start_hub):
    hub = start_hub("--chunk-size", "1MiB", "--multipart-threshold", "2MiB")
    create_repo(hub.url, "alice/x")
    small, big = b"s" * 100, bytes(range(256)) * (10 * 4096 + 3)  # big: 10 MiB + 768 B
    resp = batch(hub.url, "alice/x", [(oid(small), len(small)), (oid(big), len(big))]).json()
    assert resp["transfer"] == "multipart"
    small_action = resp["objects"][0]["actions"]["upload"]
    action = resp["objects"][1]["actions"]["upload"]
    assert "chunk_size" not in small_action.get("header", {})
    assert action["header"]["chunk_size"] == str(MiB)
    assert sorted(k for k in action["header"] if k.isdigit()) == [f"{n:05d}" for n in range(1, 12)]

    parts = put_parts(action, big)
    assert parts[0]["etag"] == f'"{hashlib.md5(big[:MiB]).hexdigest()}"'
    download = batch(hub.url, "alice/x", [(oid(big), len(big))], operation="download").json()["objects"][0]
    assert download["error"]["code"] == 404  # not visible before completion

    done = complete(action, big, parts)
    assert done.status_code == 200, done.text
    href = batch(hub.url, "alice/x", [(oid(big), len(big))], operation="download").json()["objects"][0]
    assert requests.get(href["actions"]["download"]["href"], timeout=30).content == big
    verify = requests.post(resp["objects"][1]["actions"]["verify"]["href"], json={"oid": oid(big), "size": len(big)},
                           headers={**LFS, "Authorization": f"Bearer {TOKEN}"}, timeout=30)
    assert verify.status_code == 200
    stats = hub.stats()
    assert stats["part_puts"] == 11 and stats["completions"] == 1 and stats["uploads_started"] == 1
    assert stats["parts"][oid(big)] == {str(n): 1 for n in range(1, 12)}
    assert stats["auth_headers_seen"]["part"] == 0 and stats["auth_headers_seen"]["complete"] == 0
    assert complete(action, big, parts).status_code == 200  # a repeated completion (answer lost) succeeds too
    fresh = batch(hub.url, "alice/x", [(oid(big), len(big) + 1)]).json()["objects"][0]["actions"]["upload"]
    assert complete(fresh, big, parts).status_code in (400, 404)  # an upload that never got a part: not completed


def test_completion_rejects_a_wrong_etag_and_wrong_content_and_serves_nothing(start_hub):
    """ETags are checked first; content that does not hash to the oid discards the upload."""
    hub = start_hub("--chunk-size", "1MiB", "--multipart-threshold", "1MiB")
    create_repo(hub.url, "alice/x")
    data = b"a" * (2 * MiB + 5)
    action = upload_action(hub.url, "alice/x", data)
    parts = put_parts(action, data)
    bad = [dict(parts[0], etag='"0123"'), *parts[1:]]
    resp = complete(action, data, bad)
    assert resp.status_code == 400 and "ETag mismatch for part 1" in resp.json()["error"]
    missing = complete(action, data, parts[:2])
    assert missing.status_code == 400 and "1..3" in missing.json()["error"]

    # Same size, other content: the assembled bytes do not hash to the oid.
    other = b"b" * len(data)
    wrong = put_parts(action, other)
    resp = complete(action, data, wrong)
    assert resp.status_code == 400 and "sha256 mismatch" in resp.json()["error"]
    assert "error" in batch(hub.url, "alice/x", [(oid(data), len(data))], operation="download").json()["objects"][0]
    assert hub.stats()["objects_stored"] == 0
    # The spoiled upload is gone: a new batch starts a fresh one, which completes.
    fresh = upload_action(hub.url, "alice/x", data)
    assert fresh["href"].split("uploadId=")[1][:32] != action["href"].split("uploadId=")[1][:32]
    assert complete(fresh, data, put_parts(fresh, data)).status_code == 200


def test_a_part_of_the_wrong_length_is_refused(start_hub):
    hub = start_hub("--chunk-size", "1MiB", "--multipart-threshold", "1MiB")
    create_repo(hub.url, "alice/x")
    urls = part_urls(upload_action(hub.url, "alice/x", bytes(2 * MiB + 1)))
    assert requests.put(urls[0], data=bytes(MiB + 1), timeout=30).status_code == 400
    last = requests.put(urls[2], data=b"z", timeout=30)
    assert last.status_code == 200 and last.headers["ETag"] == '"%s"' % hashlib.md5(b"z").hexdigest()
    assert hub.stats()["part_puts"] == 1


def _upload_id(action: dict) -> str:
    return action["href"].split("uploadId=")[1][:32]


def test_upload_reuse_keep_gives_the_upload_in_progress_with_its_parts(start_hub):
    hub = start_hub("--chunk-size", "1MiB", "--multipart-threshold", "1MiB", "--upload-reuse", "keep")
    create_repo(hub.url, "alice/x")
    data = bytes(3 * MiB)
    first = upload_action(hub.url, "alice/x", data)
    chunk = MiB
    etag1 = requests.put(part_urls(first)[0], data=data[:chunk], timeout=30).headers["ETag"]
    second = upload_action(hub.url, "alice/x", data)
    assert _upload_id(second) == _upload_id(first)
    rest = [{"partNumber": n, "etag": requests.put(u, data=data[(n - 1) * chunk:n * chunk], timeout=30).headers["ETag"]}
            for n, u in enumerate(part_urls(second), 1) if n > 1]
    resp = complete(second, data, [{"partNumber": 1, "etag": etag1}, *rest])
    assert resp.status_code == 200, resp.text
    assert hub.stats()["uploads_started"] == 1


def test_upload_reuse_new_starts_a_new_upload_per_batch_and_the_old_one_stays_usable(start_hub):
    """The default, as the real Hub may do: parts of the first upload do not count for the second."""
    hub = start_hub("--chunk-size", "1MiB", "--multipart-threshold", "1MiB")
    create_repo(hub.url, "alice/x")
    data = bytes(range(256)) * (3 * 4096)  # 3 MiB
    first = upload_action(hub.url, "alice/x", data)
    etag1 = requests.put(part_urls(first)[0], data=data[:MiB], timeout=30).headers["ETag"]
    second = upload_action(hub.url, "alice/x", data)
    assert _upload_id(second) != _upload_id(first)
    rest = [{"partNumber": n, "etag": requests.put(u, data=data[(n - 1) * MiB:n * MiB], timeout=30).headers["ETag"]}
            for n, u in enumerate(part_urls(second), 1) if n > 1]
    mixed = complete(second, data, [{"partNumber": 1, "etag": etag1}, *rest])
    assert mixed.status_code == 400 and "ETag mismatch for part 1" in mixed.json()["error"]
    old_parts = [{"partNumber": 1, "etag": etag1}] + [
        {"partNumber": n, "etag": requests.put(u, data=data[(n - 1) * MiB:n * MiB], timeout=30).headers["ETag"]}
        for n, u in enumerate(part_urls(first), 1) if n > 1]
    assert complete(first, data, old_parts).status_code == 200  # the first upload still completes
    assert hub.stats()["uploads_started"] == 2
    assert requests.put(part_urls(first)[0], data=data[:MiB], timeout=30).status_code == 404  # completed: gone


def test_presigned_urls_expire_with_an_s3_style_403(start_hub):
    hub = start_hub("--url-ttl", "1", "--chunk-size", "1MiB", "--multipart-threshold", "1MiB")
    create_repo(hub.url, "alice/x")
    data = bytes(2 * MiB)
    action = upload_action(hub.url, "alice/x", data)
    assert action["expires_in"] == 1
    time.sleep(2.1)
    resp = requests.put(part_urls(action)[0], data=bytes(16 * MiB), timeout=30)  # answer readable despite the body
    assert resp.status_code == 403
    assert "<Code>AccessDenied</Code>" in resp.text and "Request has expired" in resp.text
    assert complete(action, data, []).status_code == 403


def test_tampered_or_unsigned_urls_are_refused(start_hub):
    hub = start_hub("--chunk-size", "1MiB", "--multipart-threshold", "1MiB")
    create_repo(hub.url, "alice/x")
    data = bytes(2 * MiB)
    url = part_urls(upload_action(hub.url, "alice/x", data))[0]
    tampered = url.replace("partNumber=1", "partNumber=2")
    resp = requests.put(tampered, data=b"x", timeout=30)
    assert resp.status_code == 403 and "SignatureDoesNotMatch" in resp.text
    unsigned = url.split("&signature=")[0]
    assert requests.put(unsigned, data=b"x", timeout=30).status_code == 403


def test_objects_above_the_basic_limit_need_multipart(start_hub):
    hub = start_hub("--max-basic-size", "1MiB", "--multipart-threshold", "4MiB")
    create_repo(hub.url, "alice/x")
    size = 2 * MiB
    only_basic = batch(hub.url, "alice/x", [("a" * 64, size)], transfers=("basic",)).json()
    err = only_basic["objects"][0]["error"]
    assert err["code"] == 422 and "git hf init" in err["message"]
    with_multipart = batch(hub.url, "alice/x", [("a" * 64, size)]).json()
    assert with_multipart["transfer"] == "multipart"
    assert "chunk_size" in with_multipart["objects"][0]["actions"]["upload"]["header"]


def test_single_put_with_wrong_content_is_rejected(hub):
    create_repo(hub.url, "alice/x")
    data = b"right content"
    action = upload_action(hub.url, "alice/x", data)
    resp = requests.put(action["href"], data=b"wrong content", timeout=30)
    assert resp.status_code == 400 and "sha256 mismatch" in resp.text and "<Error>" in resp.text
    assert hub.stats()["objects_stored"] == 0


def test_batch_needs_a_token_for_uploads_and_answers_404_for_unknown_repos(hub):
    create_repo(hub.url, "alice/x")
    data = b"x"
    anonymous = batch(hub.url, "alice/x", [(oid(data), 1)], token=None)
    assert anonymous.status_code == 401 and anonymous.headers["WWW-Authenticate"].startswith("Basic")
    wrong = batch(hub.url, "alice/x", [(oid(data), 1)], token="hf_wrong")
    assert wrong.status_code == 401
    unknown = batch(hub.url, "alice/nope", [(oid(data), 1)])
    assert unknown.status_code == 404 and "Repository not found" in unknown.json()["message"]
    public_read = batch(hub.url, "alice/x", [(oid(data), 1)], operation="download", token=None)
    assert public_read.status_code == 200


def test_a_restart_on_the_same_root_keeps_uploads_and_url_signatures(start_hub, tmp_path):
    from git_hf_agent.localhub.process import ServeProcess

    args = ("--chunk-size", "1MiB", "--multipart-threshold", "1MiB")
    first = ServeProcess(*args, root=tmp_path / "state", tokens={"alice": TOKEN})
    try:
        create_repo(first.url, "alice/x")
        data = bytes(2 * MiB)
        action = upload_action(first.url, "alice/x", data)
        etag1 = requests.put(part_urls(action)[0], data=data[:MiB], timeout=30).headers["ETag"]
    finally:
        first.stop()
    port = first.url.rsplit(":", 1)[1]
    second = ServeProcess(*args, "--port", port, root=tmp_path / "state", tokens={"alice": TOKEN})
    try:
        etag2 = requests.put(part_urls(action)[1], data=data[MiB:], timeout=30).headers["ETag"]
        parts = [{"partNumber": 1, "etag": etag1}, {"partNumber": 2, "etag": etag2}]
        assert complete(action, data, parts).status_code == 200
    finally:
        second.stop()


def test_storage_puts_need_a_content_length_like_s3(start_hub):
    hub = start_hub("--chunk-size", "1MiB", "--multipart-threshold", "1MiB")
    create_repo(hub.url, "alice/x")
    url = part_urls(upload_action(hub.url, "alice/x", bytes(2 * MiB)))[0]
    chunked = requests.put(url, data=iter([b"a" * 1000, b"b" * 1000]), timeout=30)  # a generator -> chunked
    assert chunked.status_code == 411 and "Content-Length" in chunked.text
    assert hub.stats()["part_puts"] == 0


def test_a_part_replaced_after_pre_assembly_is_what_gets_stored(start_hub):
    hub = start_hub("--chunk-size", "1MiB", "--multipart-threshold", "1MiB")
    create_repo(hub.url, "alice/x")
    data = bytes(range(256)) * (3 * 4096)  # 3 MiB, three parts
    action = upload_action(hub.url, "alice/x", data)
    urls = part_urls(action)
    wrong = requests.put(urls[0], data=b"w" * MiB, timeout=30).headers["ETag"]
    rest = [requests.put(u, data=data[n * MiB:(n + 1) * MiB], timeout=30).headers["ETag"] for n, u in
            enumerate(urls[1:], 1)]
    time.sleep(0.5)  # let the background pre-hash take in the wrong part 1 (and 2, 3)
    right = requests.put(urls[0], data=data[:MiB], timeout=30).headers["ETag"]
    assert right != wrong
    parts = [{"partNumber": n, "etag": e} for n, e in enumerate([right, *rest], 1)]
    assert complete(action, data, parts).status_code == 200
    href = batch(hub.url, "alice/x", [(oid(data), len(data))], operation="download").json()["objects"][0]
    assert requests.get(href["actions"]["download"]["href"], timeout=30).content == data


def test_parallel_and_repeated_part_puts_assemble_the_right_object(start_hub):
    from concurrent.futures import ThreadPoolExecutor

    hub = start_hub("--chunk-size", "1MiB", "--multipart-threshold", "1MiB")
    create_repo(hub.url, "alice/x")
    data = hashlib.sha256(b"seed").digest() * (16 * MiB // 32) + b"tail"  # 16 MiB + 4 B, 17 parts
    action = upload_action(hub.url, "alice/x", data)
    urls = part_urls(action)
    jobs = [n for n in range(1, len(urls) + 1)] * 2  # every part twice, in parallel, in any order

    def put(n):
        return n, requests.put(urls[n - 1], data=data[(n - 1) * MiB:n * MiB], timeout=60).headers["ETag"]

    with ThreadPoolExecutor(8) as pool:
        etags = dict(pool.map(put, reversed(jobs)))
    parts = [{"partNumber": n, "etag": etags[n]} for n in sorted(etags)]
    assert complete(action, data, parts).status_code == 200
    href = batch(hub.url, "alice/x", [(oid(data), len(data))], operation="download").json()["objects"][0]
    assert requests.get(href["actions"]["download"]["href"], timeout=30).content == data
    assert hub.stats()["parts"][oid(data)] == {str(n): 2 for n in range(1, 18)}


def test_downloads_honour_single_byte_ranges(hub):
    """206 + Content-Range for a satisfiable range, 416 past the end, the whole object for what is no range."""
    create_repo(hub.url, "alice/x")
    data = bytes(range(256)) * 40  # 10240 bytes
    href = stored_download_href(hub.url, "alice/x", data)
    size = len(data)

    def get(value: str | None) -> requests.Response:
        return requests.get(href, headers={"Range": value} if value else {}, timeout=30)

    whole = get(None)
    assert whole.status_code == 200 and whole.content == data and whole.headers["Accept-Ranges"] == "bytes"
    for value, first, last in (("bytes=0-0", 0, 0), ("bytes=100-", 100, size - 1), ("bytes=-10", size - 10, size - 1),
                               ("bytes=5000-999999", 5000, size - 1), ("bytes=-999999", 0, size - 1)):
        resp = get(value)
        assert resp.status_code == 206, value
        assert resp.headers["Content-Range"] == f"bytes {first}-{last}/{size}"
        assert resp.content == data[first:last + 1] and int(resp.headers["Content-Length"]) == last - first + 1
    for value in (f"bytes={size}-", f"bytes={size + 5}-{size + 9}", "bytes=-0", "bytes=" + "9" * 40 + "-"):
        resp = get(value)
        assert resp.status_code == 416, value
        assert resp.headers["Content-Range"] == f"bytes */{size}" and "InvalidRange" in resp.text
    for value in ("bytes=9-3", "bytes=0-1,5-6", "items=0-1", "bytes=x-y"):  # not one valid range: ignored
        resp = get(value)
        assert resp.status_code == 200 and resp.content == data, value
    head = requests.head(href, headers={"Range": "bytes=10-19"}, timeout=30)
    assert head.status_code == 206 and head.headers["Content-Length"] == "10"


def test_uploads_whose_urls_expired_are_removed_from_disk(start_hub):
    hub = start_hub("--url-ttl", "1", "--chunk-size", "1MiB", "--multipart-threshold", "1MiB")
    create_repo(hub.url, "alice/x")
    data = bytes(2 * MiB)
    action = upload_action(hub.url, "alice/x", data)
    assert requests.put(part_urls(action)[0], data=data[:MiB], timeout=30).status_code == 200
    incomplete = hub.root / "lfs" / "incomplete"
    assert [p for p in incomplete.iterdir() if p.is_dir() and p.name != "keep"]
    time.sleep(2.5)
    batch(hub.url, "alice/x", [(oid(b"other"), 5)])  # batches sweep expired uploads
    assert not [p for p in incomplete.iterdir() if p.is_dir() and p.name != "keep"]


def _start_put(url: str, length: int, first: bytes):
    """A PUT promising ``length`` bytes that has sent only ``first`` so far (the server is mid-body)."""
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=30)
    sock.sendall(f"PUT {parts.path}?{parts.query} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
                 f"Content-Length: {length}\r\n\r\n".encode() + first)
    time.sleep(0.3)  # the server has written what it got
    return sock


def test_a_cut_off_put_of_a_received_part_leaves_no_trace(start_hub):
    hub = start_hub("--chunk-size", "1MiB", "--multipart-threshold", "1MiB")
    create_repo(hub.url, "alice/x")
    data = bytes(range(256)) * (3 * 4096)  # 3 MiB, three parts
    action = upload_action(hub.url, "alice/x", data)
    parts = put_parts(action, data)
    time.sleep(0.3)  # pre-hashed
    _start_put(part_urls(action)[0], MiB, b"\xff" * (MiB // 2)).close()  # a replay cut off halfway
    time.sleep(0.3)
    assert complete(action, data, parts).status_code == 200
    href = batch(hub.url, "alice/x", [(oid(data), len(data))], operation="download").json()["objects"][0]
    assert requests.get(href["actions"]["download"]["href"], timeout=30).content == data


@pytest.mark.parametrize("slow_finishes", [False, True])
def test_overlapping_puts_of_one_part_the_one_that_finishes_last_wins(start_hub, slow_finishes):
    """A slow PUT writing in place and a quick one of the same part: a cut-off slow one loses; a finished one wins."""
    hub = start_hub("--chunk-size", "1MiB", "--multipart-threshold", "1MiB")
    create_repo(hub.url, "alice/x")
    data = bytes(range(256)) * (2 * 4096)  # 2 MiB
    action = upload_action(hub.url, "alice/x", data)
    urls = part_urls(action)
    slow_bytes = data[:MiB] if slow_finishes else b"\xee" * MiB
    slow = _start_put(urls[0], MiB, slow_bytes[:MiB // 2])
    quick = requests.put(urls[0], data=data[:MiB] if not slow_finishes else b"\xdd" * MiB, timeout=30)
    assert quick.status_code == 200
    if slow_finishes:
        slow.sendall(slow_bytes[MiB // 2:])
        assert slow.recv(4096).startswith(b"HTTP/1.1 200")
        etag1 = f'"{hashlib.md5(slow_bytes).hexdigest()}"'
    else:
        etag1 = quick.headers["ETag"]
    slow.close()
    time.sleep(0.3)
    etag2 = requests.put(urls[1], data=data[MiB:], timeout=30).headers["ETag"]
    resp = complete(action, data, [{"partNumber": 1, "etag": etag1}, {"partNumber": 2, "etag": etag2}])
    assert resp.status_code == 200, resp.text
    href = batch(hub.url, "alice/x", [(oid(data), len(data))], operation="download").json()["objects"][0]
    assert requests.get(href["actions"]["download"]["href"], timeout=30).content == data


def test_only_a_completed_upload_answers_a_repeated_completion_with_200(start_hub):
    hub = start_hub("--chunk-size", "1MiB", "--multipart-threshold", "1MiB")
    create_repo(hub.url, "alice/x")
    data = bytes(range(256)) * (2 * 4096)
    first, second = upload_action(hub.url, "alice/x", data), upload_action(hub.url, "alice/x", data)
    parts = put_parts(first, data)
    assert complete(first, data, parts).status_code == 200
    assert complete(first, data, parts).status_code == 200
    assert complete(second, data, parts).status_code == 404  # never received a part: nothing was completed
