"""HTTP plumbing of the local Hub: one threaded server, routing, auth, bodies, faults, throttles.

Handlers (in :mod:`lfs`, :mod:`githttp`, :mod:`api`) receive an :class:`Exchange`
(one request on a keep-alive HTTP/1.1 connection) and use its helpers: streamed
body blocks (Content-Length or chunked, ~1 MiB, throttled and counted), JSON
responses, errors. Faults from ``--fault`` are applied here, before the handler
runs, so every endpoint fails the same way; ``no-etag`` is the one kind a
handler sees (part PUTs answer 200 without recording the part).
"""

from __future__ import annotations

import base64
import ipaddress
import json
import re
import socket
import struct
import sys
import threading
import time
import traceback
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Iterator
from urllib.parse import parse_qsl, unquote, urlsplit

from git_hf_agent.hubconf import RepoId
from git_hf_agent.localhub.config import Config
from git_hf_agent.localhub.faults import FaultRule, Faults
from git_hf_agent.localhub.repoids import canonical
from git_hf_agent.localhub.signing import SignatureError, Signer, xml_error
from git_hf_agent.localhub.stats import Stats
from git_hf_agent.localhub.storage import Storage, StorageError
from git_hf_agent.localhub.throttle import TokenBucket, block_size
from git_hf_agent.redact import redact_text, redact_url

BLOCK = 1024 * 1024
SMALL_BLOCK = 16 * 1024
BIG_BUFFERS = 24  # connections reading bodies in 1 MiB blocks at once; others use 16 KiB (bounds RSS)
MAX_CONNECTIONS = 512  # open connections served at once (a thread each, ~25 KB); more get 429 (8 agents x 64 fit)
_TOO_MANY = (b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nContent-Type: application/json\r\n"
             b"X-Error-Message: too many open connections\r\nContent-Length: 47\r\nConnection: close\r\n\r\n"
             b'{"error": "too many open connections, retry"} \n')
JSON_LIMIT = 64 * 1024 * 1024  # bodies parsed in memory (batch, commit ndjson) stay below this
DRAIN_LIMIT = 1024 * 1024 * 1024  # an error answer first reads (and drops) a body up to this size
XML_KINDS = ("part", "basic", "download")  # storage-like endpoints answer S3-style XML errors
MID_BODY_KINDS = ("reset", "stall", "short")  # download faults that strike after half of the body was sent
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")  # a loopback server may be addressed by any of them
_ERROR_CODES = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 405: "MethodNotAllowed",
                409: "Conflict", 411: "LengthRequired", 412: "PreconditionFailed", 413: "PayloadTooLarge",
                416: "RangeNotSatisfiable", 422: "UnprocessableEntity", 429: "TooManyRequests",
                500: "InternalError", 501: "NotImplemented", 503: "ServiceUnavailable"}
_CHALLENGE = {"WWW-Authenticate": 'Basic realm="Hugging Face local Hub"'}  # makes git ask its credential helper


class HttpError(Exception):
    """An HTTP error answer: status, message (JSON ``error`` + ``X-Error-Message``), extra headers."""

    def __init__(self, status: int, message: str, *, code: str | None = None, headers: dict | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})
        if code:
            self.headers["X-Error-Code"] = code


def not_found(message: str = "Repository not found") -> HttpError:
    return HttpError(404, message, code="RepoNotFound" if message.startswith("Repository") else None)


@dataclass(frozen=True)
class Route:
    """``methods`` + full-match ``pattern`` on the unquoted path -> ``handler(ex, **groups)``."""

    methods: tuple[str, ...]
    pattern: re.Pattern
    kind: str
    handler: Callable[..., None]


def route(methods: str, pattern: str, kind: str, handler: Callable[..., None]) -> Route:
    """Build a Route; ``{repo}`` in ``pattern`` expands to the repo-id groups (type, ns, name)."""
    pattern = pattern.replace("{repo}", r"(?:(?P<type>datasets|spaces)/)?(?P<ns>[^/]+)/(?P<name>[^/]+?)")
    return Route(tuple(methods.split("|")), re.compile(pattern), kind, handler)


class Hub:
    """The server's shared state: config, store, counters, fault drawer, signer, global throttle."""

    def __init__(self, config: Config, routes: list[Route]) -> None:
        self.config = config
        self.storage = Storage(config.root)
        self.storage.adopt_referenced_objects()  # a root from before per-repo scoping
        self.stats = Stats()
        self.faults = Faults(config.faults, config.seed)
        self.signer = Signer(config.secret or self.storage.secret(), config.url_ttl)
        self.total_bucket = TokenBucket(config.total_rate)
        self.routes = routes
        self.stopping = threading.Event()
        self._buffers_lock = threading.Lock()
        self._big_buffers = 0
        self.base_url = ""  # set once the port is bound

    @property
    def public_url(self) -> str:
        return (self.config.public_url or self.base_url).rstrip("/")

    def take_buffer(self) -> bytearray:
        """A body read buffer: 1 MiB for up to BIG_BUFFERS requests at once, 16 KiB beyond (bounds RSS)."""
        with self._buffers_lock:
            if self._big_buffers < BIG_BUFFERS:
                self._big_buffers += 1
                return bytearray(BLOCK)
        return bytearray(SMALL_BLOCK)

    def give_buffer(self, buffer: bytearray) -> None:
        if len(buffer) == BLOCK:
            with self._buffers_lock:
                self._big_buffers -= 1

    def host_allowed(self, host: str) -> bool:
        """Is ``host`` (a Host header value) a name of this server with its port? (see Exchange.public_url)"""
        name, sep, port = host.lower().rpartition(":")
        if not sep or "]" in port or port != self.base_url.rsplit(":", 1)[-1]:
            return False
        bound = self.base_url.split("//", 1)[-1].rsplit(":", 1)[0].lower()
        if name in {bound, *LOOPBACK_NAMES, *(h.lower() for h in self.config.allow_hosts)}:
            return True
        return bound in ("0.0.0.0", "[::]") and _is_ip(name)  # any address of a wildcard bind; names need --allow-host


def _is_ip(name: str) -> bool:
    """An IP literal (``10.0.0.5``, ``[fe80::1]``): no DNS name, so no DNS rebinding through it."""
    try:
        ipaddress.ip_address(name[1:-1] if name.startswith("[") and name.endswith("]") else name)
    except ValueError:
        return False
    return True


class Exchange(BaseHTTPRequestHandler):
    """One connection; each request is dispatched to a route handler."""

    protocol_version = "HTTP/1.1"
    server_version = "git-hf-localhub"
    timeout = 600  # a silent client cannot pin a thread forever

    # ---- connection setup ---------------------------------------------------------------
    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.hub: Hub = self.server.hub  # type: ignore[attr-defined]
        self.conn_bucket = TokenBucket(self.hub.config.conn_rate)
        self._buffer: bytearray | None = None  # taken by the first body read: idle connections stay small

    def finish(self) -> None:
        super().finish()
        self._give_back_buffer()

    def _give_back_buffer(self) -> None:
        if self._buffer is not None:
            self.hub.give_buffer(self._buffer)
            self._buffer = None

    def log_request(self, code="-", size="-") -> None:
        """Silenced: _dispatch logs one line per request, with the URL redacted."""

    def log_message(self, fmt: str, *args) -> None:
        sys.stderr.write("localhub: " + redact_text(fmt % args) + "\n")

    do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = do_PATCH = lambda self: self._dispatch()  # noqa: E731

    def __getattr__(self, name: str):
        """Any other method is routed too (then answered 405 or 404), never http.server's 501."""
        if name.startswith("do_"):
            return self._dispatch
        raise AttributeError(name)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own errors (malformed request line, HTTP/2.0, huge headers): a client error is a 4xx."""
        if code >= 500:
            code = 400
        super().send_error(code, message, explain)

    def send_response(self, code: int, message: str | None = None) -> None:
        """Every answer (also http.server's own errors) carries an ``X-Request-Id``, as the Hub's do."""
        super().send_response(code, message)
        self.send_header("X-Request-Id", getattr(self, "request_id", None) or uuid.uuid4().hex)

    # ---- dispatch -----------------------------------------------------------------------
    def _dispatch(self) -> None:
        started = time.monotonic()
        self.request_id = uuid.uuid4().hex  # X-Request-Id of the answer, as the Hub sends one
        url = urlsplit(self.path)
        self.route_path = unquote(url.path)
        self.query = dict(parse_qsl(url.query, keep_blank_values=True))
        self.status_sent = 0
        self._headers_done = False
        self._body_consumed = not self._has_body()
        self.kind = "api"
        self.fault: FaultRule | None = None
        try:
            self._authenticate()
            segments = self.route_path.split("/")
            if any(seg in (".", "..") for seg in segments) or "\0" in self.route_path:
                raise HttpError(400, "invalid path: '.' and '..' segments are not allowed")
            found = self._match()
            if found is None:
                return
            rt, groups = found
            self.kind = rt.kind
            if rt.kind != "local":  # /_local/* (stats) is never counted, delayed or faulted
                self.hub.stats.request(rt.kind, self.has_auth)
                if self.hub.config.latency_ms:
                    time.sleep(self.hub.config.latency_ms / 1000)
                self.fault = self.hub.faults.draw(rt.kind)
                if self.fault is not None and self._inject(self.fault):
                    return
            rt.handler(self, **groups)
        except HttpError as exc:
            self._error(exc.status, exc.message, exc.headers)
        except StorageError as exc:
            if self.kind in XML_KINDS:  # storage URLs answer like S3
                code = {404: "NoSuchKey" if self.kind == "download" else "NoSuchUpload"}.get(exc.status, "InvalidRequest")
                self.send_xml(exc.status, code, exc.message)
            else:
                self._error(exc.status, exc.message)
        except SignatureError as exc:
            self.send_xml(403, exc.code, exc.message)
        except (ConnectionError, TimeoutError, socket.timeout):
            self.close_connection = True
        except RecursionError:
            self._error(400, "request nested too deeply")
        except Exception:  # noqa: BLE001 - a handler bug must not kill the server
            sys.stderr.write("localhub: handler error\n" + redact_text(traceback.format_exc()))
            self._error(500, "internal error in the local Hub (see its log)")
        finally:
            self._give_back_buffer()  # one request at a time holds it
            if not self._body_consumed:
                self.close_connection = True
            ms = (time.monotonic() - started) * 1000
            sys.stderr.write(f'localhub: "{self.command} {redact_url(self.path)}" {self.status_sent or "-"} {ms:.0f}ms\n')

    def _match(self) -> tuple[Route, dict] | None:
        allowed = False
        for rt in self.hub.routes:
            m = rt.pattern.fullmatch(self.route_path)
            if m is None:
                continue
            if self.command in rt.methods or (self.command == "HEAD" and "GET" in rt.methods):
                return rt, {k: v for k, v in m.groupdict().items()}
            allowed = True
        if allowed:
            self._error(405, f"method {self.command} not allowed on {self.route_path}")
        elif "%2f" in self.path.split("?")[0].lower():
            self._error(400, "invalid path: an encoded '/' cannot be part of a repo id or oid")
        else:
            self._error(404, f"no route for {self.command} {self.route_path}")
        return None

    def _inject(self, fault: FaultRule) -> bool:
        """Apply a drawn fault; True when the request is finished (handler must not run)."""
        self.hub.stats.fault(str(fault))
        if fault.kind in ("500", "503", "429"):
            self.drain()
            headers = {"Retry-After": "1"} if fault.kind == "429" else {}
            status = int(fault.kind)
            if self.kind in XML_KINDS:
                code = {500: "InternalError", 503: "SlowDown", 429: "SlowDown"}[status]
                self.send_xml(status, code, f"injected fault {fault}", headers)
            else:
                self._error(status, f"injected fault {fault}", headers)
            return True
        if self.kind == "download" and fault.kind in MID_BODY_KINDS:
            return False  # the handler sends the headers and half the body, then send_file applies it
        if fault.kind == "reset":
            length = self.content_length()
            if length:
                self._discard(min(length // 2, 8 * BLOCK))
            self._abort()
            return True
        if fault.kind == "stall":
            self.hub.stopping.wait(self.hub.config.stall_seconds)
            self._abort()
            return True
        return False  # no-etag: the part handler honours self.fault

    def _abort(self) -> None:
        """Drop the connection with a TCP reset (what a crashed proxy looks like)."""
        self.close_connection = True
        self._body_consumed = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass

    @property
    def public_url(self) -> str:
        """Base of the hrefs handed out: ``--public-url``, else the address the client used if it is allowed.

        The request's ``Host`` is used only when it names this server: the bound
        address, a loopback name, or an ``--allow-host`` name, with the bound port.
        Anything else gets the bound address: a Host header is never reflected into
        an href, so a forged one (DNS rebinding, a proxy passing it through) cannot
        send a client's uploads elsewhere.
        """
        if self.hub.config.public_url:
            return self.hub.public_url
        host = self.headers.get("Host", "")
        if host and self.hub.host_allowed(host):
            return f"http://{host}"
        return self.hub.public_url

    # ---- auth ---------------------------------------------------------------------------
    def _authenticate(self) -> None:
        header = self.headers.get("Authorization", "")
        self.has_auth = bool(header)
        self.user: str | None = None
        self.bad_token = False
        if not header:
            return
        scheme, _, value = header.partition(" ")
        token = ""
        if scheme.lower() == "basic":
            try:
                token = base64.b64decode(value.strip()).decode().partition(":")[2]
            except (ValueError, UnicodeDecodeError):
                token = ""
        elif scheme.lower() == "bearer":
            token = value.strip()
        self.user = self.hub.config.tokens.get(token)
        self.bad_token = self.user is None

    def unauthorized(self, message: str = "Invalid credentials in Authorization header") -> HttpError:
        """401 asking for Basic credentials, so git calls its credential helper."""
        return HttpError(401, message, headers=_CHALLENGE)

    def require_user(self) -> str:
        if self.user is None:
            if self.bad_token:
                raise self.unauthorized()
            raise self.unauthorized("Authentication required: use a Hub token (username any, password the token)")
        return self.user

    def can_write(self, namespace: str) -> bool:
        """A token may write to its own namespace and to any namespace that is not another user."""
        if self.user is None:
            return False
        return namespace == self.user or namespace not in self.hub.config.users

    def repo(self, type: str | None, ns: str, name: str) -> RepoId:
        """The RepoId of route groups, spelled as stored (ids match case-insensitively, as on the Hub);
        400 for ids with path tricks or bad characters."""
        try:
            return canonical(self.hub.storage.repos, RepoId(ns, name, (type or "models")[:-1]))
        except ValueError as exc:
            raise HttpError(400, str(exc)) from None

    def check_access(self, repo: RepoId, write: bool) -> dict:
        """404 unknown repo; 401 without a valid token where one is needed; 403 no permission.

        A private repo looks missing to others (401 + RepoNotFound without a token, so
        git asks for credentials and huggingface_hub raises RepositoryNotFoundError).
        """
        if not self.hub.storage.repo_exists(repo):
            raise not_found()
        meta = self.hub.storage.repo_meta(repo)
        if self.bad_token:
            raise self.unauthorized()
        if meta.get("private") and not self.can_write(repo.namespace):
            if self.user is None:
                raise HttpError(401, "Repository not found", code="RepoNotFound", headers=_CHALLENGE)
            raise not_found()
        if write:
            self.require_user()
            if not self.can_write(repo.namespace):
                raise HttpError(403, f"You don't have the rights to write to {repo.path}")
        return meta

    # ---- request body -------------------------------------------------------------------
    def _has_body(self) -> bool:
        return "chunked" in self.headers.get("Transfer-Encoding", "").lower() or bool(self.content_length())

    def content_length(self) -> int:
        try:
            return max(0, int(self.headers.get("Content-Length") or 0))
        except ValueError:
            return 0

    def body_blocks(self) -> Iterator[memoryview]:
        """Yield the request body in blocks of <= 1 MiB (views into one reused buffer)."""
        if self._body_consumed:
            return
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            yield from self._chunked()
        else:
            yield from self._fixed(self.content_length())
        self._body_consumed = True

    def _fixed(self, n: int) -> Iterator[memoryview]:
        if self._buffer is None:
            self._buffer = self.hub.take_buffer()
        view = memoryview(self._buffer)
        step = block_size(len(self._buffer), self.conn_bucket, self.hub.total_bucket)
        while n > 0:
            want = min(step, n)
            self.conn_bucket.take(want)
            self.hub.total_bucket.take(want)
            got = self.rfile.readinto(view[:want])
            if not got:
                raise ConnectionError("client closed the connection mid-body")
            n -= got
            self.hub.stats.received(self.kind, got)
            yield view[:got]

    def _chunked(self) -> Iterator[memoryview]:
        while True:
            line = self.rfile.readline(1024)
            if not line:
                raise ConnectionError("client closed the connection mid-body")
            try:
                size = int(line.split(b";")[0].strip(), 16)
            except ValueError:
                raise HttpError(400, "malformed chunked request body") from None
            if size == 0:
                while self.rfile.readline(65536) not in (b"\r\n", b"\n", b""):
                    pass
                return
            yield from self._fixed(size)
            self.rfile.readline(16)

    def _discard(self, n: int) -> None:
        for _ in self._fixed(n):
            pass

    def drain(self) -> None:
        """Read and drop the rest of the body (keeps the connection usable)."""
        for _ in self.body_blocks():
            pass

    def _drain_upto(self, limit: int) -> None:
        """Drain the body unless it is known or found to exceed ``limit`` (then the connection closes)."""
        if self.content_length() > limit:
            return
        seen = 0
        try:
            for block in self.body_blocks():
                seen += len(block)
                if seen > limit:
                    return
        except (ConnectionError, HttpError):
            self.close_connection = True

    def read_body(self, limit: int = JSON_LIMIT) -> bytes:
        length = self.content_length()
        if length > limit:
            raise HttpError(413, f"request body too large ({length} bytes, limit {limit})")
        chunks, total = [], 0
        for block in self.body_blocks():
            total += len(block)
            if total > limit:
                raise HttpError(413, f"request body too large (limit {limit} bytes)")
            chunks.append(bytes(block))
        return b"".join(chunks)

    def read_json(self, limit: int = JSON_LIMIT) -> dict:
        """The body as a JSON object (at most ``limit`` bytes: 413); 400 with a message when it is not one."""
        raw = self.read_body(limit)
        try:
            data = json.loads(raw or b"null")
        except (ValueError, RecursionError) as exc:
            reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)[:200]
            raise HttpError(400, f"malformed JSON body: {reason}") from None
        if not isinstance(data, dict):
            raise HttpError(400, "malformed JSON body: expected an object")
        return data

    # ---- responses ----------------------------------------------------------------------
    def start(self, status: int, headers: dict[str, str], length: int | None) -> None:
        """Send status and headers; ``length`` None means a chunked body follows.

        An unread request body is read and dropped first (up to DRAIN_LIMIT): a client
        still sending a 64 MiB part would otherwise get a connection reset instead of
        this answer (e.g. the 403 that tells it to refresh an expired URL).
        """
        if not self._body_consumed:
            self._drain_upto(DRAIN_LIMIT)
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, _header_value(value))
        if length is None:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(length))
        if not self._body_consumed or self.close_connection:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.status_sent = status
        self._headers_done = True

    def send_bytes(self, status: int, body: bytes, content_type: str, headers: dict | None = None) -> None:
        self.start(status, {"Content-Type": content_type, **(headers or {})}, len(body))
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def send_json(self, status: int, obj, headers: dict | None = None,
                  content_type: str = "application/json") -> None:
        self.send_bytes(status, json.dumps(obj).encode(), content_type, headers)

    def send_json_list(self, status: int, head: dict, key: str, items, content_type: str = "application/json") -> None:
        """A JSON object ``head`` plus ``key``: a list of the JSON items of an iterable, streamed (chunked).

        Used for answers whose size follows the request (LFS batches): each item is
        encoded and sent on its own, so the server never holds the whole answer.
        """
        self.start(status, {"Content-Type": content_type}, None)
        prefix = json.dumps(head)[:-1] + (", " if head else "") + json.dumps(key) + ": ["
        pending: list[bytes] = [prefix.encode()]
        size = len(pending[0])
        for i, item in enumerate(items):
            data = (", " if i else "") + json.dumps(item)
            pending.append(data.encode())
            size += len(pending[-1])
            if size >= 256 * 1024:
                self.write_chunk(b"".join(pending))
                pending, size = [], 0
        pending.append(b"]}")
        self.write_chunk(b"".join(pending))
        self.write_chunk(b"")

    def send_xml(self, status: int, code: str, message: str, headers: dict | None = None) -> None:
        self.send_bytes(status, xml_error(code, message, self.route_path), "application/xml", headers)

    def _error(self, status: int, message: str, headers: dict | None = None) -> None:
        if self._headers_done:
            self.close_connection = True
            return
        safe = message.encode("ascii", "replace").decode()[:900]
        content_type = "application/vnd.git-lfs+json" if "/info/lfs/" in self.route_path else "application/json"
        body = {"error": message, "message": message}
        code = {"X-Error-Code": _ERROR_CODES.get(status, "Error")}  # the specific ones (RepoNotFound...) come in headers
        self.send_json(status, body, {"X-Error-Message": safe, **code, **(headers or {})}, content_type)

    def write_chunk(self, data: bytes) -> None:
        """One chunk of a chunked response (empty ``data`` ends the body)."""
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data) if data else b"0\r\n\r\n")

    def send_file(self, fh, offset: int, count: int) -> None:
        """Stream ``count`` bytes of ``fh`` from ``offset`` (sendfile when not throttled).

        A download fault that strikes mid-body (``reset``, ``stall``, ``short``) sends the
        first half of the promised bytes, then resets, stalls then resets, or closes cleanly.
        """
        if self.command == "HEAD" or count <= 0:
            return
        fault = self.fault.kind if self.fault is not None and self.fault.kind in MID_BODY_KINDS else None
        self._send_range(fh, offset, count // 2 if fault else count)
        if fault is None:
            return
        self.wfile.flush()
        if fault == "stall":
            self.hub.stopping.wait(self.hub.config.stall_seconds)
        if fault == "short":  # a clean FIN: the client sees fewer bytes than Content-Length
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            return
        self._abort()

    def _send_range(self, fh, offset: int, count: int) -> None:
        buckets = (self.conn_bucket, self.hub.total_bucket)
        if not any(b.rate for b in buckets):
            if count > 0:
                self.connection.sendfile(fh, offset, count)
            return
        fh.seek(offset)
        step = block_size(BLOCK, *buckets)
        while count > 0:
            data = fh.read(min(step, count))
            if not data:
                raise ConnectionError("stored object shorter than expected")
            for bucket in buckets:
                bucket.take(len(data))
            self.wfile.write(data)
            count -= len(data)


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _header_value(value) -> str:
    """A header value with every control character (CR and LF above all) replaced by a space."""
    return _CONTROL.sub(" ", str(value))


class HubServer(ThreadingHTTPServer):
    """ThreadingHTTPServer carrying the :class:`Hub`; one daemon thread per connection."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self._connections = 0
        self._connections_lock = threading.Lock()
        if ":" in hub.config.host:  # an IPv6 address such as ::1
            self.address_family = socket.AF_INET6
        super().__init__((hub.config.host, hub.config.port), Exchange)
        host, port = self.server_address[:2]
        shown = f"[{host}]" if ":" in str(host) else host
        hub.base_url = f"http://{shown}:{port}"

    def process_request(self, request, client_address) -> None:
        """One thread per connection, at most MAX_CONNECTIONS at once: beyond, a 429 and the connection closes."""
        with self._connections_lock:
            busy = self._connections >= MAX_CONNECTIONS
            if not busy:
                self._connections += 1
        if busy:
            try:
                request.sendall(_TOO_MANY)
            except OSError:
                pass
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._release()
            raise

    def process_request_thread(self, request, client_address) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._release()

    def _release(self) -> None:
        with self._connections_lock:
            self._connections -= 1

    def handle_error(self, request, client_address) -> None:
        """Client disconnects are routine (faults, killed agents); anything else is logged, redacted."""
        if isinstance(sys.exc_info()[1], OSError):
            return
        sys.stderr.write("localhub: connection error\n" + redact_text(traceback.format_exc()))
