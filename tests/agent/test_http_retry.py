"""One classifier, one retry policy: what is retried, how long to wait, and how often."""

from __future__ import annotations

import io
import random
from email.utils import formatdate

import pytest
import requests

from git_hf_agent.agent.http import AUTH, EXPIRED, FATAL, RETRIABLE, FileSlice, HttpFailure, Transport, retry_after
from git_hf_agent.agent.log import Log
from git_hf_agent.agent.retry import Policy

URL = "https://storage.test/part?uploadId=u&signature=s3cr3t"


@pytest.fixture
def transport(tmp_path):
    return Transport(Log(str(tmp_path / "l.jsonl"), stderr=io.StringIO()), parallel=2, timeout=5)


@pytest.mark.parametrize(("kind", "status", "headers", "category"), [
    ("part", 500, {}, RETRIABLE), ("part", 503, {}, RETRIABLE), ("part", 408, {}, RETRIABLE),
    ("part", 429, {"Retry-After": "2"}, RETRIABLE), ("part", 200, {}, RETRIABLE),   # 200 without ETag
    ("part", 403, {}, EXPIRED), ("complete", 403, {}, EXPIRED), ("basic", 403, {}, EXPIRED),
    ("batch", 401, {}, AUTH), ("batch", 403, {}, AUTH), ("part", 401, {}, AUTH),
    ("part", 404, {}, EXPIRED), ("complete", 404, {}, EXPIRED),   # upload gone: fresh actions
    ("part", 400, {}, FATAL), ("basic", 404, {}, FATAL), ("batch", 404, {}, FATAL), ("batch", 422, {}, FATAL),
])
def test_classification(transport, rsps, kind, status, headers, category):
    rsps.add("PUT", URL, status=status, headers=headers, body="<Error>x</Error>" * 200)
    with pytest.raises(HttpFailure) as caught:
        transport.request(kind, "PUT", URL, attempt=3)
    failure = caught.value
    assert failure.category == category and failure.status == status
    assert len(failure.body) <= 1024 and "s3cr3t" not in failure.describe()
    assert "attempt 3" in failure.describe()


def test_connection_errors_and_timeouts_are_retriable(transport, rsps):
    rsps.add("PUT", URL, body=requests.ConnectionError("Connection reset by peer"))
    rsps.add("PUT", URL, body=requests.ReadTimeout("read timed out"))
    for expected in ("connection reset", "timeout"):
        with pytest.raises(HttpFailure) as caught:
            transport.request("part", "PUT", URL, attempt=1)
        assert caught.value.retriable and expected in caught.value.reason


def test_presigned_requests_never_carry_authorization_even_from_netrc(transport, rsps, tmp_path, monkeypatch):
    netrc = tmp_path / "home" / ".netrc"
    netrc.write_text("machine storage.test login alice password hf_netrcSecret123456\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    rsps.add("PUT", URL, status=200, headers={"ETag": '"e"'})
    transport.request("part", "PUT", URL, attempt=1, body=b"abc")
    assert "Authorization" not in rsps.calls[0].request.headers


def test_retry_after_seconds_and_http_date():
    assert retry_after("7") == 7.0
    assert retry_after(formatdate(1_000_030, usegmt=True), now=1_000_000) == pytest.approx(30)
    assert retry_after(formatdate(999_000, usegmt=True), now=1_000_000) == 0.0
    assert retry_after("soon") is None and retry_after(None) is None


def _failure(retry_after=None, category=RETRIABLE):
    return HttpFailure(category, "part", "u", 503, retry_after=retry_after)


def test_retry_after_replaces_the_backoff_and_backoff_grows_with_jitter_and_cap():
    policy = Policy(max_attempts=8, backoff=1.0, rng=random.Random(1))
    assert policy.wait_for(_failure(retry_after=4.0), 1) == 4.0
    waits = [policy.wait_for(_failure(), n) for n in range(1, 10)]
    for n, wait in enumerate(waits, start=1):
        base = min(2 ** (n - 1), 60)
        assert base / 2 <= wait <= base


def test_retry_honours_retry_after_from_the_wire(transport, rsps):
    rsps.add("PUT", URL, status=429, headers={"Retry-After": "0"})
    rsps.add("PUT", URL, status=200, headers={"ETag": '"ok"'})
    waits = []
    policy = Policy(max_attempts=3, backoff=30.0)   # the computed backoff would be 15-30 s
    resp = policy.call(lambda n: transport.request("part", "PUT", URL, attempt=n),
                       on_retry=lambda f, w: waits.append(w))
    assert resp.headers["ETag"] == '"ok"' and waits == [0.0]


def test_fatal_failures_are_not_retried(transport, rsps):
    rsps.add("PUT", URL, status=400)
    policy = Policy(max_attempts=5, backoff=0)
    with pytest.raises(HttpFailure) as caught:
        policy.call(lambda n: transport.request("part", "PUT", URL, attempt=n))
    assert caught.value.attempt == 1 and len(rsps.calls) == 1


def test_the_body_is_rewound_on_every_attempt(transport, rsps, tmp_path):
    path = tmp_path / "obj"
    path.write_bytes(b"x" * 100 + b"SLICE-CONTENT" + b"y" * 100)
    seen = []

    def server(request):
        seen.append(b"".join(request.body))
        return (500, {}, "") if len(seen) < 3 else (200, {"ETag": '"e"'}, "")

    rsps.add_callback("PUT", URL, callback=server)
    fd = open(path, "rb")
    try:
        Policy(max_attempts=3, backoff=0).call(
            lambda n: transport.request("part", "PUT", URL, attempt=n, body=FileSlice(fd.fileno(), 100, 13)))
    finally:
        fd.close()
    assert seen == [b"SLICE-CONTENT"] * 3


def test_network_error_text_carries_no_signature(transport):
    # A real refused connection: urllib3's message repeats the path and query of the URL.
    url = "http://127.0.0.1:9/part?uploadId=u&X-Amz-Signature=s3cr3tsig&signature=s3cr3t"
    with pytest.raises(HttpFailure) as caught:
        transport.request("part", "PUT", url, attempt=1, body=b"x")
    text = caught.value.describe()
    assert caught.value.retriable and "connection" in text
    assert "s3cr3t" not in text and "uploadId=u" in text
