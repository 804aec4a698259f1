"""What ``git hf init`` does: make a repo (or the user's global config) push to the Hub well.

:func:`configure` plans every change first, then applies it (or not, for ``--dry-run``),
and returns one human sentence per change, so a second run returns ``[]``
("already configured"). Only keys it owns are touched:

- ``git lfs install`` (filters, and the pre-push hook in a repo);
- the agent: ``lfs.customtransfer.multipart.{path,args,concurrent,direction}``,
  replacing a ``huggingface-cli``/``hf lfs-enable-largefiles`` registration
  (whose command no longer exists) and git-lfs-ignored mixed-case spellings;
- downloads through the agent (unless ``--no-downloads``): ``direction=both`` plus the
  url aliases and the per-URL standalone key of :mod:`downloadsetup`, which match
  the download endpoint only (uploads keep batch + multipart);
- ``lfs.<endpoint>/.locksverify=false``: the Hub has no locking API; the
  trailing-slash URL form matches every repo below the endpoint (git-lfs
  ``config/url_config.go`` tries ``<host>/<path prefix>/`` and ``<host>/``);
- ``credential.<scheme://host>.helper``: an empty entry (drops helpers inherited
  for that host only, so a stale stored password cannot shadow the token) then
  ``git hf credential``; other hosts keep their helpers;
- ``hf.endpoint``: an endpoint other than huggingface.co is remembered, so every
  later command counts it as a Hub the token may go to (:func:`hubconf.may_receive_token`);
- the Hub's usual LFS patterns appended to ``.gitattributes`` when missing.

Details and rationale for each key: docs/configuration.md.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

from git_hf_agent import downloadsetup, hubconf
from git_hf_agent.errors import HfError
from git_hf_agent.gitconfig import GitConfig, Repo, find_repo, run_git

AGENT = "lfs.customtransfer.multipart"
AGENT_KEYS = ("path", "args", "concurrent", "direction")
# Commands whose `lfs-enable-largefiles` registered themselves as the multipart agent.
OLD_AGENT_COMMANDS = ("huggingface-cli", "hf", "transformers-cli")
OLD_AGENT_ARGS = "lfs-multipart-upload"
LFS_ATTRS = "filter=lfs diff=lfs merge=lfs -text"
# The Hub's default .gitattributes for new repos, plus formats common on the Hub since.
HUB_LFS_PATTERNS = (
    "*.7z", "*.arrow", "*.bin", "*.bz2", "*.ckpt", "*.ftz", "*.gguf", "*.gz", "*.h5", "*.joblib",
    "*.lfs.*", "*.lz4", "*.mlmodel", "*.model", "*.msgpack", "*.npy", "*.npz", "*.onnx", "*.ot",
    "*.parquet", "*.pb", "*.pickle", "*.pkl", "*.pt", "*.pth", "*.rar", "*.safetensors",
    "saved_model/**/*", "*.tar", "*.tar.*", "*.tflite", "*.tgz", "*.wasm", "*.xz", "*.zip",
    "*.zst", "*tfevents*",
)
GITATTRIBUTES_HEADER = "# Large-file patterns the Hub stores with LFS (added by `git hf init`)"


@dataclass(frozen=True)
class Change:
    """One planned change: what to tell the user, and how to make it."""

    description: str
    apply: Callable[[], None]


def configure(path: Path | None = None, *, global_: bool = False, endpoint: str | None = None,
              parallel: int | None = None, dry_run: bool = False, gitattributes: bool = True,
              downloads: bool = True) -> list[str]:
    """Configure ``path``'s repo (or the global config) for the Hub; return the changes (made or planned).

    An empty list means everything was already configured. ``gitattributes=False``
    leaves ``.gitattributes`` alone (``git hf clone`` must not dirty a fresh checkout).
    ``downloads=False`` (``--no-downloads``) keeps LFS downloads with git-lfs and removes
    the keys an earlier run wrote to route them through the agent (:mod:`downloadsetup`).
    Raises HfError outside a repository without ``global_``, or when git-lfs or the
    agent is not installed.
    """
    if parallel is not None and parallel < 1:
        raise HfError(f"--parallel must be at least 1, not {parallel}", "pass --parallel 10 (the default) or another positive number")
    base = hubconf.endpoint(endpoint)
    hubconf.check_endpoint(base)
    repo = None if global_ else _require_repo(path)
    config = GitConfig("global") if global_ else GitConfig("local", cwd=repo.worktree or repo.git_dir)
    plan = [
        *lfs_install_changes(config, repo),
        *agent_changes(config, parallel, downloads),
        *download_changes(config, base, downloads),
        *locksverify_changes(config, base),
        *credential_changes(config, base),
        *endpoint_changes(config, base),
        *(gitattributes_changes(repo.worktree) if gitattributes and repo and repo.worktree else []),
    ]
    if not dry_run:
        for change in plan:
            change.apply()
    return [change.description for change in plan]


def _require_repo(path: Path | None) -> Repo:
    repo = find_repo(path)
    if repo is None:
        where = Path(path or ".").resolve()
        raise HfError(
            f"{where} is not inside a git repository",
            "run it inside a clone (`git hf clone REPO_ID`), `git init` first, or use `git hf init --global`",
        )
    return repo


def installed_command(name: str) -> str:
    """Absolute path of console script ``name``: next to this Python first (same install), else on PATH."""
    sibling = Path(os.path.abspath(os.path.dirname(sys.executable))) / name
    if sibling.is_file() and os.access(sibling, os.X_OK):
        return str(sibling)
    found = shutil.which(name)
    if found:
        return os.path.abspath(found)
    raise HfError(f"{name} is not installed", "run ./install.sh (or `pip install git-hf-agent`) and retry")


# --- git lfs install -----------------------------------------------------------------------

def lfs_install_changes(config: GitConfig, repo: Repo | None) -> list[Change]:
    """``git lfs install`` when its filters (or, in a repo, its pre-push hook) are missing."""
    if shutil.which("git-lfs") is None:
        raise HfError("git-lfs is not installed", "install it (`apt-get install git-lfs`, `brew install git-lfs`) or run ./install.sh")
    merged = GitConfig(None, cwd=config.cwd)
    filters_ok = bool(merged.get("filter.lfs.process")) and merged.get("filter.lfs.required") == "true"
    if repo is None:
        if filters_ok and config.get("filter.lfs.process"):
            return []
        return [Change("run `git lfs install` (global git-lfs filters)", lambda: _lfs_install("--skip-repo"))]
    if filters_ok and has_lfs_hook(repo):
        return []
    return [Change("run `git lfs install --local` (git-lfs filters and pre-push hook)",
                   lambda: _lfs_install("--local", cwd=repo.worktree or repo.git_dir))]


def has_lfs_hook(repo: Repo) -> bool:
    try:
        return "git lfs pre-push" in repo.git_path("hooks/pre-push").read_text(errors="replace")
    except OSError:
        return False


def _lfs_install(flag: str, cwd: Path | None = None) -> None:
    proc = run_git("lfs", "install", flag, cwd=cwd, check=False)
    if proc.returncode != 0:
        raise HfError(
            f"`git lfs install {flag}` failed: {(proc.stderr or proc.stdout).strip()}",
            "if a pre-push hook of yours is in the way, add `git lfs pre-push \"$@\"` to it "
            "(see `git lfs update --manual`), then run `git hf init` again",
        )


# --- the agent -----------------------------------------------------------------------------

def agent_changes(config: GitConfig, parallel: int | None, downloads: bool = True) -> list[Change]:
    """Register git-hf-agent as the ``multipart`` custom transfer, replacing any other agent."""
    # Written as is: git-lfs 3.x shell-quotes the path itself (`sh -c "'<path>' <args>"`).
    path = installed_command("git-hf-agent")
    current = {key: config.get(f"{AGENT}.{key}") for key in AGENT_KEYS}
    # Ours, possibly from an older install location: keep the user's agent options.
    ours = os.path.basename(current["path"] or "") == "git-hf-agent"
    args = (current["args"] if ours else None) or ""
    if config.scope == "local" and current["path"] is None:
        # A repo's first init keeps the agent options set globally for our agent (`git hf init --global
        # --parallel 16`): the args written here would otherwise shadow them.
        merged = GitConfig(None, cwd=config.cwd)
        if os.path.basename(merged.get(f"{AGENT}.path") or "") == "git-hf-agent":
            args = merged.get(f"{AGENT}.args") or ""
    if parallel is not None:
        args = with_parallel(args, parallel)
    # args is always written, "" for none: otherwise another scope's args (say a global
    # `lfs-multipart-upload`) would be passed to this scope's agent.
    wanted = {"path": path, "args": args, "concurrent": "true", "direction": "both" if downloads else "upload"}
    changes = [_miscased_agent_change(config)] if miscased_agent_keys(config) else []
    if current == wanted:
        return changes
    if current["path"] and not ours:
        changes.append(_replacement_notice(current))
    for key, value in wanted.items():
        if current[key] != value:
            changes.append(_set_change(config, f"{AGENT}.{key}", value))
    return changes


def download_changes(config: GitConfig, base: str, downloads: bool) -> list[Change]:
    """Route LFS downloads from ``base`` through the agent (standalone, download endpoint only), or undo it."""
    if downloads:
        return [_set_change(config, key, value) if key.endswith("standalonetransferagent")
                else Change(f"add {key}={value}", lambda k=key, v=value: config.add(k, v))
                for key, value in downloadsetup.missing(config, base)]
    return [Change(f"remove {key}={value} (downloads stay with git-lfs)",
                   lambda k=key, v=value: downloadsetup.remove(config, k, v))
            for key, value in downloadsetup.present(config, base)]


def with_parallel(args: str | None, parallel: int) -> str:
    """``args`` with its ``--parallel`` value set to ``parallel``; other agent options are kept."""
    try:
        words = shlex.split(args or "")
    except ValueError:  # unbalanced quotes written by hand: keep the words as they are
        words = (args or "").split()
    kept, skip = [], False
    for word in words:
        if skip:
            skip = False
        elif word == "--parallel":
            skip = True
        elif not word.startswith("--parallel="):
            kept.append(word)
    return shlex.join(["--parallel", str(parallel), *kept])


def _replacement_notice(current: dict[str, str | None]) -> Change:
    """Say what is replaced; huggingface-cli's registration gets named explicitly."""
    old = f"path={current['path']}" + (f", args={current['args']}" if current["args"] else "")
    if is_old_hf_agent(current["path"], current["args"]):
        text = f"replace the huggingface-cli/hf multipart agent ({old}; that command no longer exists) with git-hf-agent"
    else:
        text = f"replace the multipart agent {old} with git-hf-agent"
    return Change(text, lambda: None)


def is_old_hf_agent(path: str | None, args: str | None) -> bool:
    """True for what ``huggingface-cli``/``hf lfs-enable-largefiles`` wrote (any install location)."""
    command = os.path.basename(path or "").removesuffix(".exe")
    return command in OLD_AGENT_COMMANDS or OLD_AGENT_ARGS in (args or "")


def miscased_agent_keys(config: GitConfig) -> list[str]:
    """Agent keys git-lfs ignores because the subsection is not spelled ``customtransfer.multipart``."""
    prefix = f"{AGENT}."
    return [n for n in config.names() if n.lower().startswith(prefix) and not n.startswith(prefix)]


def _miscased_agent_change(config: GitConfig) -> Change:
    keys = miscased_agent_keys(config)

    def apply() -> None:
        for key in keys:
            config.unset(key)

    return Change(f"remove {', '.join(keys)} (git-lfs only reads the lower-case spelling)", apply)


def _set_change(config: GitConfig, key: str, value: str) -> Change:
    shown = value if value else '"" (empty)'
    return Change(f"set {key}={shown}", lambda: config.set(key, value))


# --- locking and credentials -----------------------------------------------------------------

def locksverify_key(base: str) -> str:
    """``lfs.<endpoint>/.locksverify``: git-lfs matches it for every repo below the endpoint."""
    return f"lfs.{base.rstrip('/')}/.locksverify"


def locksverify_changes(config: GitConfig, base: str) -> list[Change]:
    key = locksverify_key(base)
    return [] if config.get(key) == "false" else [_set_change(config, key, "false")]


def credential_url(base: str) -> str:
    """``scheme://host[:port]`` of the endpoint: git matches credential contexts on host, not path."""
    parts = urlsplit(base)
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1].lower()}"


def credential_helper(base: str) -> str:
    """The helper command git runs (it appends get/store/erase): ``git hf credential`` for this endpoint."""
    command = installed_command("git-hf")
    return f"!{shlex.quote(command)} credential --endpoint {shlex.quote(credential_url(base))}"


def credential_changes(config: GitConfig, base: str) -> list[Change]:
    """The helper list for the Hub host: reset inherited helpers, then ``git hf credential``."""
    url = credential_url(base)
    key = f"credential.{url}.helper"
    wanted = ["", credential_helper(base)]
    current = config.get_all(key)
    if current == wanted:
        return []

    def apply() -> None:
        config.unset(key)
        for value in wanted:
            config.add(key, value)

    replaced = [v for v in current if v and v != wanted[1]]
    note = f" (replacing {', '.join(replaced)})" if replaced else ""
    return [Change(f"use `git hf credential` as the only credential helper for {url}{note}", apply)]


def endpoint_changes(config: GitConfig, base: str) -> list[Change]:
    """Remember a Hub endpoint other than huggingface.co as ``hf.endpoint`` (multi-valued)."""
    known = [hubconf.DEFAULT_ENDPOINT, *config.get_all(hubconf.ENDPOINT_KEY)]
    if any(hubconf.same_origin(base, other) for other in known):
        return []
    return [Change(f"add {hubconf.ENDPOINT_KEY}={base} (a Hub endpoint your token may be sent to)",
                   lambda: config.add(hubconf.ENDPOINT_KEY, base))]


# --- .gitattributes --------------------------------------------------------------------------

def gitattributes_changes(worktree: Path) -> list[Change]:
    """Append the Hub's LFS patterns missing from ``.gitattributes``; existing lines are never touched."""
    path = worktree / ".gitattributes"
    refuse_symlinked_gitattributes(path, "git hf init")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = ""
    except (OSError, UnicodeDecodeError) as exc:
        raise HfError(f"cannot read {path}: {exc}", "fix or remove that file, then run `git hf init` again") from exc
    present = {line.split()[0] for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")}
    missing = [p for p in HUB_LFS_PATTERNS if p not in present]
    if not missing:
        return []

    def apply() -> None:
        lines = ([GITATTRIBUTES_HEADER] if GITATTRIBUTES_HEADER not in text else [])
        lines += [f"{pattern} {LFS_ATTRS}" for pattern in missing]
        sep = "" if not text or text.endswith("\n") else "\n"
        append_no_follow(path, (sep + "\n".join(lines) + "\n").encode("utf-8"))

    shown = ", ".join(missing[:6]) + (f" and {len(missing) - 6} more" if len(missing) > 6 else "")
    return [Change(f"add {len(missing)} LFS patterns to .gitattributes ({shown})", apply)]


def refuse_symlinked_gitattributes(path: Path, command: str) -> None:
    """Stop when ``.gitattributes`` is a symlink: git ignores such a file, and writing to it
    would change a file outside the repository (issue 8)."""
    if path.is_symlink():
        raise HfError(f"{path} is a symbolic link; git does not read a symlinked .gitattributes, "
                      f"and `{command}` never writes through one (it would change a file outside the repository)",
                      f"replace it with a regular file (`git rm --cached .gitattributes`, copy the target's lines "
                      f"into a new .gitattributes), then run `{command}` again")


def append_no_follow(path: Path, data: bytes) -> None:
    """Append ``data`` to ``path`` (created if missing), refusing to follow a symlink (O_NOFOLLOW)."""
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags, 0o666)
    except OSError as exc:
        raise HfError(f"cannot write {path}: {exc}", "make it a regular, writable file, then retry") from None
    with os.fdopen(fd, "ab") as fh:
        fh.write(data)
