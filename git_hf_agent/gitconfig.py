"""Every git-config read and write of ``git hf``, as ``git config`` subprocesses.

Why subprocesses and not pygit2: git itself is the authority on which files are
read (``--local``, ``--global``, ``includeIf``, ``GIT_CONFIG_*``), on URL-matched
keys (``credential.<url>.helper``) and on locking the config file while another
git writes it. One :class:`GitConfig` object is bound to one scope (``local``,
``global`` or ``None`` = git's merged view) and one working directory.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from git_hf_agent.errors import HfError
from git_hf_agent.redact import redact_text

SCOPES = ("local", "global", None)


def run_git(*args: str, cwd: Path | str | None = None, check: bool = True,
            env: dict[str, str] | None = None, input: str | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``git ARGS`` with captured text output; a failure becomes an :class:`HfError`."""
    try:
        proc = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, input=input,
            env={**os.environ, **(env or {})}, timeout=timeout,
        )
    except FileNotFoundError as exc:
        raise HfError("git is not installed (or not on PATH)", "install git (e.g. `apt-get install git`) and retry") from exc
    if check and proc.returncode != 0:
        detail = redact_text((proc.stderr or proc.stdout).strip())
        raise HfError(redact_text(f"`git {' '.join(args)}` failed: ") + detail, "fix what git reports, then run the command again")
    return proc


@dataclass(frozen=True)
class Repo:
    """Where a repository lives: its git dir and its work tree (None for a bare repo)."""

    git_dir: Path
    worktree: Path | None

    def git_path(self, name: str) -> Path:
        """``git rev-parse --git-path NAME``: hooks, lfs dirs, honouring core.hooksPath."""
        out = run_git("rev-parse", "--git-path", name, cwd=self.worktree or self.git_dir).stdout.strip()
        path = Path(out)
        return path if path.is_absolute() else (self.worktree or self.git_dir) / path


def find_repo(path: Path | str | None = None) -> Repo | None:
    """The repository containing ``path`` (default: the current directory), or None outside one."""
    where = Path(path or ".").resolve()
    if not where.is_dir():
        return None
    proc = run_git("rev-parse", "--absolute-git-dir", "--is-bare-repository", cwd=where, check=False)
    if proc.returncode != 0:
        return None
    git_dir, bare = proc.stdout.splitlines()[:2]
    if bare.strip() == "true":
        return Repo(Path(git_dir), None)
    top = run_git("rev-parse", "--show-toplevel", cwd=where).stdout.strip()
    return Repo(Path(git_dir), Path(top))


@dataclass(frozen=True)
class GitConfig:
    """Read and write git config in one scope (``local``/``global``; None = merged view, read-only)."""

    scope: str | None = None
    cwd: Path | None = None

    def __post_init__(self) -> None:
        if self.scope not in SCOPES:
            raise ValueError(f"scope must be one of {SCOPES}, not {self.scope!r}")

    def _git(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        scope = [f"--{self.scope}"] if self.scope else []
        return run_git("config", *scope, *args, cwd=self.cwd, check=check)

    def get_all(self, key: str) -> list[str]:
        """Every value of ``key`` in this scope, in file order (empty list when unset)."""
        proc = self._git("--get-all", key, check=False)
        if proc.returncode == 1:
            return []
        if proc.returncode != 0:
            raise HfError(f"cannot read git config {key}: {proc.stderr.strip()}", "fix the config file git names above")
        return proc.stdout.split("\n")[:-1]

    def get(self, key: str) -> str | None:
        """The last value of ``key`` (the one git uses), or None when unset."""
        values = self.get_all(key)
        return values[-1] if values else None

    def get_urlmatch(self, key: str, url: str) -> str | None:
        """The value git would use for ``key`` (e.g. ``credential.helper``) when talking to ``url``."""
        proc = self._git("--get-urlmatch", key, url, check=False)
        return proc.stdout.rstrip("\n") if proc.returncode == 0 else None

    def names(self) -> list[str]:
        """Every key set in this scope, as git spells it (section and name lower-case)."""
        proc = self._git("--list", "--name-only", check=False)
        return [line for line in proc.stdout.splitlines() if line] if proc.returncode == 0 else []

    def set(self, key: str, value: str) -> None:
        """Set ``key`` to one ``value``, replacing every previous value in this scope."""
        self._require_scope()
        self._git("--replace-all", key, value)

    def add(self, key: str, value: str) -> None:
        """Append one more value to a multi-valued ``key`` (e.g. a credential helper)."""
        self._require_scope()
        self._git("--add", key, value)

    def unset(self, key: str) -> None:
        """Remove every value of ``key`` in this scope; nothing to remove is fine."""
        self._require_scope()
        proc = self._git("--unset-all", key, check=False)
        if proc.returncode not in (0, 5):  # 5: the key was not set
            raise HfError(f"cannot unset git config {key}: {proc.stderr.strip()}", "fix the config file git names above")

    def _require_scope(self) -> None:
        if self.scope is None:
            raise ValueError("writes need an explicit scope (local or global)")
