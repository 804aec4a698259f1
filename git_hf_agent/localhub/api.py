"""Hub JSON API routes, enough for huggingface_hub's ``HfApi`` to work unchanged.

whoami, repo create/delete, repo and revision info, preupload, commit (ndjson),
paths-info, tree listing and ``resolve`` downloads (LFS files redirect to a
presigned storage URL, as on the Hub). Payload shapes were read from
huggingface_hub 2.4 (hf_api.py, _commit_api.py, file_download.py).
"""

from __future__ import annotations

import base64
import binascii
import json
from urllib.parse import parse_qsl

from git_hf_agent.hubconf import REPO_TYPES, RepoId
from git_hf_agent.localhub.config import BINARY_SNIFF, MAX_REGULAR_BLOB
from git_hf_agent.lfspointer import Pointer
from git_hf_agent.localhub.gitrepo import GitError, GitRepo
from git_hf_agent.localhub.server import Exchange, HttpError, Route, not_found, route
from git_hf_agent.localhub.storage import StorageError, check_oid

LFS_SIZE = 10 * 1000 * 1000  # preupload: files from 10 MB go to LFS, like the Hub
API_REPO = r"/api/(?P<type>models|datasets|spaces)/(?P<ns>[^/]+)/(?P<name>[^/]+)"


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
    try:
        repo = RepoId(org, name, repo_type)
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
        return ex.send_json(409, {"error": message, "url": url}, {"X-Error-Message": message})
    ex.send_json(200, {"url": url, "name": repo.repo_id, "id": repo.repo_id})


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
    recursive = ex.query.get("recursive", "").lower() in ("1", "true")
    if path and not git.lookup(commit, [path]):
        raise HttpError(404, f"{path} does not exist at {rev}", code="EntryNotFound")
    ex.send_json(200, [e.as_json() for e in git.entries(commit, path, recursive)])


def paths_info(ex: Exchange, type: str, ns: str, name: str, rev: str) -> None:
    _, git, _ = _open(ex, type, ns, name)
    commit = _commit_of(git, rev)
    raw = ex.read_body()
    if "json" in ex.headers.get("Content-Type", ""):
        try:
            paths = json.loads(raw or b"{}").get("paths", [])
        except (ValueError, AttributeError):
            raise HttpError(400, "malformed JSON body: expected {paths: [...]}") from None
    else:
        paths = [v for k, v in parse_qsl(raw.decode(errors="replace")) if k == "paths"]
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        raise HttpError(400, "'paths' must be a list of strings")
    ex.send_json(200, [e.as_json() for e in git.lookup(commit, [p.strip("/") for p in paths])])


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
    _, git, _ = _open(ex, type, ns, name, write=True)
    body = ex.read_json()
    files = body.get("files")
    if not isinstance(files, list) or not all(isinstance(f, dict) and isinstance(f.get("path"), str) for f in files):
        raise HttpError(400, "expected JSON {files: [{path, sample, size}]}")
    commit = git.resolve(rev)
    existing = {e.path: e for e in git.lookup(commit, [f["path"] for f in files])} if commit else {}
    answer = []
    for f in files:
        try:
            sample = base64.b64decode(f.get("sample") or "", validate=True)
        except (binascii.Error, ValueError):
            raise HttpError(400, f"sample of {f['path']!r} is not base64") from None
        size = f.get("size") if isinstance(f.get("size"), int) else 0
        mode = "lfs" if size >= LFS_SIZE or b"\0" in sample else "regular"
        found = existing.get(f["path"])
        oid = (found.lfs.oid if found.lfs else found.oid) if found and found.type == "file" else None
        answer.append({"path": f["path"], "uploadMode": mode, "shouldIgnore": False, "oid": oid})
    ex.send_json(200, {"files": answer, "commitOid": commit})


def commit(ex: Exchange, type: str, ns: str, name: str, rev: str) -> None:
    repo, git, _ = _open(ex, type, ns, name, write=True)
    header, adds, deletes, folders = _parse_ndjson(ex, ex.read_body())
    with ex.hub.storage.lock(f"repo:{repo.path}"):
        parent = git.resolve(rev)
        if parent is None and rev != "main":
            raise HttpError(404, f"Invalid rev id: {rev}", code="RevisionNotFound")
        expected = header.get("parentCommit")
        if expected and (parent is None or not parent.startswith(expected)):
            raise HttpError(412, f"A commit has happened since: {rev} is at {parent}, not {expected}")
        message = header.get("summary") or "Upload files"
        if header.get("description"):
            message += f"\n\n{header['description']}"
        user = ex.user or "localhub"
        try:
            new = git.commit(rev, parent, adds, deletes, folders, message, (user, f"{user}@localhub.invalid"))
        except GitError as exc:
            raise HttpError(409, f"commit failed (the branch moved or git refused): {exc}") from None
    ex.send_json(200, {"success": True, "commitOid": new, "commitMessage": message,
                       "commitUrl": f"{ex.public_url}/{repo.path}/commit/{new}", "pullRequestUrl": None})


def _parse_ndjson(ex: Exchange, raw: bytes) -> tuple[dict, list, list, list]:
    header, adds, deletes, folders = {}, [], [], []
    for number, line in enumerate(raw.splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            key, value = item["key"], item["value"]
        except (ValueError, KeyError, TypeError):
            raise HttpError(400, f"malformed ndjson line {number}: expected {{key, value}}") from None
        if key == "header":
            header = value if isinstance(value, dict) else {}
            continue
        path = _clean_path(value.get("path") if isinstance(value, dict) else None)
        if key == "file":
            try:
                content = base64.b64decode(value.get("content", ""), validate=True)
            except (binascii.Error, ValueError):
                raise HttpError(400, f"content of {path!r} is not base64") from None
            if len(content) > MAX_REGULAR_BLOB:
                raise HttpError(400, f"{path} is larger than 10 MiB: upload it as an LFS file")
            if b"\0" in content[:BINARY_SNIFF] and not ex.hub.config.allow_binary:
                raise HttpError(400, f"{path} is a binary file: upload it as an LFS file")
            adds.append((path, content))
        elif key == "lfsFile":
            adds.append((path, _lfs_pointer(ex, value)))
        elif key == "deletedFile":
            deletes.append(path)
        elif key == "deletedFolder":
            folders.append(path)
        else:
            raise HttpError(400, f"unsupported ndjson operation {key!r} on line {number}")
    return header, adds, deletes, folders


def _lfs_pointer(ex: Exchange, value: dict) -> bytes:
    try:
        oid = check_oid(value.get("oid", ""))
    except StorageError as exc:
        raise HttpError(400, exc.message) from None
    stored = ex.hub.storage.object_size(oid)
    if stored is None:
        raise HttpError(400, f"LFS object {oid} of {value.get('path')} is not uploaded: upload it before committing")
    if value.get("size") is not None and value.get("size") != stored:
        raise HttpError(400, f"LFS object {oid} has {stored} bytes, not {value.get('size')}")
    return Pointer(oid, stored).text().encode()


def _clean_path(path) -> str:
    """A repo path without tricks: relative, no empty/``.``/``..`` segments, nothing under ``.git``."""
    if not isinstance(path, str) or not path.strip("/"):
        raise HttpError(400, "every operation needs a non-empty 'path'")
    parts = path.strip("/").split("/")
    if any(p in ("", ".", "..") for p in parts) or parts[0] == ".git" or "\0" in path or "\n" in path:
        raise HttpError(400, f"invalid path in repo: {path[:200]!r}")
    return "/".join(parts)


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
        if ex.hub.storage.object_size(oid) is None:
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
    ]


def repo_routes() -> list[Route]:
    """Routes under a repo URL (after git's, which they cannot shadow)."""
    return [route("GET", r"/{repo}/resolve/(?P<rev>[^/]+)/(?P<path>.+)", "api", resolve)]
