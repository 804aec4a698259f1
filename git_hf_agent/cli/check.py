"""``git hf check [REV] [--remote R] [--json]``: what would the Hub reject if this were pushed now?

Gathers facts with :mod:`git_hf_agent.gitrepo` (pygit2, object headers only, no
subprocess per file) and applies the rules of :mod:`git_hf_agent.preflight`.
Only what the push would send is checked: commits not yet on the remote
(its remote-tracking refs), or the whole history when the remote has nothing.
Exit 0 when clean (warnings allowed), 1 on any error. ``git hf push`` runs
:func:`run_check` as its first step.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import click

from git_hf_agent import lfspointer, preflight
from git_hf_agent.errors import HfError
from git_hf_agent.gitrepo import SYMLINK_MODE, GitRepo, git_lfs_version

SHOW_PER_RULE = 20


@dataclass
class Report:
    """The outcome of a check: findings plus what was looked at."""

    revision: str
    base: str | None
    files_checked: int
    tree_files: int
    findings: list[preflight.Finding] = field(default_factory=list)
    lfs_files: list[tuple[str, str, int]] = field(default_factory=list)  # (path, LFS oid, size) to send

    @property
    def errors(self) -> list[preflight.Finding]:
        return [f for f in self.findings if f.level == preflight.ERROR]

    @property
    def warnings(self) -> list[preflight.Finding]:
        return [f for f in self.findings if f.level == preflight.WARNING]

    def as_dict(self) -> dict:
        return {
            "revision": self.revision, "compared_to": self.base, "files_checked": self.files_checked,
            "tree_files": self.tree_files, "errors": len(self.errors), "warnings": len(self.warnings),
            "findings": [f.as_dict() for f in self.findings],
        }


def setup_state(repo: GitRepo) -> preflight.Setup:
    """Is git-lfs installed, its pre-push hook in place, the multipart agent registered and present?"""
    hook, text = repo.pre_push_hook()
    if text is None:
        missing, unsure = "git-lfs's pre-push hook is not installed in this repo", None
    else:  # a hook of its own (pre-commit, husky...) may still call git-lfs indirectly
        missing, unsure = None, None if "lfs" in text else f"{hook} does not mention git-lfs"
    return preflight.Setup(git_lfs=git_lfs_version(), agent_problem=repo.agent_problem(),
                           hook_problem=missing, hook_warning=unsure)


def _fact(repo: GitRepo, blob, in_tree: bool) -> preflight.FileFact:
    """Size, LFS-ness and binary-ness of one blob, reading at most 10 MiB of it (never an LFS object)."""
    size = repo.blob_size(blob.oid)
    if size > preflight.NON_LFS_MAX:
        return preflight.FileFact(blob.path, size, False, False, blob.commit, in_tree)
    head = repo.blob_head(blob.oid, preflight.BINARY_SNIFF)
    pointer = lfspointer.parse(head) if size < lfspointer.MAX_POINTER_SIZE else None
    if pointer:
        return preflight.FileFact(blob.path, pointer.size, True, False, blob.commit, in_tree, pointer.oid)
    binary = blob.mode != SYMLINK_MODE and preflight.is_binary(head)
    return preflight.FileFact(blob.path, size, False, binary, blob.commit, in_tree)


def run_check(repo: GitRepo, rev: str = "HEAD", remote: str | None = None) -> Report:
    """Check what pushing ``rev`` to ``remote`` (default: the upstream's remote or origin) would send."""
    commit = repo.commit(rev)
    if remote is None:
        try:
            remote = repo.default_remote()
        except HfError:  # several remotes, none upstream: assume the remote has nothing
            remote = ""
    known = repo.remote_commits(remote) if remote else []
    tree, shape = repo.tree_files(commit)
    in_tree = {(b.path, b.oid) for b in tree}
    facts = [_fact(repo, b, (b.path, b.oid) in in_tree) for b in repo.new_files(commit, known)]
    upstream = repo.upstream(repo.current_branch())
    # `git reset --soft <upstream>` is only good advice for the checked-out branch.
    current = rev in ("HEAD", repo.current_branch())
    reset_to = f"{upstream[0]}/{upstream[1]}" if upstream and known and current else None
    base = reset_to or (f"refs/remotes/{remote}/*" if known else None)
    findings = preflight.evaluate(facts, shape.folder_entries, shape.files, setup_state(repo), reset_to)
    lfs_files = [(f.path, f.oid, f.size) for f in facts if f.lfs]
    return Report(str(commit.id), base, len(facts), shape.files, findings, lfs_files)


def print_report(report: Report, rev: str) -> None:
    """Human output: one line per finding, each distinct fix once, then a summary line."""
    against = f"compared with {report.base}" if report.base else "the remote has none of it yet"
    n, t = report.files_checked, report.tree_files
    click.echo(f"checked {rev} ({report.revision[:10]}): {n} file{'s' * (n != 1)} to send, "
               f"{t} in the tree; {against}")
    shown: dict[str, int] = {}
    last_fix = None
    for f in report.findings:
        shown[f.rule] = shown.get(f.rule, 0) + 1
        if shown[f.rule] > SHOW_PER_RULE:
            continue
        click.echo(f"{f.level}: {f.message}")
        if f.fix != last_fix:
            click.echo(f"  fix: {f.fix}")
            last_fix = f.fix
    for rule, n in shown.items():
        if n > SHOW_PER_RULE:
            click.echo(f"... and {n - SHOW_PER_RULE} more {rule} (see `git hf check --json`)")
    e, w = len(report.errors), len(report.warnings)
    verdict = "the Hub would reject this push" if e else "ready to push"
    click.echo(f"{e} error{'s' * (e != 1)}, {w} warning{'s' * (w != 1)}: {verdict}")


@click.command("check")
@click.argument("rev", default="HEAD")
@click.option("--remote", help="Remote to compare with (default: the upstream's remote, else origin).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def cli(ctx: click.Context, rev: str, remote: str | None, as_json: bool) -> None:
    """Preflight REV (default HEAD): report what the Hub would reject in a push."""
    report = run_check(GitRepo(), rev, remote)
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
    else:
        print_report(report, rev)
    ctx.exit(1 if report.errors else 0)
