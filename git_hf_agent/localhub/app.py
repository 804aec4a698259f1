"""Assemble the local Hub: routes of every module in match order, then the server.

``/_local`` and ``/api`` routes come before the repo-scoped ones because a
namespace could otherwise be named ``api``.
"""

from __future__ import annotations

from git_hf_agent.localhub import api, githttp, lfs
from git_hf_agent.localhub.config import Config
from git_hf_agent.localhub.server import Exchange, Hub, HubServer, Route, route


def stats(ex: Exchange) -> None:
    ex.send_json(200, ex.hub.stats.snapshot())


def home(ex: Exchange) -> None:
    """What a browser pointed at the base URL sees: what this is and its repos."""
    repos = sorted(str(p.relative_to(ex.hub.storage.repos))[: -len(".git")]
                   for p in ex.hub.storage.repos.glob("*/*/*.git") if (p / "hub.json").is_file())
    lines = ["git hf serve: a local Hugging Face Hub (git smart HTTP, LFS, Hub API). See docs/local-hub.md.",
             f"{len(repos)} repos:", *(f"  {ex.public_url}/{r.removeprefix('models/')}" for r in repos)]
    ex.send_bytes(200, ("\n".join(lines) + "\n").encode(), "text/plain; charset=utf-8")


def all_routes() -> list[Route]:
    return [route("GET", r"/", "local", home), route("GET", r"/_local/stats", "local", stats), *lfs.routes(),
            *api.routes(), *githttp.routes(), *api.repo_routes()]


def make_server(config: Config) -> HubServer:
    """A bound (not yet serving) local Hub; ``server.hub.base_url`` is its address."""
    return HubServer(Hub(config, all_routes()))
