"""Test helpers shared by every suite: hermetic git environment, real git calls, sparse files.

Tests never see the developer's git config or Hub token (git-revise's "hermetic
seal"): HOME, XDG_*, HF_HOME point into a temp dir, GIT_CONFIG_NOSYSTEM is set,
author/committer identities and dates are fixed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import psutil

# A token the local Hub accepts in tests (`git hf serve --token alice:TOKEN`).
USER = "alice"
TOKEN = "hf_localTestToken0123456789abcdef"
VENV_BIN = os.path.dirname(sys.executable)

_DROP = (
    "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_ENDPOINT", "HF_TOKEN_PATH", "GIT_DIR", "GIT_WORK_TREE",
    "GIT_INDEX_FILE", "GIT_TRACE", "GIT_CURL_VERBOSE", "GIT_TRACE_PACKET", "GIT_ASKPASS", "SSH_ASKPASS",
    "GIT_CONFIG_GLOBAL", "GIT_CONFIG_PARAMETERS", "GIT_CONFIG_COUNT", "XDG_CACHE_HOME",
)


def hermetic_env(base: Path) -> dict[str, str]:
    """Environment variables that seal git, git-lfs and huggingface_hub inside ``base``."""
    home = base / "home"
    for sub in ("", ".config", ".cache"):
        (home / sub).mkdir(parents=True, exist_ok=True)
    path = os.environ.get("PATH", "")
    if VENV_BIN not in path.split(os.pathsep):
        path = VENV_BIN + os.pathsep + path
    return {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "HF_HOME": str(home / ".cache" / "huggingface"),
        "HF_HUB_DISABLE_XET": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_AUTHOR_NAME": "Test Author",
        "GIT_AUTHOR_EMAIL": "author@example.com",
        "GIT_COMMITTER_NAME": "Test Committer",
        "GIT_COMMITTER_EMAIL": "committer@example.com",
        "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z",
        "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z",
        "PATH": path,
    }


def git(*args: str, cwd: Path | str | None = None, env: dict[str, str] | None = None,
        check: bool = True, input: str | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run real ``git`` with captured text output; on failure the assertion shows stdout/stderr."""
    proc = subprocess.run(
        ["git", *args], cwd=cwd, env={**os.environ, **(env or {})}, input=input,
        capture_output=True, text=True, timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"git {' '.join(args)} exited {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
        )
    return proc


def sparse_file(path: Path, size: int, stamp: bytes = b"") -> Path:
    """Create a sparse file of ``size`` bytes with ``stamp`` written at a few offsets.

    The stamps make contents (and so oids) differ between tests while the file
    costs no disk; writing at the start, middle and end catches part-order bugs.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        fh.truncate(size)
        if stamp and size >= 3 * len(stamp):
            for off in (0, size // 2, size - len(stamp)):
                fh.seek(off)
                fh.write(stamp)
    return path


def api(base_url: str, method: str, path: str, body: dict | None = None, token: str | None = TOKEN) -> dict:
    """Call a JSON route of the local Hub (e.g. ``POST /api/repos/create``) and return its JSON."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"{base_url}{path}", data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=30) as resp:
        raw = resp.read()
    return json.loads(raw) if raw else {}


def create_repo(base_url: str, repo_id: str, repo_type: str = "model", token: str = TOKEN) -> str:
    """Create ``repo_id`` on the local Hub and return its git URL (without credentials)."""
    ns, name = repo_id.split("/")
    api(base_url, "POST", "/api/repos/create", {"name": name, "organization": ns, "type": repo_type}, token)
    prefix = {"model": "", "dataset": "datasets/", "space": "spaces/"}[repo_type]
    return f"{base_url}/{prefix}{repo_id}"


def authed(url: str, token: str = TOKEN, user: str = USER) -> str:
    """``url`` with ``user:token@`` so git and git-lfs authenticate without a helper."""
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{user}:{token}@{rest}"


def start_from_hub(work: Path, url: str, token: str = TOKEN) -> str:
    """Make the new (unborn) repo ``work`` start at the Hub repo's ``main``, as a clone would; return that commit.

    Repos on the Hub (and on ``git hf serve`` by default) start with an initial commit
    holding the default ``.gitattributes``, so a first push must build on it. Call this
    right after ``git init``: it checks the Hub's files out into ``work``.
    """
    git("fetch", "-q", authed(url, token), "main", cwd=work)
    git("reset", "-q", "--hard", "FETCH_HEAD", cwd=work)
    return git("rev-parse", "HEAD", cwd=work).stdout.strip()


def agent_processes(work: Path | str) -> list[psutil.Process]:
    """The git-hf-agent processes git-lfs started in ``work`` (or below it), e.g. to kill them like a crash."""
    found = []
    for proc in psutil.process_iter(["cmdline", "cwd"]):
        try:
            cmd = " ".join(proc.info["cmdline"] or [])
            if "git-hf-agent" in cmd and "python" in cmd and proc.info["cwd"] and str(work) in proc.info["cwd"]:
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found
