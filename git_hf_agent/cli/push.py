"""``git hf push [REMOTE] [REFSPEC] [--create] [--no-verify]``: check, git push, verify.

Three steps, stopping at the first that fails and naming it:
1. ``check`` (:func:`git_hf_agent.cli.check.run_check`): nothing the Hub would reject;
2. ``git push`` itself, its output streamed so git-lfs shows upload progress;
3. ``verify`` (:func:`git_hf_agent.cli.verify.verify`): every LFS file of the
   pushed revision is in the Hub's tree and storage.
``--create`` first creates the Hub repo behind the remote when it is missing.
"""

from __future__ import annotations

import subprocess
import time
from contextlib import contextmanager
from typing import Iterator

import click

from git_hf_agent.cli.check import print_report, run_check
from git_hf_agent.cli.verify import print_table, report_failures, summary, verify
from git_hf_agent import hubconf
from git_hf_agent.errors import HfError
from git_hf_agent.gitrepo import GitRepo
from git_hf_agent.hubremote import HubRemote
from git_hf_agent.redact import redact_text
from git_hf_agent.units import format_size

STEPS = 3


def plan(repo: GitRepo, refspec: str | None) -> tuple[list[str], str, str]:
    """(git push arguments after the remote, local revision, remote branch) for ``refspec``."""
    if refspec:
        if refspec.lstrip("+").startswith(":"):
            raise HfError(f"{refspec!r} deletes a branch; git hf push only pushes",
                          f"delete it with plain git: `git push REMOTE {refspec}`")
        src, _, dst = refspec.lstrip("+").partition(":")
        src = src or "HEAD"
        dst = dst or (src if src != "HEAD" else (repo.current_branch() or ""))
        if not dst:
            raise HfError(f"cannot tell which Hub branch {refspec!r} pushes to", "name it: `git hf push origin HEAD:main`")
        return [refspec], src, dst.removeprefix("refs/heads/")
    branch = repo.current_branch()
    if branch is None:
        raise HfError("HEAD is detached, so there is no branch to push", "name what to push: `git hf push origin HEAD:main`")
    upstream = repo.upstream(branch)
    if upstream:
        return [f"{branch}:{upstream[1]}"], branch, upstream[1]
    return ["--set-upstream", branch], branch, branch


@contextmanager
def step(n: int, name: str) -> Iterator[None]:
    """Re-raise any failure inside as "push failed at step n/3 (name)" so the user knows where it stopped."""
    try:
        yield
    except HfError as exc:
        raise HfError(f"push failed at step {n}/{STEPS} ({name}): {exc.message}", exc.fix, exc.exit_code) from None


def say(n: int, name: str, text: str) -> None:
    click.echo(f"[{n}/{STEPS}] {name}: {text}", err=True)


def _create(repo: GitRepo, remote: str) -> None:
    """Create the Hub repo behind ``remote`` unless it exists (hubapi, exist_ok)."""
    from git_hf_agent import hubapi

    hub = HubRemote.from_url(repo.remote_url(remote))
    if hub.token is None and hubconf.token():
        raise HfError(f"{hub.endpoint} is not the configured Hub ({hubconf.endpoint()}), so your Hub token is not sent there",
                      f"if it is a Hub, point at it: `HF_ENDPOINT={hub.endpoint} git hf push --create`")
    hubapi.create_repo(hub.repo, endpoint=hub.endpoint, token=hub.token, exist_ok=True, endpoint_named=False)
    click.echo(f"repo {hub.label()} is ready", err=True)


@click.command("push")
@click.argument("remote", required=False)
@click.argument("refspec", required=False)
@click.option("--create", is_flag=True, help="Create the Hub repo first when it does not exist.")
@click.option("--no-verify", is_flag=True, help="Skip checking the Hub after the push.")
def cli(remote: str | None, refspec: str | None, create: bool, no_verify: bool) -> None:
    """Check, `git push` (with git-lfs progress), then verify on the Hub."""
    repo = GitRepo()
    remote = remote or repo.default_remote()
    repo.remote_url(remote)
    args, rev, branch = plan(repo, refspec)
    if create:
        _create(repo, remote)

    with step(1, "check"):
        report = run_check(repo, rev, remote)
        if report.findings:
            print_report(report, rev)
        if report.errors:
            raise HfError(f"{len(report.errors)} problem(s) the Hub would reject; nothing was pushed",
                          "fix the errors listed above, then run `git hf push` again")
    say(1, "check", f"ok ({report.files_checked} files to send, {len(report.warnings)} warnings)")

    say(2, "git push", redact_text(f"git push {remote} {' '.join(args)}"))  # REMOTE may be a URL with user:token@
    with step(2, "git push"):
        start = time.monotonic()
        code = subprocess.run(["git", "push", remote, *args], cwd=repo.cwd).returncode
        if code != 0:
            raise HfError(f"git push exited {code} (git's message is above)",
                          "fix what git reported (`git hf doctor` diagnoses set-up problems), then `git hf push` again")
    say(2, "git push", f"ok in {time.monotonic() - start:.1f} s")

    if no_verify:
        say(3, "verify", "skipped (--no-verify)")
        return
    with step(3, "verify"):
        hub, rows = verify(repo, rev, remote, branch)
        if any(r.status != "ok" for r in rows):
            print_table(rows, show_all=False)
        report_failures(hub, rows, remote, branch)
    total = format_size(sum(r.size for r in rows))
    say(3, "verify", f"ok: {summary(rows).get('ok', 0)} LFS files ({total}) on {hub.label(branch)}")
