"""``--fault``, throttles and latency do what the options say (checked at the HTTP level)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.localhub.wire import batch, oid, part_urls, raw_get, stored_download_href, upload_action
from tests.support import authed, create_repo, git

pytestmark = pytest.mark.reliability
MiB = 1024 * 1024


def _multipart(start_hub, *faults: str, extra: tuple[str, ...] = ()):
    args = ["--chunk-size", "1MiB", "--multipart-threshold", "1MiB", *extra]
    for f in faults:
        args += ["--fault", f]
    hub = start_hub(*args)
    create_repo(hub.url, "alice/x")
    data = bytes(3 * MiB)
    return hub, data, part_urls(upload_action(hub.url, "alice/x", data))


@pytest.mark.parametrize("kind", ["500", "503", "429"])
def test_status_faults_fail_exactly_max_part_puts(start_hub, kind):
    hub, data, urls = _multipart(start_hub, f"part:{kind}:1:2")
    statuses = [requests.put(urls[0], data=data[:MiB], timeout=30) for _ in range(3)]
    assert [r.status_code for r in statuses] == [int(kind), int(kind), 200]
    assert "<Error>" in statuses[0].text  # storage endpoints answer like S3
    if kind == "429":
        assert statuses[0].headers["Retry-After"] == "1"
    stats = hub.stats()
    assert stats["faults_injected"] == {f"part:{kind}": 2}
    assert stats["parts"][oid(data)] == {"1": 1}


def test_reset_closes_the_connection_mid_body(start_hub):
    hub, data, urls = _multipart(start_hub, "part:reset:1:1")
    with pytest.raises(requests.ConnectionError):
        requests.put(urls[0], data=data[:MiB], timeout=30)
    assert requests.put(urls[0], data=data[:MiB], timeout=30).status_code == 200
    assert hub.stats()["faults_injected"] == {"part:reset": 1}
    assert hub.stats()["part_puts"] == 1


def test_stall_stops_reading_until_the_client_times_out(start_hub):
    hub, data, urls = _multipart(start_hub, "part:stall:1:1", extra=("--stall-seconds", "30"))
    started = time.monotonic()
    with pytest.raises((requests.ConnectionError, requests.Timeout)):
        requests.put(urls[0], data=data[:MiB], timeout=1.5)
    assert 1.0 < time.monotonic() - started < 20
    assert hub.stats()["part_puts"] == 0


def test_stall_closes_after_stall_seconds(start_hub):
    hub, data, urls = _multipart(start_hub, "part:stall:1:1", extra=("--stall-seconds", "1"))
    started = time.monotonic()
    with pytest.raises(requests.ConnectionError):
        requests.put(urls[0], data=b"x" * 1000, timeout=20)
    assert 0.9 < time.monotonic() - started < 10


def test_no_etag_answers_200_without_recording_the_part(start_hub):
    hub, data, urls = _multipart(start_hub, "part:no-etag:1:1")
    first = requests.put(urls[0], data=data[:MiB], timeout=30)
    assert first.status_code == 200 and "ETag" not in first.headers
    assert hub.stats()["part_puts"] == 0
    assert "ETag" in requests.put(urls[0], data=data[:MiB], timeout=30).headers


def test_batch_and_api_faults(start_hub):
    hub = start_hub("--fault", "batch:503:1:1", "--fault", "api:500:1:1")
    failed = requests.get(f"{hub.url}/api/whoami-v2", timeout=30)
    assert failed.status_code == 500 and failed.headers["Content-Type"] == "application/json"
    create_repo(hub.url, "alice/x")
    assert batch(hub.url, "alice/x", [("a" * 64, 1)]).status_code == 503
    assert batch(hub.url, "alice/x", [("a" * 64, 1)]).status_code == 200


def test_git_fault_fails_one_git_request(start_hub, tmp_path):
    hub = start_hub("--fault", "git:500:1:1")
    url = create_repo(hub.url, "alice/x")
    assert git("ls-remote", authed(url), check=False).returncode != 0
    assert git("ls-remote", authed(url)).returncode == 0


def test_seeded_fault_draws_are_reproducible(start_hub):
    def pattern():
        hub, data, urls = _multipart(start_hub, "part:500:0.5", extra=("--seed", "7"))
        return [requests.put(urls[0], data=data[:MiB], timeout=30).status_code for _ in range(12)]

    first = pattern()
    assert first == pattern() and set(first) == {200, 500}


def test_connection_rate_throttles_uploads(start_hub):
    hub, data, urls = _multipart(start_hub, extra=("--conn-rate", "1MiB"))
    started = time.monotonic()
    assert requests.put(urls[0], data=data[:MiB], timeout=30).status_code == 200
    assert requests.put(urls[1], data=data[:MiB], timeout=30).status_code == 200
    assert time.monotonic() - started > 1.6  # 2 MiB at 1 MiB/s, each connection starting from zero


def test_total_rate_is_shared_by_all_connections(start_hub):
    hub, data, urls = _multipart(start_hub, extra=("--total-rate", "2MiB"))
    started = time.monotonic()
    with ThreadPoolExecutor(3) as pool:  # three connections at once share the 2 MiB/s
        codes = list(pool.map(lambda url: requests.put(url, data=data[:MiB], timeout=30).status_code, urls))
    assert codes == [200, 200, 200]
    assert time.monotonic() - started > 1.2  # 3 MiB at 2 MiB/s


def test_latency_delays_every_request(start_hub):
    hub = start_hub("--latency-ms", "400")
    started = time.monotonic()
    requests.get(f"{hub.url}/api/whoami-v2", timeout=30)
    assert time.monotonic() - started >= 0.4


def _download(start_hub, *args: str) -> tuple[object, bytes, str]:
    hub = start_hub(*args)
    create_repo(hub.url, "alice/x")
    data = bytes(range(256)) * 8192  # 2 MiB
    return hub, data, stored_download_href(hub.url, "alice/x", data)


@pytest.mark.parametrize("kind", ["500", "503", "429"])
def test_download_status_faults(start_hub, kind):
    hub, data, url = _download(start_hub, "--fault", f"download:{kind}:1:1")
    failed = requests.get(url, headers={"Range": "bytes=0-99"}, timeout=30)
    assert failed.status_code == int(kind) and "<Error>" in failed.text
    assert failed.headers.get("Retry-After") == ("1" if kind == "429" else None)
    again = requests.get(url, headers={"Range": "bytes=0-99"}, timeout=30)
    assert again.status_code == 206 and again.content == data[:100]
    assert hub.stats()["faults_injected"] == {f"download:{kind}": 1}


@pytest.mark.parametrize("kind, ending", [("reset", "reset"), ("short", "eof")])
def test_download_mid_body_faults_send_half_the_promised_bytes(start_hub, kind, ending):
    """reset: half the body then a TCP reset; short: half the body then a clean close (Content-Length unmet)."""
    hub, data, url = _download(start_hub, "--fault", f"download:{kind}:1:2")
    def half(got: bytes, expected: bytes) -> bool:  # a reset may discard bytes not yet read by the client
        return got == expected[:len(got)] and len(got) <= len(expected) and (kind == "reset" or got == expected)

    head, body, how = raw_get(url)
    assert head.startswith(b"HTTP/1.1 200") and b"Content-Length: %d" % len(data) in head
    assert how == ending and half(body, data[:len(data) // 2])
    head, body, how = raw_get(url, {"Range": "bytes=1000-1999"})  # a range is cut at half too
    assert head.startswith(b"HTTP/1.1 206") and b"Content-Range: bytes 1000-1999/" in head
    assert how == ending and half(body, data[1000:1500])
    assert requests.get(url, timeout=30).content == data  # MAX reached: the next download is whole
    with pytest.raises(requests.exceptions.ChunkedEncodingError):  # what a client library makes of it
        requests.get(_download(start_hub, "--fault", f"download:{kind}:1:1")[2], timeout=30).content


def test_download_stall_sends_half_then_stops(start_hub):
    hub, data, url = _download(start_hub, "--fault", "download:stall:1:1", "--stall-seconds", "30")
    started = time.monotonic()
    head, body, how = raw_get(url, timeout=1.5)
    assert how == "timeout" and head.startswith(b"HTTP/1.1 200") and body == data[:len(data) // 2]
    assert time.monotonic() - started < 20
    assert requests.get(url, timeout=30).content == data


def test_connection_rate_throttles_downloads(start_hub):
    hub, data, url = _download(start_hub, "--conn-rate", "1MiB")
    started = time.monotonic()
    assert requests.get(url, timeout=30).content == data
    assert time.monotonic() - started > 1.6  # 2 MiB at 1 MiB/s
    started = time.monotonic()
    ranged = requests.get(url, headers={"Range": "bytes=0-524287"}, timeout=30)
    assert ranged.status_code == 206 and ranged.content == data[:512 * 1024]
    assert 0.4 < time.monotonic() - started < 1.5


def test_short_is_refused_outside_downloads(start_hub, tmp_path):
    from git_hf_agent.localhub.faults import FaultRule

    with pytest.raises(ValueError, match="download"):
        FaultRule.parse("part:short:1")
    assert FaultRule.parse("download:short:0.5:2").max == 2
