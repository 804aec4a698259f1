"""``git hf push --dry-run``: the upload plan, and nothing sent (issue 10 item 5).

For each ref the push would update: the check findings (:mod:`git_hf_agent.cli.check`)
and every LFS file the push would send with its size. One LFS batch call
(``operation: upload``, 100 objects per request) asks the Hub which objects it
already has (an answer without actions) and which go ``multipart`` and in how
many parts (the count of part URLs it hands out). No part is uploaded, no
completion is called, no ref is pushed. The Hub may prepare upload URLs for the
objects it would receive; they are simply never used. Exit 1 when the check
found an error, like ``git hf check``.
"""

from __future__ import annotations

import click

from git_hf_agent.cli.check import print_report, run_check
from git_hf_agent.cli.verify import hub_remote
from git_hf_agent.errors import HfError
from git_hf_agent.gitrepo import GitRepo
from git_hf_agent.units import format_size


def describe(answer: dict | None) -> tuple[str, int]:
    """(what the Hub would do with one object, its part count: 0 when nothing is sent)."""
    if answer is None:
        return "send (no answer from the Hub about it)", 1
    if answer.get("error"):
        err = answer["error"]
        return f"refused by the Hub: {err.get('code')} {err.get('message', '')}".rstrip(), 0
    upload = (answer.get("actions") or {}).get("upload")
    if not upload:
        return "already on the Hub", 0
    if answer.get("transfer") == "multipart":
        header = upload.get("header") or {}
        parts = sum(1 for key in header if key.isdigit())
        chunk = header.get("chunk_size")
        size_text = f" of {format_size(int(chunk))}" if chunk and str(chunk).isdigit() else ""
        return f"multipart, {parts} part{'s' * (parts != 1)}{size_text}", parts
    return "basic (one PUT)", 1


def run(repo: GitRepo, remote: str, targets, create: bool) -> int:
    """Print the plan for ``targets`` (see :class:`git_hf_agent.cli.push.Target`); the exit status."""
    errors = 0
    for t in targets:
        report = run_check(repo, t.src, remote)
        print_report(report, t.src)
        errors += len(report.errors)
        if report.lfs_files:
            _plan(repo, remote, t, report.lfs_files, create)
    click.echo("dry run: nothing was sent" + (" (the push would stop at the check)" if errors else ""))
    return 1 if errors else 0


def _plan(repo: GitRepo, remote: str, target, files: list[tuple[str, str, int]], create: bool) -> None:
    hub = hub_remote(repo, remote)
    ref = f"refs/heads/{target.dst}" if target.branch else None
    try:
        answers = {a["oid"]: a for a in hub.lfs_batch("upload", ((oid, size) for _, oid, size in files), ref,
                                                      ["basic", "multipart"])}
    except HfError as exc:
        if "not found" not in exc.message:
            raise
        answers = {}  # no repo yet: every object would be sent, in parts the Hub decides then
        click.echo(f"{hub.label()} does not exist yet" + ("; --create would create it" if create else
                                                          " (`git hf push --create` creates it)"))
    click.echo(f"upload plan for {hub.label(target.dst)}:")
    send = parts = have = 0
    sent_bytes = 0
    for path, oid, size in files:
        what, n = describe(answers.get(oid) if answers else None)
        click.echo(f"  {format_size(size):>10}  {path}: {what}")
        if n:
            send, parts, sent_bytes = send + 1, parts + n, sent_bytes + size
        elif what == "already on the Hub":
            have += 1
    click.echo(f"{len(files)} LFS file{'s' * (len(files) != 1)}: {send} to send ({format_size(sent_bytes)}, "
               f"{parts} upload{'s' * (parts != 1)}), {have} already on the Hub")
