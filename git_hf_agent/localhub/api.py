"""Hub JSON API routes, enough for huggingface_hub's ``HfApi`` to work unchanged.

whoami, repo create/delete, repo and revision info, preupload, commit (ndjson,
streamed line by line), paths-info, tree listing and ``resolve`` downloads (LFS
files redirect to a presigned storage URL, as on the Hub). Payload shapes were
read from huggingface_hub 2.4 (hf_api.py, _commit_api.py, file_download.py); the
content rules (binary test, default ``.gitattributes``, paths) are in :mod:`hubrules`.
"""

from __future__ import annotations

import base64
import binascii
import json
from urllib.parse import parse_qsl

from git_hf_agent.hubconf import REPO_TYPES, RepoId
from git_hf_agent.lfspointer import Pointer
from git_hf_agent.localhub import hubrules
from git_hf_agent.localhub.config import MAX_REGULAR_BLOB
from git_hf_agent.localhub.gitrepo import BlobWriter, GitError, GitRepo, MissingPath
from git_hf_agent.localhub.hubrules import LFS_SIZE, SAMPLE_SIZE, PathError, PathRules
from git_hf_agent.localhub.repoids import canonical
from git_hf_agent.localhub.server import DRAIN_LIMIT, Exchange, HttpError, Route, not_found, route
from git_hf_agent.localhub.storage import StorageError, check_oid

API_REPO = r"/api/(?P<type>models|datasets|spaces)/(?P<ns>[^/]+)/(?P<name>[^/]+)"
# A commit line holds one operation: a regular file is at most 10 MiB, 13.4 MiB in base64.
MAX_NDJSON_LINE = 16 * 1024 * 1024
RULES_FILE_LIMIT = 1024 * 1024  # .gitattributes / .gitignore read for preupload
STALE_PARENT = "A commit has happened since. Please refresh and try again."  # the Hub's 412 wording


# ---- identity and repos -------------------------------------------------------------------
def whoami(ex: Exchange) -> None:
    user = ex.require_user()
    base = ex.hub.storage.repos
    namespaces = {p.name for t in REPO_TYPES for p in (base / f"{t}s").glob("*") if p.is_dir()}
    orgs = sorted(ns for ns in namespaces if ns not in ex.hub.config.users)
    ex.send_json(200, {
        "type": "user", "id": user, "name": user, "fullname": user, "email": f"{user}@localhub.invalid",
        "emailVerified": True, "isPro": False, "canPay": False,
        "orgs": [{"type": "org", "name": o, "fullname": o, "roleInOrg": "admin"} for o in orgs],
        "auth": {"type": "access_token", "accessToken": {"displayName": "localhub", "role": "write"}},
    })


def _repo_from_body(ex: Exchange) -> tuple[RepoId, dict]:
    user = ex.require_user()
    body = ex.read_json()
    name, org = body.get("name"), body.get("organization") or user
    repo_type = body.get("type") or "model"
    if not isinstance(name, str) or not isinstance(org, str) or repo_type not in REPO_TYPES:
        raise HttpError(400, "expected JSON {name, organization?, type: model|dataset|space, private?}")
    if "/" in name:  # accept "ns/name" too
        org, _, name = name.partition("/")
    # Namespaces match case-insensitively, as on the Hub: "ALICE" is the user alice, never a new organisation.
    org = next((u for u in sorted(ex.hub.config.users | {user}) if u.casefold() == org.casefold()), org)
    try:
        repo = canonical(ex.hub.storage.repos, RepoId(org, name, repo_type))
    except ValueError as exc:
        raise HttpError(400, str(exc)) from None
    if not ex.can_write(repo.namespace):
        raise HttpError(403, f"You don't have the rights to write to namespace {repo.namespace!r}")
    return repo, body


def create_repo(ex: Exchange) -> None:
    repo, body = _repo_from_body(ex)
    url = f"{ex.public_url}/{repo.path}"
    private = bool(body.get("private")) or body.get("visibility") == "private"  # huggingface_hub >= 1.x sends visibility
    if not ex.hub.storage.create_repo(repo, private):
        message = f"You already created this {repo.type} repo"
        return ex.send_json(409, {"error": message, "url": url}, {"X-Error-Message": message, "X-Error-Code": "RepoExists"})
    if not ex.hub.config.empty_repos:
        with ex.hub.storage.lock(f"repo:{repo.path}"):  # the lock API commits take
            _initial_commit(GitRepo(ex.hub.storage.repo_dir(repo)), repo.type, ex.user or "localhub")
    ex.send_json(200, {"url": url, "name": repo.repo_id, "id": repo.repo_id})


def _initial_commit(git: GitRepo, repo_type: str, user: str) -> None:
    """The Hub's first commit of every repo: its default ``.gitattributes`` (hubrules)."""
    writer = BlobWriter(git.path)
    blob = writer.write(hubrules.DEFAULT_GITATTRIBUTES[repo_type].encode())
    writer.close()
    git.commit("main", None, [("add", ".gitattributes", blob)], hubrules.INITIAL_COMMIT_MESSAGE,
               (user, f"{user}@localhub.invalid"))


def delete_repo(ex: Exchange) -> None:
    repo, _ = _repo_from_body(ex)
    if not ex.hub.storage.delete_repo(repo):
        raise not_found()
    ex.send_json(200, {})


def validate_yaml(ex: Exchange) -> None:
    ex.read_json()
    ex.send_json(200, {"errors": [], "warnings": []})


# ---- repo and revision info -----------------------------------------------------------------
def _open(ex: Exchange, type: str, ns: str, name: str, write: bool = False) -> tuple[RepoId, GitRepo, dict]:
    repo = ex.repo(type, ns, name)
    meta = ex.check_access(repo, write=write)
    return repo, GitRepo(ex.hub.storage.repo_dir(repo)), meta


def _commit_of(git: GitRepo, rev: str) -> str:
    commit = git.resolve(rev)
    if commit is None:
        raise HttpError(404, f"Invalid rev id: {rev}", code="RevisionNotFound")
    return commit


def repo_info(ex: Exchange, type: str, ns: str, name: str, rev: str | None = None) -> None:
    repo, git, meta = _open(ex, type, ns, name)
    commit = git.resolve(rev or "main")
    if commit is None and rev not in (None, "main"):
        raise HttpError(404, f"Invalid rev id: {rev}", code="RevisionNotFound")
    siblings, modified = [], None
    if commit:
        for e in git.entries(commit, recursive=True):
            if e.type == "file":
                item = {"rfilename": e.path, "size": e.lfs.size if e.lfs else e.size, "blobId": e.oid}
                if e.lfs:
                    item["lfs"] = {"sha256": e.lfs.oid, "size": e.lfs.size, "pointerSize": e.size}
                siblings.append(item)
        modified = git.commit_date(commit)
    ex.send_json(200, {
        "_id": meta.get("id"), "id": repo.repo_id, "author": repo.namespace, "sha": commit,
        "private": bool(meta.get("private")), "disabled": False, "gated": False,
        "lastModified": modified, "createdAt": meta.get("created"), "tags": [], "downloads": 0, "likes": 0,
        "siblings": siblings, "cardData": {},
    })


def tree(ex: Exchange, type: str, ns: str, name: str, rev: str, path: str | None = None) -> None:
    _, git, _ = _open(ex, type, ns, name)
    commit = _commit_of(git, rev)
    path = (path or "").strip("/")
    recursive = _flag(ex.query.get("recursive"))
    if path and not git.lookup(commit, [path]):
        raise HttpError(404, f"{path} does not exist at {rev}", code="EntryNotFound")
    entries = git.entries(commit, path, recursive)
    ex.send_json(200, _as_json(git, commit, entries, _flag(ex.query.get("expand"))))


def paths_info(ex: Exchange, type: str, ns: str, name: str, rev: str) -> None:
    _, git, _ = _open(ex, type, ns, name)
    commit = _commit_of(git, rev)
    raw = ex.read_body()
    if "json" in ex.headers.get("Content-Type", ""):
        try:
            body = json.loads(raw or b"{}")
            paths, expand = body.get("paths", []), body.get("expand")
        except (ValueError, AttributeError):
            raise HttpError(400, "malformed JSON body: expected {paths: [...]}") from None
    else:
        form = parse_qsl(raw.decode(errors="replace"))
        paths = [v for k, v in form if k == "paths"]
        expand = next((v for k, v in form if k == "expand"), None)
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        raise HttpError(400, "'paths' must be a list of strings")
    entries = git.lookup(commit, [p.strip("/") for p in paths])
    ex.send_json(200, _as_json(git, commit, entries, _flag(expand)))


def _flag(value) -> bool:
    """A boolean query/form/JSON value as huggingface_hub sends it (``True``, ``true``, ``1``)."""
    return value is True or (isinstance(value, str) and value.lower() in ("1", "true"))


# What a file's security scan looks like on the Hub when nothing was scanned (the local Hub scans nothing).
_UNSCANNED = {"status": "unscanned", "avScan": {"virusFound": False, "virusNames": None},
              "pickleImportScan": {"highestSafetyLevel": None, "imports": []}}


def _as_json(git: GitRepo, commit: str, entries: list, expand: bool) -> list[dict]:
    """Tree entries as the Hub lists them; with ``expand``, each has ``lastCommit`` (and files ``securityFileStatus``)."""
    items = [e.as_json() for e in entries]
    if expand:
        for item in items:
            item["lastCommit"] = git.last_commit(commit, item["path"])
            if item["type"] == "file":
                item["securityFileStatus"] = _UNSCANNED
    return items


def refs(ex: Exchange, type: str, ns: str, name: str) -> None:
    _, git, _ = _open(ex, type, ns, name)
    found = {"branches": [], "tags": [], "converts": []}
    for ref, target in git.refs():
        kind = "branches" if ref.startswith("refs/heads/") else "tags"
        found[kind].append({"name": ref.split("/", 2)[2], "ref": ref, "targetCommit": target})
    if ex.query.get("include_prs"):
        found["pullRequests"] = []
    ex.send_json(200, found)


def commits(ex: Exchange, type: str, ns: str, name: str, rev: str) -> None:
    _, git, _ = _open(ex, type, ns, name)
    history = git.log(_commit_of(git, rev))
    ex.send_json(200, [{"id": c["id"], "authors": [{"user": c["author"]}], "date": c["date"], "title": c["title"],
                        "message": c["message"]} for c in history])


# ---- uploads: preupload and commit -------------------------------------------------------------
def preupload(ex: Exchange, type: str, ns: str, name: str, rev: str) -> None:
    """Upload mode per file (one rule, :func:`upload_mode`), ``shouldIgnore`` and the stored oid."""
    _, git, _ = _open(ex, type, ns, name, write=True)
    body = ex.read_json()
    files = body.get("files")
    if not isinstance(files, list) or not all(isinstance(f, dict) and isinstance(f.get("path"), str) for f in files):
        raise HttpError(400, "expected JSON {files: [{path, sample, size}]}")
    commit = git.resolve(rev)
    if commit is None and rev != "main":
        raise HttpError(404, f"Invalid rev id: {rev}", code="RevisionNotFound")
    lfs_rules = PathRules.lfs(_rules_file(git, commit, ".gitattributes"))
    gitignore = body.get("gitIgnore")
    ignore = PathRules.ignore(gitignore if isinstance(gitignore, str) else _rules_file(git, commit, ".gitignore"))
    paths = [_repo_path(f["path"]) for f in files]
    existing = {e.path: e for e in git.lookup(commit, paths)} if commit else {}
    answer = []
    for f, path in zip(files, paths):
        try:
            sample = base64.b64decode(f.get("sample") or "", validate=True)
        except (binascii.Error, ValueError, TypeError):
            raise HttpError(400, f"sample of {path!r} is not base64") from None
        size = f.get("size") if isinstance(f.get("size"), int) else 0
        found = existing.get(path)
        oid = (found.lfs.oid if found.lfs else found.oid) if found and found.type == "file" else None
        answer.append({"path": f["path"], "uploadMode": upload_mode(path, size, sample, lfs_rules),
                       "shouldIgnore": ignore.ignored(path), "oid": oid})
    ex.send_json(200, {"files": answer, "commitOid": commit})


def upload_mode(path: str, size: int, sample: bytes, lfs_rules: PathRules) -> str:
    """The Hub's rule: ``lfs`` from 10 MB, for paths the revision's .gitattributes sends to LFS, and for binary samples."""
    if size >= LFS_SIZE or lfs_rules.matches(path) or hubrules.is_binary(sample[:SAMPLE_SIZE]):
        return "lfs"
    return "regular"


def _rules_file(git: GitRepo, commit: str | None, path: str) -> str:
    """A small root file of the revision (``.gitattributes``, ``.gitignore``) as text; empty when absent."""
    found = git.lookup(commit, [path]) if commit else []
    if not found or found[0].type != "file" or found[0].lfs:
        return ""
    return git.heads([found[0].oid], RULES_FILE_LIMIT).get(found[0].oid, b"").decode(errors="replace")


def commit(ex: Exchange, type: str, ns: str, name: str, rev: str) -> None:
    """Apply an ndjson commit; the body is read line by line and blobs are written as they arrive."""
    repo, git, _ = _open(ex, type, ns, name, write=True)
    writer = BlobWriter(git.path)
    try:
        header, operations = _read_operations(ex, repo, writer)
        writer.close()
    except BaseException:
        writer.abort()
        raise
    with ex.hub.storage.lock(f"repo:{repo.path}"):
        parent = git.resolve(rev)
        if parent is None and rev != "main":
            raise HttpError(404, f"Invalid rev id: {rev}", code="RevisionNotFound")
        expected = header.get("parentCommit")
        if expected and (parent is None or not isinstance(expected, str) or not parent.startswith(expected)):
            raise HttpError(412, STALE_PARENT)
        message = str(header.get("summary") or "Upload files")
        if header.get("description"):
            message += f"\n\n{header['description']}"
        user = ex.user or "localhub"
        try:
            new = git.commit(rev, parent, operations, message, (user, f"{user}@localhub.invalid"))
        except MissingPath as exc:
            raise HttpError(404, str(exc), code="EntryNotFound") from None
        except GitError as exc:
            raise HttpError(409, f"commit failed (the branch moved or git refused): {exc}") from None
    ex.send_json(200, {"success": True, "commitOid": new, "commitMessage": message,
                       "commitUrl": f"{ex.public_url}/{repo.path}/commit/{new}", "pullRequestUrl": None})


def _ndjson_lines(blocks):
    """The body ``blocks`` split into lines as they arrive; a line over MAX_NDJSON_LINE is a 413."""
    pending = bytearray()
    for block in blocks:
        pending += block
        start = 0
        while (end := pending.find(b"\n", start)) >= 0:
            yield bytes(pending[start:end])
            start = end + 1
        del pending[:start]
        if len(pending) > MAX_NDJSON_LINE:
            raise HttpError(413, f"a commit line is larger than {MAX_NDJSON_LINE} bytes: "
                                 "upload large files through LFS (preupload answers 'lfs')")
    if pending:
        yield bytes(pending)


def _read_operations(ex: Exchange, repo: RepoId, writer: BlobWriter) -> tuple[dict, list]:
    """Header and operations (``add``/``delete``/``folder``) of the ndjson body; file contents go to ``writer``."""
    blocks = ex.body_blocks()
    try:
        return _parse_lines(ex, repo, writer, _ndjson_lines(blocks))
    except HttpError:
        seen = 0
        for block in blocks:  # read the rest so the error answer reaches the client, as the server does (<= 1 GiB)
            seen += len(block)
            if seen > DRAIN_LIMIT:
                ex.close_connection = True
                break
        raise


def _parse_lines(ex: Exchange, repo: RepoId, writer: BlobWriter, lines) -> tuple[dict, list]:
    header, operations = {}, []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            key, value = item["key"], item["value"]
        except (ValueError, KeyError, TypeError, RecursionError):
            raise HttpError(400, f"malformed ndjson line {number}: expected {{key, value}}") from None
        if key == "header":
            header = value if isinstance(value, dict) else {}
            continue
        if not isinstance(value, dict):
            raise HttpError(400, f"ndjson line {number}: 'value' must be an object")
        path = _repo_path(value.get("path"))
        if key == "file":
            operations.append(("add", path, writer.write(_regular_content(path, value, ex.hub.config.allow_binary))))
        elif key == "lfsFile":
            operations.append(("add", path, writer.write(_lfs_pointer(ex, repo, value))))
        elif key in ("deletedFile", "deletedFolder"):
            operations.append(("delete" if key == "deletedFile" else "folder", path, None))
        else:
            raise HttpError(400, f"unsupported ndjson operation {str(key)[:50]!r} on line {number}")
    return header, operations


def _regular_content(path: str, value: dict, allow_binary: bool) -> bytes:
    """The decoded content of a regular file; 400 when the Hub would refuse it outside LFS."""
    try:
        content = base64.b64decode(value.get("content") or "", validate=True)
    except (binascii.Error, ValueError, TypeError):
        raise HttpError(400, f"content of {path!r} is not base64") from None
    if len(content) > MAX_REGULAR_BLOB:
        raise HttpError(400, f"{path} is larger than 10 MiB: upload it as an LFS file")
    if hubrules.is_binary(content[:SAMPLE_SIZE]) and not allow_binary:
        raise HttpError(400, f"{path} is a binary file: upload it as an LFS file (preupload answers 'lfs' for it)")
    return content


def _lfs_pointer(ex: Exchange, repo: RepoId, value: dict) -> bytes:
    """The pointer of an ``lfsFile`` operation; 400 unless this repo holds the object with that size."""
    try:
        oid = check_oid(value["oid"] if isinstance(value.get("oid"), str) else "")
    except StorageError as exc:
        raise HttpError(400, exc.message) from None
    stored = ex.hub.storage.repo_object_size(repo, oid)
    if stored is None:
        raise HttpError(400, f"LFS object {oid} of {value.get('path')} is not uploaded to this repo: "
                             "upload it (LFS batch) before committing")
    if value.get("size") is not None and value.get("size") != stored:
        raise HttpError(400, f"LFS object {oid} has {stored} bytes, not {value.get('size')}")
    return Pointer(oid, stored).text().encode()


def _repo_path(path) -> str:
    """A repo path by the Hub's rules (:func:`hubrules.check_repo_path`): 422, or 400 for what git cannot store."""
    try:
        return hubrules.check_repo_path(path)
    except PathError as exc:
        raise HttpError(exc.status, str(exc)) from None


# ---- resolve (downloads) ------------------------------------------------------------------------
def resolve(ex: Exchange, type: str | None, ns: str, name: str, rev: str, path: str) -> None:
    repo = ex.repo(type, ns, name)
    ex.check_access(repo, write=False)
    git = GitRepo(ex.hub.storage.repo_dir(repo))
    commit = _commit_of(git, rev)
    found = git.lookup(commit, [path.strip("/")])
    if not found or found[0].type != "file":
        raise HttpError(404, f"{path} does not exist at {rev}", code="EntryNotFound")
    entry = found[0]
    headers = {"X-Repo-Commit": commit, "Accept-Ranges": "bytes"}
    if entry.lfs:
        oid, size = entry.lfs.oid, entry.lfs.size
        if ex.hub.storage.repo_object_size(repo, oid) is None:
            raise HttpError(404, f"the LFS object of {path} is not stored on this Hub", code="EntryNotFound")
        location = ex.hub.signer.sign(ex.public_url, "GET", f"/_lfs/objects/{oid}", {"commit": commit})
        ex.send_bytes(302, b"", "text/plain", {
            **headers, "Location": location, "ETag": f'"{entry.oid}"',
            "X-Linked-Etag": f'"{oid}"', "X-Linked-Size": str(size)})
        return
    data = git.blob(entry.oid)
    ex.send_bytes(200, data, "application/octet-stream", {**headers, "ETag": f'"{entry.oid}"'})


def routes() -> list[Route]:
    return [
        route("GET", r"/api/whoami-v2", "api", whoami),
        route("POST", r"/api/repos/create", "api", create_repo),
        route("DELETE", r"/api/repos/delete", "api", delete_repo),
        route("POST", r"/api/validate-yaml", "api", validate_yaml),
        route("GET", API_REPO, "api", repo_info),
        route("GET", API_REPO + r"/revision/(?P<rev>.+)", "api", repo_info),
        route("GET", API_REPO + r"/tree/(?P<rev>[^/]+)(?:/(?P<path>.*))?", "api", tree),
        route("POST", API_REPO + r"/paths-info/(?P<rev>.+)", "api", paths_info),
        route("GET", API_REPO + r"/refs", "api", refs),
        route("GET", API_REPO + r"/commits/(?P<rev>.+)", "api", commits),
        route("POST", API_REPO + r"/preupload/(?P<rev>.+)", "api", preupload),
        route("POST", API_REPO + r"/commit/(?P<rev>.+)", "api", commit),
        route(_ANY, r"/api/(?:models|datasets|spaces)/[^/]+(?:/(?:revision|tree|paths-info|refs|commits|preupload|commit)(?:/.*)?)?",
              "api", no_namespace),
    ]


_ANY = "GET|POST|PUT|DELETE|PATCH"


def no_namespace(ex: Exchange, **_) -> None:
    """A repo id without a namespace (``gpt2``): no such repo here (the Hub's legacy ids redirect to an org)."""
    raise not_found()


def repo_routes() -> list[Route]:
    """Routes under a repo URL (after git's, which they cannot shadow)."""
    return [route("GET", r"/{repo}/resolve/(?P<rev>[^/]+)/(?P<path>.+)", "api", resolve),
            route("GET", r"/(?:(?:datasets|spaces)/)?[^/]+/resolve/[^/]+/.+", "api", no_namespace)]
