"""Repo ids as the Hub matches them: case-insensitively, answered with the stored spelling.

``alice/Model`` and ``ALICE/model`` name the same repo on the Hub; the local Hub
keeps each repo under the spelling it was created with and maps any other case
to it, so every route (API, git, LFS) finds the same repo and a create that
differs only in case is a conflict.
"""

from __future__ import annotations

import os
from pathlib import Path

from git_hf_agent.hubconf import RepoId


def _find(folder: Path, name: str) -> str | None:
    """The entry of ``folder`` equal to ``name`` ignoring case (exact spelling first)."""
    if (folder / name).exists():
        return name
    try:
        entries = os.listdir(folder)
    except OSError:
        return None
    folded = name.casefold()
    return next((e for e in sorted(entries) if e.casefold() == folded), None)


def canonical(repos_root: Path, repo: RepoId) -> RepoId:
    """``repo`` spelled as stored under ``repos_root`` (``{type}s/{ns}/{name}.git``), else unchanged."""
    base = Path(repos_root) / f"{repo.type}s"
    namespace = _find(base, repo.namespace)
    if namespace is None:
        return repo
    name = _find(base / namespace, f"{repo.name}.git")
    if name is None:
        return RepoId(namespace, repo.name, repo.type)
    return RepoId(namespace, name[: -len(".git")], repo.type)
