"""``git hf doctor``: diagnose everything a push to the Hub depends on, each problem with its fix.

Checks, in the order a push needs them: git, git-lfs and its hooks, the agent's
registration (including a leftover ``huggingface-cli`` one) and whether it starts
and answers git-lfs's init line, the credential helper (asked through real
``git credential fill``), the token (masked), the endpoint and ``whoami``.
The token goes to ``whoami`` only when the endpoint may receive it
(:func:`hubconf.may_receive_token`, an ``--endpoint`` given here counting as
named); an origin on any other host is reported as "not a configured Hub",
never asked who we are (issue 8). Exit 1 when any check fails.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import click

from git_hf_agent import downloadsetup, hubapi, hubconf
from git_hf_agent.agent import state
from git_hf_agent.apifailure import ApiFailure
from git_hf_agent.errors import HfError
from git_hf_agent.gitconfig import GitConfig, Repo, find_repo, run_git
from git_hf_agent.redact import redact_url
from git_hf_agent.setup import AGENT, has_lfs_hook, is_old_hf_agent, miscased_agent_keys
from git_hf_agent.units import format_size

INIT_LINE = {"event": "init", "operation": "upload", "remote": "origin", "concurrent": True, "concurrenttransfers": 1}
HELPER_MARK = " credential --endpoint "  # in the helper command `git hf init` writes
INIT_FIX = "run `git hf init` (or `git hf init --global`)"


@dataclass(frozen=True)
class Check:
    """One line of the report: ``ok`` False is a problem and carries a fix; None means skipped."""

    name: str
    ok: bool | None
    detail: str
    fix: str | None = None


def doctor_endpoint(explicit: str | None, repo: Repo | None) -> str:
    """The Hub to check: --endpoint, else HF_ENDPOINT, else the origin remote's host (e.g. a
    local Hub), else the endpoint `git hf init` registered its credential helper for, else huggingface.co."""
    if explicit or os.environ.get("HF_ENDPOINT"):
        return hubconf.endpoint(explicit)
    config = GitConfig(None, cwd=(repo.worktree or repo.git_dir) if repo else None)
    parts = urlsplit(config.get("remote.origin.url") or "") if repo else urlsplit("")
    if parts.scheme in ("http", "https") and parts.netloc:
        return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}"
    for name in config.names():
        if name.startswith("credential.") and name.endswith(".helper") and HELPER_MARK in (config.get(name) or ""):
            return name[len("credential."):-len(".helper")]
    return hubconf.endpoint()


def check_tools() -> list[Check]:
    checks = []
    for name, args, fix in (
        ("git", ("--version",), "install git"),
        ("git-lfs", ("lfs", "version"), "install git-lfs (`apt-get install git-lfs`, `brew install git-lfs`) or run ./install.sh"),
    ):
        proc = run_git(*args, check=False)
        ok = proc.returncode == 0
        checks.append(Check(name, ok, proc.stdout.strip() if ok else "not found", None if ok else fix))
    return checks


def check_lfs_install(config: GitConfig, repo: Repo | None) -> Check:
    if not config.get("filter.lfs.process"):
        return Check("lfs filters", False, "git-lfs filters are not configured", INIT_FIX)
    if repo is not None and not has_lfs_hook(repo):
        return Check("lfs filters", False, "the repo has no git-lfs pre-push hook: LFS objects would not be pushed", INIT_FIX)
    return Check("lfs filters", True, "installed" + (" (filters and pre-push hook)" if repo else ""))


def check_old_hf_config(cwd: Path | None) -> Check:
    """A ``huggingface-cli``/``hf lfs-enable-largefiles`` registration in any scope, even one overridden."""
    found = []
    for scope, fix in (("local", "`git hf init`"), ("global", "`git hf init --global`")):
        if scope == "local" and cwd is None:
            continue
        config = GitConfig(scope, cwd=cwd)
        path, args = config.get(f"{AGENT}.path"), config.get(f"{AGENT}.args")
        if path and is_old_hf_agent(path, args):
            found.append((scope, path, fix))
    if not found:
        return Check("old hf config", True, "no huggingface-cli/hf lfs-multipart-upload registration")
    where = "; ".join(f"{scope} config: path={path}" for scope, path, _ in found)
    return Check("old hf config", False, f"huggingface-cli/hf registration (that command was removed) in {where}",
                 " and ".join(f"run {fix}" for _, _, fix in found) + " to replace it")


def check_agent_config(config: GitConfig) -> Check:
    path, args = config.get(f"{AGENT}.path"), config.get(f"{AGENT}.args")
    if miscased_agent_keys(config):
        return Check("agent", False, f"misspelled keys git-lfs ignores: {', '.join(miscased_agent_keys(config))}", INIT_FIX)
    if not path:
        return Check("agent", False, "no multipart agent registered: files over 5 GB cannot be pushed", INIT_FIX)
    if is_old_hf_agent(path, args):
        return Check("agent", False, f"registered for huggingface-cli (path={path}, args={args}); that command was removed",
                     "run `git hf init` to replace it with git-hf-agent")
    if not (os.path.isabs(path) and os.path.isfile(path) and os.access(path, os.X_OK)):
        return Check("agent", False, f"{path} is not an executable file", INIT_FIX)
    if config.get(f"{AGENT}.concurrent") == "false" or config.get(f"{AGENT}.direction") not in (None, "upload", "both"):
        return Check("agent", False, "concurrent/direction settings keep git-lfs from using it for uploads", INIT_FIX)
    return Check("agent", True, f"{path} {args or ''}".strip())


def check_downloads(config: GitConfig, base: str, repo: Repo | None) -> Check:
    """Do plain clone/pull of ``base`` repos download through the agent (docs/agent.md "Downloads")?"""
    missing = downloadsetup.missing(config, base)
    direction = config.get(f"{AGENT}.direction")
    if len(missing) == len(downloadsetup.wanted_keys(base)):
        return Check("downloads", None, "off: clone and pull use git-lfs's own one-connection downloads",
                     "run `git hf init` (without --no-downloads) for parallel, resumable downloads")
    if missing or direction not in (None, "both"):
        shown = ", ".join(key for key, _ in missing) or f"{AGENT}.direction={direction}"
        return Check("downloads", False, f"half configured (missing or wrong: {shown}): downloads may fail", INIT_FIX)
    plain, _ = downloadsetup.prefixes(base)
    url = config.get("remote.origin.url") if repo else None
    if url and urlsplit(url).scheme in ("http", "https") and not url.startswith(plain):
        return Check("downloads", None, f"origin ({redact_url(url)}) does not start with {plain}, so its downloads "
                     "stay with git-lfs", f"`git remote set-url origin {plain}NAMESPACE/NAME` (no user name or token in it)")
    return Check("downloads", True, f"clone/pull of {plain}... go through the agent (parallel ranges, resumable); "
                 "pushes keep the batch API + multipart")


def check_resume_state(cwd: Path) -> Check:
    """How much resume state unfinished pushes and pulls left (docs/agent.md "Resume"); never a failure."""
    directory = state.lfs_dir(str(cwd)) / state.NAME
    files, used = state.usage(directory.parent)
    if not files:
        return Check("resume state", True, "none (no unfinished push or pull)")
    return Check("resume state", True, (
        f"{files} file{'s' if files > 1 else ''}, {format_size(used)} on disk in {directory} (unfinished pushes/pulls: "
        f"the next run continues them; removed once done, or after {state.STALE_DAYS} days untouched). "
        f"To drop it now (those objects then start from zero): rm -rf {shlex.quote(str(directory))}"))


def check_agent_starts(path: str, args: str | None, cwd: Path) -> Check:
    """Start the agent as git-lfs 3.x does (``sh -c "'<path>' <args>"``: the path quoted,
    the args split by the shell), send git-lfs's init line, expect ``{}``, then ``terminate``."""
    started = time.monotonic()
    try:
        proc = subprocess.Popen(["sh", "-c", f"{shlex.quote(path)} {args or ''}"], cwd=cwd, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    except OSError as exc:
        return Check("agent starts", False, f"cannot start {path}: {exc}", INIT_FIX)
    reply: list[str] = []
    reader = threading.Thread(target=lambda: reply.append(proc.stdout.readline()), daemon=True)
    reader.start()  # before writing: an agent that exits at once must still have its output read
    try:
        _send(proc, INIT_LINE)
        reader.join(15)
        _send(proc, {"event": "terminate"})
        proc.stdin.close()
    except OSError:  # the agent exited early (broken pipe); its output and stderr tell why
        reader.join(15)
    finally:
        _reap(proc)
    elapsed = (time.monotonic() - started) * 1000
    line = reply[0].strip() if reply else ""
    if line == "{}" or _json(line) == {}:
        return Check("agent starts", True, f"answered the init line with {{}} in {elapsed:.0f} ms")
    stderr_lines = (proc.stderr.read() if proc.stderr else "").strip().splitlines()
    stderr = " | ".join(stderr_lines[-2:])[-400:] or "(empty)"
    if line:
        detail = f"answered {line[:200]!r} instead of {{}}"
    elif reply:
        detail = f"exited with code {proc.returncode} without answering"
    else:
        detail = "no answer to the init line within 15 s"
    return Check("agent starts", False, f"{detail}; stderr: {stderr}",
                 "reinstall (./install.sh) and run `git hf init`; re-run with GIT_TRACE=1 git push for details")


def _send(proc: subprocess.Popen, message: dict) -> None:
    proc.stdin.write(json.dumps(message) + "\n")
    proc.stdin.flush()


def _reap(proc: subprocess.Popen) -> None:
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _json(line: str):
    try:
        return json.loads(line)
    except ValueError:
        return None


def check_credentials(base: str, cwd: Path | None, token: str | None) -> Check:
    """Ask real ``git credential fill`` for the Hub host and compare the password with the token."""
    parts = urlsplit(base)
    proc = run_git("-c", "core.askPass=", "credential", "fill", cwd=cwd, check=False,
                   input=f"protocol={parts.scheme}\nhost={parts.netloc}\n\n",
                   env={"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "", "SSH_ASKPASS": ""}, timeout=30)
    answer = dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)
    password = answer.get("password")
    host = parts.netloc
    if not password:
        if not token:
            return Check("credential helper", None, "not checked: no token to answer with (see token)")
        return Check("credential helper", False, f"no credential helper answers for {host}", INIT_FIX)
    if token and password != token:
        return Check("credential helper", False, f"a credential helper answers for {host} with a password that is not the Hub token",
                     "run `git hf init` so `git hf credential` is the only helper for the Hub host")
    return Check("credential helper", True, f"answers for {host} with the Hub token")


def check_token(token: str | None) -> Check:
    if not token:
        return Check("token", False, f"none in HF_TOKEN, HUGGING_FACE_HUB_TOKEN or {hubconf.token_path()}", hubapi.LOGIN_FIX)
    return Check("token", True, hubconf.mask(token))


def check_hub_endpoint(base: str, allowed: bool) -> Check:
    """Is ``base`` a Hub endpoint the token may go to? If not, say how to make it one."""
    shown = redact_url(base)
    if allowed:
        return Check("hub endpoint", True, f"{shown} is a configured Hub endpoint (the token may be sent there)")
    return Check("hub endpoint", False, f"{shown} is not a configured Hub endpoint, so the Hub token is not sent there",
                 f"if it is a Hub, run `git hf init --endpoint {shown}` (remembered as hf.endpoint) or set HF_ENDPOINT; "
                 "otherwise point origin at the Hub (`git remote set-url origin https://huggingface.co/NAMESPACE/NAME`)")


def check_origin(config: GitConfig, base: str, endpoints: list[str]) -> list[Check]:
    """When the endpoint checked is not origin's host: is origin on a configured Hub at all?"""
    url = config.get("remote.origin.url") or ""
    if urlsplit(url).scheme not in ("http", "https") or hubconf.same_origin(url, base):
        return []
    if hubconf.may_receive_token(url, endpoints):
        return [Check("origin", True, f"{redact_url(url)} is on a configured Hub endpoint")]
    parts = urlsplit(url)
    host = f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}"
    return [Check("origin", False, f"{redact_url(url)} is not on a configured Hub endpoint: pushes there get no Hub token",
                  f"if {host} is a Hub, run `git hf init --endpoint {host}`; otherwise point origin at the Hub "
                  "(`git remote set-url origin https://huggingface.co/NAMESPACE/NAME`)")]


def check_endpoint(base: str, token: str | None) -> list[Check]:
    """Reachability (an anonymous request), then ``whoami`` with ``token`` if there is one to send."""
    shown = redact_url(base)
    start = time.monotonic()
    try:
        urllib.request.urlopen(f"{base}/api/whoami-v2", timeout=15).close()
    except urllib.error.HTTPError:
        pass  # any HTTP answer (401 without a token) means it is reachable
    except (urllib.error.URLError, OSError) as exc:
        failure = ApiFailure("GET", f"{base}/api/whoami-v2", reason=str(getattr(exc, "reason", exc)),
                             elapsed=time.monotonic() - start)
        return [Check("endpoint", False, f"{shown} unreachable: {failure.describe()}",
                      "check the network, proxies and the endpoint (--endpoint or HF_ENDPOINT)")]
    checks = [Check("endpoint", True, f"{shown} reachable")]
    if token:
        try:
            who = hubapi.whoami(endpoint=base, token=token)
            checks.append(Check("whoami", True, f"logged in as {who.get('name', '?')}"))
        except HfError as exc:
            checks.append(Check("whoami", False, exc.message, exc.fix))
    return checks


def run_checks(base: str, repo: Repo | None, named: tuple[str, ...] = ()) -> list[Check]:
    """Every check, for ``repo`` (its merged config) or the global config outside a repo.

    ``named``: endpoints the user named on this command line (``--endpoint``).
    """
    cwd = (repo.worktree or repo.git_dir) if repo else None
    config = GitConfig(None, cwd=cwd)
    token = hubconf.token()
    endpoints = [*hubconf.configured_endpoints(cwd), *named]
    allowed = hubconf.may_receive_token(base, endpoints)
    hub_checks = [check_hub_endpoint(base, allowed), *check_endpoint(base, token if allowed else None),
                  *(check_origin(config, base, endpoints) if repo else [])]
    checks = check_tools()
    if not checks[1].ok:
        return checks + [check_token(token), *hub_checks]
    checks += [check_lfs_install(config, repo), check_old_hf_config(cwd), check_agent_config(config)]
    if checks[-1].ok:
        with tempfile.TemporaryDirectory(prefix="git-hf-doctor-") as scratch:
            checks.append(check_agent_starts(config.get(f"{AGENT}.path"), config.get(f"{AGENT}.args"), cwd or Path(scratch)))
    checks.append(check_downloads(config, base, repo))
    if cwd is not None:
        checks.append(check_resume_state(cwd))
    helper = (check_credentials(base, cwd, token) if allowed else
              Check("credential helper", None, "not checked: not a configured Hub endpoint (see hub endpoint)"))
    checks += [check_token(token), helper, *hub_checks]
    return checks


@click.command("doctor")
@click.option("--endpoint", metavar="URL", help="Hub URL (default: $HF_ENDPOINT, the origin remote's host, or huggingface.co).")
def cli(endpoint: str | None) -> None:
    """Diagnose git, git-lfs, the agent, credentials and the endpoint."""
    if endpoint:
        hubconf.check_endpoint(endpoint)
    repo = find_repo()
    base = doctor_endpoint(endpoint, repo)
    where = str(repo.worktree or repo.git_dir) if repo else "global config (not in a repo)"
    click.echo(f"git hf doctor: {where}, endpoint {redact_url(base)}")
    checks = run_checks(base, repo, (endpoint,) if endpoint else ())
    for check in checks:
        label = {True: "ok  ", False: "FAIL", None: "skip"}[check.ok]
        click.echo(f"  {label}  {check.name:<18} {check.detail}")
        if check.fix:
            click.echo(f"        {'':<18} fix: {check.fix}")
    problems = sum(c.ok is False for c in checks)
    if problems:
        raise HfError(f"{problems} problem{'s' if problems > 1 else ''} found", "apply each fix above, then run `git hf doctor` again")
    click.echo("everything looks good")
