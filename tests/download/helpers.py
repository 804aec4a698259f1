"""Real git + git-lfs against ``git hf serve`` after ``git hf init --global``: the download user's setup."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests.agent.realgit import sha256_file, stored_object
from tests.support import TOKEN, VENV_BIN, create_repo, git

__all__ = ["global_init", "pushed_repo", "agent_events", "sha256_file", "stored_object", "GIT_HF"]

GIT_HF = os.path.join(VENV_BIN, "git-hf")


def global_init(hub, *args: str) -> subprocess.CompletedProcess:
    """``git hf init --global --endpoint <hub>`` in the hermetic HOME; fails the test if it fails."""
    proc = subprocess.run([GIT_HF, "init", "--global", "--endpoint", hub.url, *args],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc


def pushed_repo(hub, work: Path, name: str, files: dict[str, Path | bytes | None]) -> str:
    """Create ``alice/<name>``, clone it to ``work``, add ``files`` (bytes, or None for "already there"),
    commit and push with plain git; returns the repo URL."""
    url = create_repo(hub.url, f"alice/{name}")
    git("clone", "-q", url, str(work), env={"HF_TOKEN": TOKEN})
    git("lfs", "track", "*.bin", cwd=work)
    for rel, content in files.items():
        if content is not None:
            (work / rel).write_bytes(content)
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "add files", cwd=work)
    git("push", "-q", "origin", "main", cwd=work, env={"HF_TOKEN": TOKEN}, timeout=3600)
    return url


def agent_events(repo: Path) -> list[dict]:
    path = repo / ".git" / "lfs" / "logs" / "git-hf-agent.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
