"""Real ``git`` + ``git-lfs`` repos wired to a local Hub with the agent registered by hand.

The registration keys are the contract ``git hf init`` writes
(lfs.customtransfer.multipart.path/args/concurrent/direction, locksverify=false),
so these tests exercise the agent exactly as a configured user's push does.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

from tests.support import authed, create_repo, git, start_from_hub

AGENT = shutil.which("git-hf-agent") or os.path.join(os.path.dirname(os.sys.executable), "git-hf-agent")


def hub_repo(hub, work: Path, name: str, agent_args: str = "") -> Path:
    """Create ``alice/<name>`` on ``hub`` and a clone-like working repo at ``work`` pushing to it."""
    url = create_repo(hub.url, f"alice/{name}")
    work.mkdir(parents=True)
    git("init", "-q", "-b", "main", cwd=work)
    start_from_hub(work, url)  # the Hub's initial commit (.gitattributes), as a clone would have
    git("lfs", "install", "--local", cwd=work)
    for key, value in (
        ("lfs.customtransfer.multipart.path", AGENT),
        ("lfs.customtransfer.multipart.args", agent_args),
        ("lfs.customtransfer.multipart.concurrent", "true"),
        ("lfs.customtransfer.multipart.direction", "upload"),
        (f"lfs.{url}.git/info/lfs.locksverify", "false"),
    ):
        git("config", key, value, cwd=work)
    git("remote", "add", "origin", authed(url), cwd=work)
    git("lfs", "track", "*.bin", cwd=work)
    return work


def commit_all(work: Path, message: str = "add files") -> None:
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", message, cwd=work)


def stored_object(hub, oid: str) -> Path:
    """Where the local Hub keeps a completed LFS object."""
    return Path(hub.root) / "lfs" / "objects" / oid[:2] / oid[2:4] / oid


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 22):
            h.update(block)
    return h.hexdigest()


def lfs_oid(work: Path, name: str) -> str:
    """The oid recorded in the committed pointer of ``name``."""
    pointer = git("show", f"HEAD:{name}", cwd=work).stdout
    return next(line.split(":", 1)[1] for line in pointer.splitlines() if line.startswith("oid sha256:"))


def agent_log(work: Path) -> list[dict]:
    path = work / ".git" / "lfs" / "logs" / "git-hf-agent.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def state_dir(repo: Path, kind: str) -> Path:
    """Where the agent keeps resume state (docs/agent.md "Resume"): ``uploads`` or ``downloads``."""
    return repo / ".git" / "lfs" / "git-hf-agent" / kind
