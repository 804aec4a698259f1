"""``git hf push [REMOTE] [REFSPEC...] [git push options]``: a ``git push`` plus check and verify.

Three steps, stopping at the first that fails and naming it:
1. ``check`` (:func:`git_hf_agent.cli.check.run_check`): nothing the Hub would reject;
2. ``git push`` itself with the options given (``-f``, ``--force-with-lease``,
   ``-u``, ``--tags``, ``-o``, refspecs), the upload shown by
   :mod:`git_hf_agent.cli.pushrun`;
3. ``verify`` (:func:`git_hf_agent.cli.verify.verify`): every LFS file of each
   pushed branch is in the Hub's tree and storage (``--skip-verify`` skips it).

``--create`` first creates the Hub repo behind the remote when it is missing.
When a target branch holds only the Hub's initial commit, the local history is
landed on it with one merge commit (:mod:`git_hf_agent.cli.landing`), so no
``--force`` is needed and nothing on the Hub is overwritten. ``--dry-run``
prints the upload plan (:mod:`git_hf_agent.cli.pushplan`) and sends nothing.
``--no-verify`` is refused: in git it skips the pre-push hook that uploads LFS objects.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import click

from git_hf_agent import hubconf
from git_hf_agent.cli import landing
from git_hf_agent.cli.check import Report, print_report, run_check
from git_hf_agent.cli.pushrun import rejection_fix, run_push
from git_hf_agent.cli.verify import print_table, report_failures, summary, verify
from git_hf_agent.errors import HfError
from git_hf_agent.gitrepo import GitRepo
from git_hf_agent.hubremote import HubRemote
from git_hf_agent.redact import redact_text
from git_hf_agent.units import format_size

STEPS = 3
NO_VERIFY = ("--no-verify is refused: in git it skips the pre-push hook, the hook that uploads LFS objects, "
             "so the Hub would get pointers without their content (to skip git hf's verify step: --skip-verify)")
AGENT_LOG = "lfs/logs/git-hf-agent.jsonl"


@dataclass
class Target:
    """One ref the push updates: local revision ``src`` to Hub branch ``dst``; ``spec`` is what git push gets."""

    spec: str
    src: str
    dst: str
    forced: bool = False
    branch: bool = True


def plan(repo: GitRepo, refspecs: tuple[str, ...], upstream: bool) -> tuple[list[Target], bool]:
    """Targets for ``refspecs`` (default: the current branch to its upstream) and whether to add ``--set-upstream``."""
    if not refspecs:
        branch = repo.current_branch()
        if branch is None:
            raise HfError("HEAD is detached, so there is no branch to push", "name what to push: `git hf push origin HEAD:main`")
        up = repo.upstream(branch)
        if up:
            return [Target(f"{branch}:{up[1]}", branch, up[1])], upstream
        return [Target(branch, branch, branch)], True
    return [_target(repo, spec) for spec in refspecs], upstream


def _target(repo: GitRepo, refspec: str) -> Target:
    forced = refspec.startswith("+")
    body = refspec.lstrip("+")
    if body.startswith(":"):
        raise HfError(f"{refspec!r} deletes a branch; git hf push only pushes",
                      f"delete it with plain git: `git push REMOTE {refspec}`")
    src, _, dst = body.partition(":")
    src = src or "HEAD"
    is_tag = src.startswith("refs/tags/") or dst.startswith("refs/tags/") or (
        not dst and f"refs/tags/{src}" in repo.repo.references and f"refs/heads/{src}" not in repo.repo.references)
    if is_tag:
        return Target(refspec, src, (dst or src).removeprefix("refs/tags/"), forced, branch=False)
    dst = dst or (src if src != "HEAD" else (repo.current_branch() or ""))
    if not dst:
        raise HfError(f"cannot tell which Hub branch {refspec!r} pushes to", "name it: `git hf push origin HEAD:main`")
    return Target(refspec, src, dst.removeprefix("refs/heads/"), forced)


def tag_targets(repo: GitRepo) -> list[Target]:
    """What ``--tags`` adds to the push: every local tag that names a commit (checked like branches, not verified)."""
    out = []
    for name in sorted(repo.repo.references):
        if name.startswith("refs/tags/"):
            try:
                repo.commit(name)
            except HfError:
                continue
            out.append(Target("", name, name.removeprefix("refs/tags/"), branch=False))
    return out


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


def check_all(repo: GitRepo, remote: str, targets: list[Target]) -> list[Report]:
    """Step 1 for each distinct local revision pushed; print findings; HfError if the Hub would reject any."""
    reports = []
    for rev in dict.fromkeys(t.src for t in targets):
        report = run_check(repo, rev, remote)
        if report.findings:
            print_report(report, rev)
        reports.append(report)
    errors = sum(len(r.errors) for r in reports)
    if errors:
        raise HfError(f"{errors} problem{'s' * (errors != 1)} the Hub would reject; nothing was pushed",
                      "fix the errors listed above, then run `git hf push` again")
    return reports


def _git_push(repo: GitRepo, remote: str, args: list[str], reports: list[Report], verbose: bool,
              create: bool, hints: dict[str, str]) -> None:
    say(2, "git push", redact_text(f"git push {remote} {' '.join(args)}"))  # REMOTE may be a URL with user:token@
    with step(2, "git push"):
        start = time.monotonic()
        paths = {oid: path for r in reports for path, oid, _ in r.lfs_files}
        # The events file lives in <git dir>/git-hf, not lfs/tmp, where git-lfs removes files older than an hour.
        result = run_push(repo.cwd, [remote, *args], paths, verbose=verbose, scratch=repo.git_dir / "git-hf")
        if result.code != 0:
            log = repo.git_dir / AGENT_LOG
            raise HfError(f"git push exited {result.code} (git's message is above"
                          + (f"; the agent's log: {log}" if log.exists() else "") + ")",
                          rejection_fix(result.stderr, remote, create, hints))
    done = result.view.summary()
    say(2, "git push", f"ok in {time.monotonic() - start:.1f} s" + (f"; {done}" if done else ""))


def _verify(repo: GitRepo, remote: str, targets: list[Target]) -> None:
    for t in (t for t in targets if t.branch):
        with step(3, "verify"):
            hub, rows = verify(repo, t.src, remote, t.dst)
            if any(r.status != "ok" for r in rows):
                print_table(rows, show_all=False)
            report_failures(hub, rows, remote, t.dst)
        n = summary(rows).get("ok", 0)
        say(3, "verify", f"ok: {n} LFS file{'s' * (n != 1)} ({format_size(sum(r.size for r in rows))}) on {hub.label(t.dst)}")


def git_push_args(targets: list[Target], *, force: bool, leases: list[str], upstream: bool, tags: bool,
                  push_options: tuple[str, ...]) -> list[str]:
    """git push's arguments after the remote, in git's own spelling."""
    args = ["--force"] if force else []
    args += leases
    args += ["--set-upstream"] if upstream else []
    args += ["--tags"] if tags else []
    for opt in push_options:
        args += ["--push-option", opt]
    return args + [t.spec for t in targets]


def split_leases(extra: tuple[str, ...]) -> tuple[list[str], tuple[str, ...]]:
    """Separate ``--force-with-lease[=...]`` (optional value, git's sticked form) from the refspecs."""
    leases = [a for a in extra if a == "--force-with-lease" or a.startswith("--force-with-lease=")]
    rest = tuple(a for a in extra if a not in leases)
    unknown = [a for a in rest if a.startswith("-")]
    if unknown:
        raise HfError(f"git hf push does not take {unknown[0]}",
                      "it passes on -f, --force-with-lease[=...], -u, --tags, --dry-run, -o; for other options run "
                      "`git hf check`, then plain `git push ...`, then `git hf verify`")
    return leases, rest


@click.command("push", context_settings={"ignore_unknown_options": True},
               epilog="--force-with-lease[=REF[:EXPECT]] is passed on to git push as well. A Hub branch that holds "
                      "only the Hub's initial commit gets one merge commit keeping its .gitattributes rules (no --force "
                      "needed). Progress, retries and restarts of the upload are shown on stderr; -v (git hf -v push) "
                      "asks the agent for more detail.")
@click.argument("remote", required=False)
@click.argument("refspecs", nargs=-1, type=click.UNPROCESSED)
@click.option("--create", is_flag=True, help="Create the Hub repo first when it does not exist.")
@click.option("-f", "--force", is_flag=True, help="git push --force.")
@click.option("-u", "--set-upstream", "set_upstream", is_flag=True, help="git push --set-upstream.")
@click.option("--tags", is_flag=True, help="git push --tags.")
@click.option("-o", "--push-option", "push_options", multiple=True, metavar="OPT", help="git push --push-option.")
@click.option("--dry-run", is_flag=True, help="Print the upload plan and check findings; send nothing.")
@click.option("--skip-verify", is_flag=True, help="Skip checking the Hub after the push.")
@click.option("--no-verify", is_flag=True,
              help="Refused: in git it skips the pre-push hook that uploads LFS objects (use --skip-verify).")
@click.pass_context
def cli(ctx: click.Context, remote: str | None, refspecs: tuple[str, ...], create: bool, force: bool,
        set_upstream: bool, tags: bool, push_options: tuple[str, ...], dry_run: bool, skip_verify: bool,
        no_verify: bool) -> None:
    """Check, `git push` (showing the upload), then verify on the Hub."""
    if no_verify:
        raise HfError(NO_VERIFY)
    # click passes options it does not know (--force-with-lease[=...]) on as positionals, maybe as REMOTE.
    leases, positional = split_leases((remote, *refspecs) if remote else refspecs)
    remote, refspecs = (positional[0], positional[1:]) if positional else (None, ())
    repo = GitRepo()
    remote = remote or repo.default_remote()
    repo.remote_url(remote)
    targets, upstream = plan(repo, refspecs, set_upstream)
    tagged = tag_targets(repo) if tags else []
    if dry_run:
        from git_hf_agent.cli import pushplan

        landing.land(repo, remote, targets, dry_run=True)
        ctx.exit(pushplan.run(repo, remote, targets + tagged, create))
    if create:
        _create(repo, remote)

    with step(1, "check"):  # before landing: a push the check stops leaves the branch as it was
        reports = check_all(repo, remote, targets + tagged)
    files = sum(r.files_checked for r in reports)
    warnings = sum(len(r.warnings) for r in reports)
    say(1, "check", f"ok ({files} file{'s' * (files != 1)} to send, {warnings} warning{'s' * (warnings != 1)})")
    hints = {} if force or leases else landing.land(repo, remote, targets, dry_run=False)

    args = git_push_args(targets, force=force, leases=leases, upstream=upstream, tags=tags, push_options=push_options)
    _git_push(repo, remote, args, reports, bool((ctx.find_root().obj or {}).get("verbose")), create, hints)

    if skip_verify:
        say(3, "verify", "skipped (--skip-verify)")
        return
    _verify(repo, remote, targets)
