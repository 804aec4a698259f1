"""``git hf clone REPO_ID|URL [DIR]``: clone a Hub repo, configure it, then fetch the LFS files wanted.

The clone itself always runs with ``GIT_LFS_SKIP_SMUDGE=1`` (the checkout holds
pointers, whatever the user's global git-lfs setup). Then ``git hf init`` runs on
the new repo (all but the ``.gitattributes`` additions, so a fresh clone stays
clean), then every LFS file of HEAD is fetched straight into the object store by
the agent's engine and written into the work tree and git's index
(:mod:`git_hf_agent.cli.lfsfetch`: no second hash by git-lfs); with ``--include``
``git lfs pull`` fetches only the files matching (remembered as
``lfs.fetchinclude``); with ``--lazy`` none (remembered by installing git-lfs with
``--skip-smudge``). Listing files (``git ls-files``) never needs their content.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit

import click

from git_hf_agent import diskspace, hubconf
from git_hf_agent.agent.ahead import filtered
from git_hf_agent.cli.create import parse_repo_id
from git_hf_agent.cli.lfsfetch import check_out, fetch_head_objects
from git_hf_agent.errors import HfError
from git_hf_agent.gitconfig import GitConfig, run_git
from git_hf_agent.redact import redact_url
from git_hf_agent.setup import configure, credential_helper, credential_url


def resolve(source: str, endpoint: str | None) -> tuple[str, str]:
    """(git URL, Hub endpoint) for a repo id or a URL.

    A URL must be on a Hub endpoint: the ``--endpoint`` given, else one of the configured
    ones (:func:`hubconf.configured_endpoints`). Any other URL is refused with the fix, never
    taken as a new endpoint: that would hand the token to whatever host it names (issue 8).
    """
    if "://" not in source and not (source.startswith("git@") and ":" in source):
        base = hubconf.endpoint(endpoint)
        return parse_repo_id(source, None).git_url(base), base
    if urlsplit(source).scheme not in ("http", "https"):
        raise HfError(f"cannot clone {redact_url(source)!r}: only http(s) Hub URLs and repo ids are supported",
                      "pass the https URL or the repo id (NAMESPACE/NAME)")
    candidates = [endpoint] if endpoint else hubconf.configured_endpoints()
    for base in candidates:
        if hubconf.same_origin(source, base):
            return source, base.rstrip("/")
    shown = redact_url(source)
    origin = _origin_text(source)
    if endpoint:
        raise HfError(f"{shown} is not on the endpoint you named ({redact_url(endpoint)})",
                      f"pass the endpoint the URL is on (`--endpoint {origin}`) or a repo id")
    raise HfError(f"{shown} is not on a configured Hub endpoint ({', '.join(map(redact_url, candidates))}), "
                  "so git hf will not send your Hub token there",
                  f"if {origin} is a Hub, name it: `git hf clone --endpoint {origin} {shown}` (or set HF_ENDPOINT); "
                  f"to clone a repo that is not on a Hub, use plain `git clone`")


def _origin_text(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}"


def default_dir(url: str) -> Path:
    """git's default directory: the URL's last path component without ``.git``."""
    name = urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]
    return Path(name.removesuffix(".git") or "repo")


def _run(args: list[str], step: str, fix: str, cwd: Path | None = None, env: dict | None = None) -> None:
    """Run a git command with its output shown to the user (progress included); HfError on failure."""
    proc = subprocess.run(["git", *args], cwd=cwd, env={**os.environ, **(env or {})})
    if proc.returncode != 0:
        raise HfError(f"{step} failed (git exited {proc.returncode}; its message is above)", fix)


def _has_commits(repo: Path) -> bool:
    return subprocess.run(["git", "rev-parse", "--verify", "-q", "HEAD"], cwd=repo, capture_output=True).returncode == 0


@click.command("clone")
@click.argument("source", metavar="REPO_ID|URL")
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--lazy", is_flag=True, help="Download no LFS content: large files stay pointers.")
@click.option("--include", "includes", multiple=True, metavar="PATTERN",
              help="Download only LFS files matching PATTERN (repeatable, or comma-separated).")
@click.option("--endpoint", metavar="URL", help="Hub URL (default: $HF_ENDPOINT or https://huggingface.co).")
def cli(source: str, directory: Path | None, lazy: bool, includes: tuple[str, ...], endpoint: str | None) -> None:
    """Clone a Hub repo and configure it for pushing (`git hf init`)."""
    url, base = resolve(source, endpoint)
    hubconf.check_endpoint(base)  # before anything runs: no credentials, query or odd host in an endpoint
    shown = redact_url(url)  # a URL the user typed may carry user:token@
    target = directory or default_dir(url)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise HfError(f"{target} already exists and is not an empty directory", "pass another DIR")
    key = f"credential.{credential_url(base)}.helper"
    _run(["-c", f"{key}=", "-c", f"{key}={credential_helper(base)}", "clone", url, str(target)],
         "git clone", "check the repo id, the endpoint and your access (`git hf doctor`)",
         env={"GIT_LFS_SKIP_SMUDGE": "1"})
    patterns = ",".join(p for spec in includes for p in spec.split(",") if p)
    remember_selection(target, lazy, patterns)
    for change in configure(target, endpoint=base, gitattributes=False):
        click.echo(f"init: {change}", err=True)
    if not _has_commits(target):
        click.echo(f"cloned {shown} into {target} (empty repository)")
        return
    if lazy and not patterns:
        click.echo(f"cloned {shown} into {target} lazily: LFS files stay pointers, also on later checkouts and pulls. "
                   "Fetch some with `git lfs pull --include PATTERN`; all with `git lfs install --local --force && git lfs pull`.")
        return
    diskspace.check_clone(target, patterns)  # room for the LFS files before downloading them (issue 10 item 6)
    if patterns or filtered(str(target)):   # git-lfs's own path matching decides (--include, lfs.fetchexclude, ...)
        _run(["lfs", "pull"], "downloading LFS files (git lfs pull)",
             f"the clone is in {target}; run `git lfs pull` there to retry the download", cwd=target)
    else:
        ready: dict[str, Path] = {}   # big objects' work tree copies, made while they download
        try:
            with _hangup_as_interrupt():
                fetch_head_objects(target, lambda line: click.echo(line, err=True), ready=ready)
                check_out(target, ready)
        finally:
            for leftover in list(ready.values()):   # a copy: download threads may still add or drop one
                leftover.unlink(missing_ok=True)
    if patterns:
        click.echo(f"cloned {shown} into {target} with the LFS files matching {patterns} (kept as lfs.fetchinclude, so "
                   "later pulls fetch only those; `git config --unset lfs.fetchinclude && git lfs pull` fetches the rest)")
    else:
        click.echo(f"cloned {shown} into {target} with all LFS files")


@contextmanager
def _hangup_as_interrupt() -> Iterator[None]:
    """SIGTERM and SIGHUP (a closed terminal or ssh session) stop the download as Ctrl-C does, so git's
    ``index.lock``, temp files and unused work tree copies are removed on the way out instead of being
    left to block every later git command in the clone."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, _frame):
        raise KeyboardInterrupt(signal.Signals(signum).name)

    before = {signum: signal.signal(signum, interrupt) for signum in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler)


def remember_selection(repo: Path, lazy: bool, patterns: str) -> None:
    """Make the choice last beyond the clone: --include becomes ``lfs.fetchinclude``
    (git-lfs's own partial-fetch setting); --lazy installs git-lfs with ``--skip-smudge``
    so checkouts and pulls keep writing pointers. Done before ``configure``, which then
    finds git-lfs installed and leaves it so."""
    if patterns:
        GitConfig("local", cwd=repo).set("lfs.fetchinclude", patterns)
    elif lazy:
        run_git("lfs", "install", "--local", "--skip-smudge", cwd=repo)
