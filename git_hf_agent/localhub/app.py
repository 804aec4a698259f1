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


def all_routes() -> list[Route]:
    return [route("GET", r"/_local/stats", "local", stats), *lfs.routes(), *api.routes(), *githttp.routes(),
            *api.repo_routes()]


def make_server(config: Config) -> HubServer:
    """A bound (not yet serving) local Hub; ``server.hub.base_url`` is its address."""
    return HubServer(Hub(config, all_routes()))
