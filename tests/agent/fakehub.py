"""A Hub and its object storage at the wire (``responses``), for driving the agent in-process.

Not a mock of the agent's classes: the agent runs unchanged and talks HTTP; these
callbacks answer like the Hub's LFS batch API, presigned part/basic PUTs and the
signed completion endpoint, and record what arrived so tests can assert on bytes,
headers and attempts. Faults are queued per endpoint (``fail("part", 500, 500)``).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import requests
import responses

from git_hf_agent.agent.main import run

HUB = "https://hub.test"
STORE = "https://storage.test"
REMOTE = f"{HUB}/alice/model"
SECRET = "hf_fakeHubSecretToken0123456789"
EXPIRED_XML = "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>"
DATA = bytes(range(256)) * 40 + b"tail"       # the usual test object: 10244 bytes -> 4 parts of CHUNK
CHUNK = 3000
NO_SUCH_UPLOAD = "<Error><Code>NoSuchUpload</Code><Message>The specified upload does not exist</Message></Error>"


def make_object(repo: Path, data: bytes) -> tuple[str, Path]:
    """Write ``data`` where git-lfs keeps objects (``.git/lfs/objects/aa/bb/oid``); return (oid, path)."""
    oid = hashlib.sha256(data).hexdigest()
    path = repo / ".git" / "lfs" / "objects" / oid[:2] / oid[2:4] / oid
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return oid, path


def init_line(remote: str = REMOTE) -> str:
    return json.dumps({"event": "init", "operation": "upload", "remote": remote, "concurrent": True,
                       "concurrenttransfers": 1})


def upload_line(oid: str, size: int, path: Path, action: dict | None) -> str:
    return json.dumps({"event": "upload", "oid": oid, "size": size, "path": str(path), "action": action})


@dataclass
class Transcript:
    """What the agent wrote: parsed stdout lines, raw stdout, stderr text and the JSON log."""

    raw: str
    stderr: str
    log_path: Path

    @property
    def lines(self) -> list[dict]:
        return [json.loads(line) for line in self.raw.splitlines()]

    @property
    def completes(self) -> list[dict]:
        return [m for m in self.lines if m.get("event") == "complete"]

    @property
    def progress(self) -> list[dict]:
        return [m for m in self.lines if m.get("event") == "progress"]

    @property
    def log(self) -> list[dict]:
        if not self.log_path.exists():
            return []
        return [json.loads(line) for line in self.log_path.read_text().splitlines()]


def drive(lines: list[str], log_path: Path, *args: str) -> Transcript:
    """Run the agent loop on ``lines`` (terminate appended) with fast retries; return its output."""
    stdin = io.StringIO("".join(line + "\n" for line in [*lines, '{"event":"terminate"}']))
    stdout, stderr = io.StringIO(), io.StringIO()
    argv = ["--backoff", "0.01", "--max-attempts", "4", "--timeout", "5", "--log", str(log_path), *args]
    assert run(stdin, stdout, argv, stderr=stderr) == 0
    return Transcript(stdout.getvalue(), stderr.getvalue(), log_path)


@dataclass
class FakeHub:
    """Batch API + storage for one object ``data`` split in ``chunk`` byte parts."""

    rsps: responses.RequestsMock
    data: bytes
    chunk: int
    upload_id: str = "up-1"
    expires_in: int = 3600
    faults: dict[str, list] = field(default_factory=dict)
    uploads: dict[str, dict[int, list[bytes]]] = field(default_factory=dict)   # upload id -> part -> bodies
    headers_seen: dict[str, list[dict]] = field(default_factory=dict)
    basic_body: bytes | None = None
    completed: list[dict] = field(default_factory=list)
    stored: bool = False
    generation: int = 0
    batch_transfer: str = "multipart"
    broken_parts: set[int] = field(default_factory=set)   # part numbers answered 500 every time
    expire_after: int | None = None   # expire every URL once this many parts were stored
    upload_id_after_refresh: str | None = None   # the batch API starts a new upload (old parts dropped)

    def __post_init__(self) -> None:
        self.oid = hashlib.sha256(self.data).hexdigest()
        self.valid = {self._sig()}
        self.uploads.setdefault(self.upload_id, {})
        r = self.rsps
        r.add_callback("PUT", re.compile(rf"{STORE}/part/.*"), callback=self._part)
        r.add_callback("PUT", re.compile(rf"{STORE}/basic/.*"), callback=self._basic)
        r.add_callback("POST", re.compile(rf"{HUB}/api/complete_multipart.*"), callback=self._complete)
        r.add_callback("POST", re.compile(rf"{HUB}/.*/info/lfs/objects/batch"), callback=self._batch)

    # -- actions ------------------------------------------------------------------------
    def _sig(self) -> str:
        return f"sig{self.generation}"

    @property
    def nparts(self) -> int:
        return -(-len(self.data) // self.chunk)

    def action(self, expires_at: str = "0001-01-01T00:00:00Z") -> dict:
        """A multipart action as the Hub hands it to git-lfs."""
        q = f"uploadId={self.upload_id}&signature={self._sig()}"
        header = {"chunk_size": str(self.chunk)}
        for n in range(1, self.nparts + 1):
            header[f"{n:05d}"] = f"{STORE}/part/{self.oid}?partNumber={n}&{q}"
        return {"href": f"{HUB}/api/complete_multipart?oid={self.oid}&{q}", "header": header,
                "expires_in": self.expires_in, "expires_at": expires_at}

    def basic_action(self) -> dict:
        return {"href": f"{STORE}/basic/{self.oid}?signature={self._sig()}", "header": {"Content-Type": "application/octet-stream"},
                "expires_in": self.expires_in, "expires_at": "0001-01-01T00:00:00Z"}

    @property
    def received(self) -> dict[int, list[bytes]]:
        """Part number -> bodies stored for the current upload."""
        return self.uploads[self.upload_id]

    def expire(self, new_upload_id: str | None = None) -> None:
        """Invalidate every URL handed out so far (and optionally drop every upload for a new one)."""
        self.generation += 1
        self.valid = {self._sig()}
        if new_upload_id:
            self.upload_id = new_upload_id
            self.uploads = {new_upload_id: {}}

    def new_upload(self, upload_id: str) -> None:
        """Hand out a new upload from now on, keeping earlier ones and their URLs valid (S3 does)."""
        self.upload_id = upload_id
        self.uploads.setdefault(upload_id, {})

    def fail(self, kind: str, *outcomes) -> None:
        """Queue outcomes for the next requests of ``kind``: a status, (status, headers), or an exception."""
        self.faults.setdefault(kind, []).extend(outcomes)

    def calls(self, kind: str) -> int:
        return len(self.headers_seen.get(kind, []))

    # -- callbacks ------------------------------------------------------------------------
    def _fault(self, kind: str, request):
        self.headers_seen.setdefault(kind, []).append(dict(request.headers))
        queue = self.faults.get(kind)
        if not queue:
            return None
        outcome = queue.pop(0)
        if isinstance(outcome, BaseException):
            _consume(request.body, limit=3)
            raise outcome
        status, headers = outcome if isinstance(outcome, tuple) else (outcome, {})
        return status, headers, f"injected {status}"

    def _signed(self, request) -> bool:
        sig = parse_qs(urlsplit(request.url).query).get("signature", [""])[0]
        return sig in self.valid

    def _refused(self, kind: str, request):
        """An injected fault or a 403 for a stale signature (body drained as a server would), else None."""
        injected = self._fault(kind, request)
        if injected or not self._signed(request):
            _consume(request.body)
            return injected or (403, {}, EXPIRED_XML)
        return None

    def _part(self, request):
        refused = self._refused("part", request)
        if refused:
            return refused
        body = _consume(request.body)
        query = parse_qs(urlsplit(request.url).query)
        n = int(query["partNumber"][0])
        if n in self.broken_parts:
            return 500, {}, "broken part"
        upload = self.uploads.get(query["uploadId"][0])
        if upload is None:
            return 404, {}, NO_SUCH_UPLOAD
        upload.setdefault(n, []).append(body)
        if self.expire_after is not None and sum(map(len, self.received.values())) == self.expire_after:
            self.expire()
        return 200, {"ETag": f'"{hashlib.md5(body).hexdigest()}"'}, ""

    def _basic(self, request):
        refused = self._refused("basic", request)
        if refused:
            return refused
        self.basic_body = _consume(request.body)
        self.stored = self.basic_body == self.data
        return 200, {}, ""

    def _complete(self, request):
        injected = self._fault("complete", request)
        if injected:
            return injected
        if not self._signed(request):
            return 403, {}, EXPIRED_XML
        upload = self.uploads.get(parse_qs(urlsplit(request.url).query)["uploadId"][0])
        if upload is None:
            return 404, {}, NO_SUCH_UPLOAD
        body = json.loads(request.body)
        self.completed.append(body)
        parts = body["parts"]
        blobs = [upload.get(p["partNumber"], [b""])[-1] for p in parts]
        etags_ok = all(p["etag"] == f'"{hashlib.md5(b).hexdigest()}"' for p, b in zip(parts, blobs))
        if [p["partNumber"] for p in parts] != list(range(1, self.nparts + 1)) or not etags_ok or b"".join(blobs) != self.data:
            return 400, {}, json.dumps({"error": "ETag or size mismatch"})
        self.stored = True
        return 200, {}, json.dumps({"oid": self.oid, "size": len(self.data)})

    def _batch(self, request):
        injected = self._fault("batch", request)
        if injected:
            return injected
        obj = {"oid": self.oid, "size": len(self.data)}
        if self.upload_id_after_refresh:
            self.expire(new_upload_id=self.upload_id_after_refresh)
            self.upload_id_after_refresh = None
        if not self.stored:
            obj["actions"] = {"upload": self.action() if self.batch_transfer == "multipart" else self.basic_action()}
        return 200, {"Content-Type": "application/vnd.git-lfs+json"}, json.dumps(
            {"transfer": self.batch_transfer, "objects": [obj]})


def _consume(body, limit: int | None = None) -> bytes:
    """Read a streamed request body the way a socket would (iterating the agent's slice)."""
    if body is None:
        return b""
    if isinstance(body, (bytes, str)):
        return body.encode() if isinstance(body, str) else body
    out = []
    for i, block in enumerate(body):
        out.append(block)
        if limit is not None and i + 1 >= limit:
            break
    return b"".join(out)


def connection_reset() -> requests.ConnectionError:
    return requests.ConnectionError("Connection reset by peer")
