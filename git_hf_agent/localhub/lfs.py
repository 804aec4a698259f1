"""LFS routes: the batch API, presigned part/single PUTs, completion, verify and downloads.

Shapes follow docs/agent.md and docs/local-hub.md: ``multipart`` is chosen when
the client offers it and an object exceeds ``--multipart-threshold``; large objects
then get ``header.chunk_size`` plus zero-padded part keys (presigned PUT URLs) and
``href`` = signed completion URL; smaller objects in the same answer get a basic
single-PUT action. Every batch starts a new multipart upload (``--upload-reuse new``,
as the real Hub may) or reuses the one in progress for the same repo, user, oid and
size (``keep``: same upload id, fresh URLs, parts kept). Objects are scoped per repo:
a batch answers "stored" (or hands out a download) only for objects the repo holds.
"""

from __future__ import annotations

import re
import time

from git_hf_agent.hubconf import RepoId
from git_hf_agent.localhub.server import Exchange, HttpError, Route, route
from git_hf_agent.localhub.storage import StorageError, check_oid
from git_hf_agent.localhub.uploads import Upload
from git_hf_agent.units import format_size

LFS_JSON = "application/vnd.git-lfs+json"
_RANGE = re.compile(r"^bytes=[ \t]*([0-9]*)[ \t]*-[ \t]*([0-9]*)$", re.IGNORECASE)


# ---- batch -----------------------------------------------------------------------------
MAX_BATCH_OBJECTS = 1000
MAX_BATCH_PARTS = 100_000  # part URLs in one answer (~35 MB); 100 objects of 50 GB in 64 MiB parts need 74,600
BATCH_BODY_LIMIT = 4 * 1024 * 1024


def batch(ex: Exchange, type: str | None, ns: str, name: str) -> None:
    repo = ex.repo(type, ns, name)
    ex.check_access(repo, write=False)  # 404 unknown repo, 401 private without a token: before the body
    body = ex.read_json(BATCH_BODY_LIMIT)
    operation = body.get("operation")
    if operation not in ("upload", "download"):
        raise HttpError(422, f"operation must be 'upload' or 'download', not {_shown(operation)}")
    if operation == "upload":
        ex.check_access(repo, write=True)  # 401 (git then asks its credential helper) or 403
        ex.hub.storage.uploads.sweep(every=min(60, ex.hub.config.url_ttl))
    objects = body.get("objects")
    transfers = body.get("transfers") or ["basic"]
    if not isinstance(objects, list) or not isinstance(transfers, list):
        raise HttpError(422, "'objects' and 'transfers' must be lists")
    if len(objects) > MAX_BATCH_OBJECTS:
        raise HttpError(413, f"too many objects in one batch: {len(objects)} (at most {MAX_BATCH_OBJECTS}); "
                             "split the request")
    wanted = [_valid(o) for o in objects]
    # multipart when offered and needed by one object (or when the client cannot do basic at all)
    multipart = operation == "upload" and "multipart" in transfers and (
        "basic" not in transfers or any(o is not None and _large(ex, o[1]) for o in wanted))

    def answers():
        parts = 0  # part URLs handed out so far: an answer stays a few tens of MB at most
        for raw, obj in zip(objects, wanted):
            if obj is None:
                yield _object_error(raw, 422, "invalid object: 'oid' must be 64 hex digits and 'size' an integer >= 0")
            elif operation == "upload":
                answer = _upload_object(ex, repo, *obj, multipart=multipart, parts_left=MAX_BATCH_PARTS - parts)
                parts += len(answer.get("actions", {}).get("upload", {}).get("header", {}))
                yield answer
            else:
                yield _download_object(ex, repo, *obj)

    head = {"transfer": "multipart" if multipart else "basic", "hash_algo": "sha256"}
    ex.send_json_list(200, head, "objects", answers(), content_type=LFS_JSON)


def _shown(value) -> str:
    return repr(value)[:80]


def _large(ex: Exchange, size: int) -> bool:
    """Does an object of ``size`` bytes get multipart (when the client offers it)?"""
    return size > ex.hub.config.multipart_threshold or size > ex.hub.config.max_basic_size


def _valid(obj) -> tuple[str, int] | None:
    if not isinstance(obj, dict):
        return None
    oid, size = obj.get("oid"), obj.get("size")
    if not isinstance(oid, str) or not isinstance(size, int) or isinstance(size, bool) or size < 0:
        return None
    try:
        return check_oid(oid), size
    except StorageError:
        return None


def _object_error(raw, code: int, message: str) -> dict:
    oid = raw.get("oid") if isinstance(raw, dict) and isinstance(raw.get("oid"), str) else ""
    size = raw.get("size") if isinstance(raw, dict) and isinstance(raw.get("size"), int) else 0
    if len(oid) > 64 or not isinstance(size, int) or isinstance(size, bool) or not 0 <= size < 1 << 63:
        oid, size = oid[:64], 0  # echo nothing a client could use to inflate the answer
    return {"oid": oid, "size": size, "error": {"code": code, "message": message}}


def _upload_object(ex: Exchange, repo: RepoId, oid: str, size: int, multipart: bool, parts_left: int) -> dict:
    hub, cfg = ex.hub, ex.hub.config
    if size > cfg.max_file_size:
        return _object_error({"oid": oid, "size": size}, 422, (
            f"Maximum individual file size is {cfg.max_file_size / 1e9:.1f}GB; this file is "
            f"{format_size(size)}. Split it into smaller files (the Hub recommends at most 20 GB each)."))
    if hub.storage.repo_object_size(repo, oid) == size:
        return {"oid": oid, "size": size, "authenticated": True}  # already stored in this repo: no actions
    base, signer = ex.public_url, hub.signer
    verify = {"href": signer.sign(base, "POST", f"/{repo.path}.git/info/lfs/objects/verify", {}), **signer.expiry()}
    if multipart and _large(ex, size):
        if -(-size // cfg.chunk_size) > parts_left:
            return _object_error({"oid": oid, "size": size}, 413, (
                f"this batch asks for more than {MAX_BATCH_PARTS} part URLs in all; "
                "ask for this object in another batch (fewer large objects per batch)"))
        upload, new = hub.storage.uploads.mint(oid, size, cfg.chunk_size, repo.path, ex.user or "",
                                               reuse=cfg.upload_reuse == "keep")
        if new:
            hub.stats.bump("uploads_started")
        if not new:
            hub.storage.uploads.extend(upload, int(time.time()) + signer.ttl)
        params = upload.params()
        header = {"chunk_size": str(upload.chunk_size)}
        for n in range(1, upload.part_count + 1):
            header[f"{n:05d}"] = signer.sign(base, "PUT", f"/_lfs/parts/{oid}", {**params, "partNumber": str(n)})
        href = signer.sign(base, "POST", "/api/complete_multipart", {**params, "oid": oid})
        upload_action = {"href": href, "header": header, **signer.expiry()}
    elif size > cfg.max_basic_size:
        return _object_error({"oid": oid, "size": size}, 422, (
            f"{format_size(size)} is larger than the {format_size(cfg.max_basic_size)} limit of a single upload. "
            "Enable large files: run `git hf init` in this repository (it registers the multipart transfer agent), "
            "then push again."))
    else:
        upload_action = {"href": signer.sign(base, "PUT", f"/_lfs/objects/{oid}", {"size": str(size), "repo": repo.path}),
                         **signer.expiry()}
    return {"oid": oid, "size": size, "authenticated": True,
            "actions": {"upload": upload_action, "verify": verify}}


def _download_object(ex: Exchange, repo: RepoId, oid: str, size: int) -> dict:
    stored = ex.hub.storage.repo_object_size(repo, oid)
    if stored is None:
        return _object_error({"oid": oid, "size": size}, 404, "Object does not exist on the server")
    href = ex.hub.signer.sign(ex.public_url, "GET", f"/_lfs/objects/{oid}", {})
    return {"oid": oid, "size": stored, "authenticated": True,
            "actions": {"download": {"href": href, **ex.hub.signer.expiry()}}}


# ---- presigned storage URLs --------------------------------------------------------------
def _s3_body_rules(ex: Exchange) -> bool:
    """S3 presigned PUTs need a Content-Length and refuse chunked bodies (True = refused).

    S3 answers a chunked body with 501; here it is a 411, since no client input may get a 5xx."""
    if "chunked" in ex.headers.get("Transfer-Encoding", "").lower():
        ex.send_xml(411, "MissingContentLength", "Transfer-Encoding: chunked is not supported on storage URLs: "
                    "send the body with a Content-Length (S3 itself answers 501 NotImplemented)")
        return True
    if ex.headers.get("Content-Length") is None:
        ex.send_xml(411, "MissingContentLength", "You must provide the Content-Length HTTP header.")
        return True
    return False


def put_part(ex: Exchange, oid: str) -> None:
    ex.hub.signer.check("PUT", ex.route_path, ex.query)
    if _s3_body_rules(ex):
        return
    upload = Upload.from_params(oid, ex.query)
    try:
        number = int(ex.query.get("partNumber", ""))
    except ValueError:
        number = 0
    if not 1 <= number <= upload.part_count:
        ex.drain()
        return ex.send_xml(400, "InvalidArgument", f"partNumber must be within 1..{upload.part_count}")
    if ex.fault is not None and ex.fault.kind == "no-etag":
        ex.drain()  # accepted on the wire, never recorded: the client cannot complete with it
        return ex.send_bytes(200, b"", "application/octet-stream")
    length = ex.content_length()  # present: _s3_body_rules checked it
    etag, size = ex.hub.storage.uploads.write_part(upload, number, length, ex.body_blocks(),
                                                   int(ex.query["expires"]))
    ex.hub.stats.part_stored(oid, number, size)
    ex.send_bytes(200, b"", "application/octet-stream", {"ETag": f'"{etag}"'})


def put_object(ex: Exchange, oid: str) -> None:
    check_oid(oid)
    ex.hub.signer.check("PUT", ex.route_path, ex.query)
    if _s3_body_rules(ex):
        return
    try:
        size = int(ex.query.get("size", ""))
        repo = RepoId.parse(ex.query.get("repo", ""))
    except ValueError:
        raise HttpError(400, "size or repo parameter missing") from None
    if ex.content_length() != size:
        raise StorageError(400, f"size mismatch for {oid}: the body has {ex.content_length()} bytes, expected {size}")
    if ex.hub.storage.store_stream(oid, size, ex.body_blocks()):  # always received and checked, even if stored
        ex.hub.stats.bump("objects_stored")
    ex.hub.storage.hold(repo, oid)
    ex.send_bytes(200, b"", "application/octet-stream")


def get_object(ex: Exchange, oid: str) -> None:
    check_oid(oid)
    ex.hub.signer.check("GET", ex.route_path, ex.query)
    with ex.hub.storage.open_object(oid) as fh:
        size = fh.seek(0, 2)
        headers = {"Accept-Ranges": "bytes", "ETag": f'"{oid}"', "Content-Type": "application/octet-stream"}
        if ex.query.get("commit"):  # signed by `resolve`: echoed like S3's response-* overrides
            headers.update({"X-Repo-Commit": ex.query["commit"], "X-Linked-Etag": f'"{oid}"',
                            "X-Linked-Size": str(size)})
        span = _range(ex.headers.get("Range"), size)
        if span is None:
            first, count = 0, size
            ex.start(200, headers, size)
        elif span == UNSATISFIABLE:
            return ex.send_xml(416, "InvalidRange", "The requested range is not satisfiable",
                               {"Content-Range": f"bytes */{size}", "Accept-Ranges": "bytes"})
        else:
            first, count = span[0], span[1] - span[0] + 1
            ex.start(206, {**headers, "Content-Range": f"bytes {span[0]}-{span[1]}/{size}"}, count)
        with ex.hub.stats.sending():
            ex.send_file(fh, first, count)


UNSATISFIABLE = (-1, -1)


def _range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive (first, last) byte span of a single ``bytes=`` range (RFC 9110 section 14.1.2).

    None means "send the whole object with 200": no header, a header that is not one
    valid byte range (several ranges, other units, last < first), as S3 does.
    UNSATISFIABLE (answer 416): the range starts at or after the end, or a suffix of 0 bytes.
    """
    m = _RANGE.match((header or "").strip())
    if m is None or (not m.group(1) and not m.group(2)):
        return None
    first, last = (None if not g else int(g) if len(g) <= 20 else 1 << 70 for g in m.groups())
    if first is None:  # suffix range: the last N bytes
        return (max(0, size - last), size - 1) if last and size else UNSATISFIABLE
    if last is not None and last < first:
        return None
    if first >= size:
        return UNSATISFIABLE
    return first, size - 1 if last is None else min(last, size - 1)


# ---- completion and verify ---------------------------------------------------------------
def complete(ex: Exchange) -> None:
    ex.hub.signer.check("POST", ex.route_path, ex.query)
    upload = Upload.from_params(ex.query.get("oid", ""), ex.query)
    try:
        repo = RepoId.parse(upload.repo)
    except ValueError:
        raise HttpError(404, "no multipart upload in progress") from None
    body = ex.read_json(BATCH_BODY_LIMIT)
    oid = upload.oid
    if body.get("oid") != oid:
        raise HttpError(400, f"body oid {_shown(body.get('oid'))} does not match the completion URL")
    parts = body.get("parts")
    if not isinstance(parts, list) or not all(
        isinstance(p, dict) and isinstance(p.get("partNumber"), int) and isinstance(p.get("etag"), str)
        for p in parts
    ):
        raise HttpError(400, "'parts' must be a list of {partNumber: int, etag: str}")
    storage = ex.hub.storage
    if storage.uploads.completed(upload.upload_id) and storage.repo_object_size(repo, oid) == upload.size:
        return ex.send_json(200, {"oid": oid, "size": upload.size})  # a repeated completion after success
    pairs = [(p["partNumber"], p["etag"].strip().strip('"')) for p in parts]
    new = storage.uploads.complete(upload, pairs, storage.publish)
    storage.hold(repo, oid)
    ex.hub.stats.bump("completions")
    if new:
        ex.hub.stats.bump("objects_stored")
    ex.send_json(200, {"oid": oid, "size": upload.size})


def verify(ex: Exchange, type: str | None, ns: str, name: str) -> None:
    """Is the object stored in this repo? The href is presigned (git-lfs sends no token for
    ``authenticated`` objects, so a private repo's verify must not need one); without a
    signature the caller needs read access."""
    repo = ex.repo(type, ns, name)
    if "signature" in ex.query:
        ex.hub.signer.check("POST", ex.route_path, ex.query)
    else:
        ex.check_access(repo, write=False)
    body = ex.read_json(BATCH_BODY_LIMIT)
    oid, size = body.get("oid"), body.get("size")
    try:
        stored = ex.hub.storage.repo_object_size(repo, check_oid(oid if isinstance(oid, str) else ""))
    except StorageError as exc:
        raise HttpError(422, exc.message) from None
    if stored is None:
        raise HttpError(404, f"object {_shown(oid)} is not stored in {repo.path}")
    if stored != size:
        raise HttpError(422, f"object {oid} has {stored} bytes, not {_shown(size)}")
    ex.send_json(200, {"message": "ok"}, content_type=LFS_JSON)


def locks(ex: Exchange, **_: str) -> None:
    ex.drain()
    raise HttpError(404, "the Hub does not support the LFS locking API")


def routes() -> list[Route]:
    return [
        route("POST", r"/{repo}(?:\.git)?/info/lfs/objects/batch", "batch", batch),
        route("POST", r"/{repo}(?:\.git)?/info/lfs/objects/verify", "verify", verify),
        route("GET|POST", r"/{repo}(?:\.git)?/info/lfs/locks(?:/verify)?", "api", locks),
        route("PUT", r"/_lfs/parts/(?P<oid>[^/]+)", "part", put_part),
        route("PUT", r"/_lfs/objects/(?P<oid>[^/]+)", "basic", put_object),
        route("GET", r"/_lfs/objects/(?P<oid>[^/]+)", "download", get_object),
        route("POST", r"/api/complete_multipart", "complete", complete),
    ]
