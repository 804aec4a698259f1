"""The agent's only HTTP layer: one pooled session, timeouts, and ONE outcome classifier.

Every request the agent makes goes through :meth:`Transport.request`, which
logs the exchange (JSON line: kind, status, attempt, bytes, elapsed_ms, redacted
URL) and turns anything that is not a usable 2xx into an :class:`HttpFailure`
tagged by behaviour (git-lfs ``lfshttp`` style):

- ``retriable``: connection errors, resets, timeouts, 408, 429, 5xx, a part PUT
  answered without ``ETag``;
- ``expired``: 403 on a presigned URL (S3 "Request has expired" /
  signature errors), or 404 on a part or completion (the upload is gone,
  S3 ``NoSuchUpload``) -> fetch fresh actions, see :mod:`refresh`;
- ``auth``: 401, or 403 from the LFS API -> credentials problem;
- ``fatal``: any other 4xx.

Action URLs (parts, basic PUT, completion, downloads) get exactly the headers
the server put in the action, as git-lfs sends them: :class:`_OnlyGiven` keeps an
Authorization only when the action itself has one and never lets requests add
one from ``~/.netrc``; the Hub's presigned URLs come without, so they get none.
Only the batch call carries credentials (from ``git credential fill``, issue 8).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Iterable, Iterator
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from git_hf_agent.agent.log import Log, elapsed_ms
from git_hf_agent.redact import redact_text, redact_url

RETRIABLE, EXPIRED, AUTH, FATAL = "retriable", "expired", "auth", "fatal"
PRESIGNED = ("part", "basic", "complete", "download")
LFS_HEADERS = {"Accept": "application/vnd.git-lfs+json", "Content-Type": "application/vnd.git-lfs+json"}
BODY_LIMIT = 1024


@dataclass
class HttpFailure(Exception):
    """One failed exchange, with everything the user's error message needs."""

    category: str
    kind: str
    url: str                     # already redacted
    status: int | None = None
    body: str = ""
    reason: str = ""
    attempt: int = 1
    elapsed: float = 0.0
    retry_after: float | None = None

    @property
    def retriable(self) -> bool:
        return self.category == RETRIABLE

    def describe(self) -> str:
        """``HTTP 500 from URL (attempt 3, 1.2s): body`` or ``connection reset ... (attempt 3, ...)``."""
        what = f"HTTP {self.status}" if self.status is not None else self.reason or "network error"
        text = f"{what} from {self.url} (attempt {self.attempt}, {self.elapsed:.1f}s)"
        if self.status is not None and self.reason:
            text += f": {self.reason}"
        if self.body:
            text += f"; response body: {self.body}"
        return text

    def __str__(self) -> str:
        return self.describe()


class _OnlyGiven(requests.auth.AuthBase):
    """Authorization exactly as the caller's headers give it (a server's action header), never from ~/.netrc."""

    def __init__(self, value: str | None) -> None:
        self.value = value

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers.pop("Authorization", None)
        if self.value:
            r.headers["Authorization"] = self.value
        return r


def _given_authorization(headers: dict[str, str] | None) -> str | None:
    """The Authorization value among ``headers`` (any spelling), as a server's action gave it."""
    return next((v for k, v in (headers or {}).items() if k.lower() == "authorization"), None)


class _Session(requests.Session):
    """A session that reads the proxy and CA-bundle environment once per origin, not per request.

    requests re-reads it (``getproxies`` plus the ``no_proxy`` match) for every
    request, about a millisecond of CPU each: for thousands of small objects that
    is a noticeable share of the agent's time. The environment does not change
    while an agent runs, so the answer is kept per (scheme, host, port).
    """

    def __init__(self) -> None:
        super().__init__()
        self._env_settings: dict[tuple, dict] = {}

    def merge_environment_settings(self, url, proxies, stream, verify, cert):
        parts = urlsplit(url)
        key = (parts.scheme, parts.hostname, parts.port, repr(proxies), stream, verify, cert)
        found = self._env_settings.get(key)
        if found is None:
            found = self._env_settings[key] = super().merge_environment_settings(url, proxies, stream, verify, cert)
        return dict(found)


class Transport:
    """A requests session sized for ``parallel`` connections, with connect/read timeouts."""

    def __init__(self, log: Log, *, parallel: int, timeout: float) -> None:
        self.log = log
        self.timeout = (timeout, timeout)
        self.session = _Session()
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=parallel + 4, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers["User-Agent"] = "git-hf-agent/0.1"

    def request(self, kind: str, method: str, url: str, *, attempt: int, body: Any = None,
                nbytes: int = 0, headers: dict[str, str] | None = None,
                auth: tuple[str, str] | None = None, oid: str | None = None,
                part: int | None = None, read_timeout: float | None = None) -> requests.Response:
        """Send one request; return the 2xx response or raise a classified :class:`HttpFailure`."""
        start = time.monotonic()
        shown = redact_url(url)
        fields: dict[str, Any] = {"kind": kind, "method": method, "attempt": attempt, "bytes": nbytes,
                                  "url": shown, "oid": oid, "part": part}
        try:
            resp = self.session.request(
                method, url, data=body, headers=headers,
                timeout=(self.timeout[0], read_timeout or self.timeout[1]),
                auth=auth if auth is not None else _OnlyGiven(_given_authorization(headers)),
                allow_redirects=kind not in PRESIGNED,
            )
            resp.content  # read the whole (small) answer inside the timeout
        except requests.RequestException as exc:
            failure = HttpFailure(RETRIABLE, kind, shown, reason=_reason(exc), attempt=attempt,
                                  elapsed=time.monotonic() - start)
            self.log.event("http", status=None, elapsed_ms=elapsed_ms(start), error=failure.reason, **fields)
            raise failure from exc
        fields.update(status=resp.status_code, elapsed_ms=elapsed_ms(start))
        if self.log.verbose:
            fields.update(request_headers=_safe_headers(resp.request.headers), response_headers=dict(resp.headers))
        failure = classify(kind, resp, shown, attempt, time.monotonic() - start)
        self.log.event("http", error=failure.reason if failure else None, **fields)
        if failure is not None:
            raise failure
        return resp

    def open(self, kind: str, url: str, *, attempt: int, headers: dict[str, str] | None = None,
             oid: str | None = None, part: int | None = None) -> requests.Response:
        """Send one streamed GET (the caller reads and closes the body); no redirects followed, and no
        Authorization but one in ``headers`` (the server's action header, never ~/.netrc).

        A 3xx with ``Location`` is returned as is so the caller decides what the next
        hop may carry (:mod:`download` follows it); any other non-2xx raises a
        classified :class:`HttpFailure` exactly as :meth:`request` does.
        """
        start = time.monotonic()
        shown = redact_url(url)
        fields: dict[str, Any] = {"kind": kind, "method": "GET", "attempt": attempt, "bytes": 0,
                                  "url": shown, "oid": oid, "part": part}
        try:
            resp = self.session.get(url, headers=headers, timeout=self.timeout, auth=_OnlyGiven(_given_authorization(headers)),
                                    allow_redirects=False, stream=True)
        except requests.RequestException as exc:
            failure = network_failure(kind, shown, exc, attempt=attempt, elapsed=time.monotonic() - start)
            self.log.event("http", status=None, elapsed_ms=elapsed_ms(start), error=failure.reason, **fields)
            raise failure from exc
        fields.update(status=resp.status_code, elapsed_ms=elapsed_ms(start))
        redirect = 300 <= resp.status_code < 400 and bool(resp.headers.get("Location"))
        failure = None if redirect else classify(kind, resp, shown, attempt, time.monotonic() - start)
        self.log.event("http", error=failure.reason if failure else None, **fields)
        if failure is not None:
            resp.close()
            raise failure
        return resp

    def close(self) -> None:
        self.session.close()


def classify(kind: str, resp: requests.Response, shown_url: str, attempt: int,
             elapsed: float) -> HttpFailure | None:
    """The single place that decides what an HTTP answer means for the agent."""
    status = resp.status_code
    if 200 <= status < 300:
        if kind == "part" and not resp.headers.get("ETag"):
            return HttpFailure(RETRIABLE, kind, shown_url, status, reason="part accepted without an ETag header",
                               attempt=attempt, elapsed=elapsed)
        return None
    if status in (408, 429) or status >= 500:
        category = RETRIABLE
    elif (status == 403 and kind in PRESIGNED) or (status == 404 and kind in ("part", "complete")):
        category = EXPIRED   # expired/invalid signature, or the upload is gone (S3 NoSuchUpload)
    elif status in (401, 403):
        category = AUTH
    else:
        category = FATAL
    return HttpFailure(category, kind, shown_url, status, body=_body(resp), reason=resp.reason or "",
                       attempt=attempt, elapsed=elapsed, retry_after=retry_after(resp.headers.get("Retry-After")))


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None or when.tzinfo is None:
        return None
    now = time.time() if now is None else now
    return max(0.0, when.timestamp() - now)


def _body(resp: requests.Response) -> str:
    text = resp.content[:BODY_LIMIT].decode("utf-8", errors="replace")
    return " ".join(text.split())


def network_failure(kind: str, shown_url: str, exc: Exception, *, attempt: int, elapsed: float) -> HttpFailure:
    """A retriable failure for a connection error, reset or timeout (also one met while reading a body)."""
    return HttpFailure(RETRIABLE, kind, shown_url, reason=_reason(exc), attempt=attempt, elapsed=elapsed)


def _reason(exc: Exception) -> str:
    """A short, secret-free reason: the innermost urllib3 cause rather than requests' wrapper text."""
    inner = exc.args[0] if exc.args else exc
    inner = getattr(inner, "reason", inner)
    detail = redact_text(str(inner))[:300]
    lowered = f"{exc} {detail}".lower()
    if isinstance(exc, requests.Timeout) or "timed out" in lowered:
        kind = "timeout"
    elif "reset" in lowered or "aborted" in lowered or "disconnected" in lowered or "broken pipe" in lowered:
        kind = "connection reset"
    else:
        kind = "connection error"
    return f"{kind}: {detail}"


def _safe_headers(headers: Any) -> dict[str, str]:
    return {k: ("REDACTED" if k.lower() == "authorization" else v) for k, v in headers.items()}


class FileSlice:
    """A request body that streams ``length`` bytes at ``offset`` of a file, in 1 MiB blocks.

    It has ``__len__`` (so requests sends Content-Length) and ``__iter__`` but no
    ``read`` (so urllib3 sends whole blocks rather than 8-16 KiB reads). Each
    ``iter()`` starts from the slice's first byte, which rewinds the body on every
    attempt; ``on_progress(position)`` reports bytes handed to the socket.
    """

    BLOCK = 1 << 20
    FIRST_BLOCK = 64 << 10   # small first block: the first progress event comes out at once, even on slow links

    def __init__(self, fd: int, offset: int, length: int, on_progress=None, cancelled=None) -> None:
        self.fd, self.offset, self.length = fd, offset, length
        self._on_progress = on_progress
        self._cancelled = cancelled

    def __len__(self) -> int:
        return self.length

    def __iter__(self) -> Iterator[bytes]:
        sent = 0
        while sent < self.length:
            if self._cancelled is not None and self._cancelled():
                raise OSError("upload cancelled")
            want = self.BLOCK if sent else self.FIRST_BLOCK
            block = os.pread(self.fd, min(want, self.length - sent), self.offset + sent)
            if not block:
                raise OSError(f"object file is shorter than expected (ended at byte {self.offset + sent})")
            yield block
            sent += len(block)
            if self._on_progress is not None:
                self._on_progress(sent)


def stream(body: FileSlice) -> Iterable[bytes] | bytes:
    """What to pass as ``data=``: the slice, or ``b""`` for an empty one (avoids chunked encoding)."""
    return body if len(body) else b""
