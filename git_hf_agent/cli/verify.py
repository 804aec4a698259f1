"""``git hf verify [REV] [--remote R] [--revision B] [--json]``: does the Hub hold every LFS file of REV?

For every LFS pointer in REV's tree, two questions go to the Hub in batches
(:mod:`git_hf_agent.hubremote`): does its git tree at the branch hold that path
with the same oid and size (paths-info), and are the object's bytes stored (LFS
batch API)? A push can "succeed" with either answer wrong, so both are checked.
Prints a table (problems always, every row with ``--all`` or when short) and a
summary line; exit 1 listing each missing or mismatched file.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import click

from git_hf_agent.errors import HfError
from git_hf_agent.gitrepo import GitRepo
from git_hf_agent.hubremote import HubRemote
from git_hf_agent.units import format_size

OK, MISSING, MISMATCH, ABSENT, NOT_LFS, ERROR = "ok", "missing", "mismatch", "absent", "not-lfs", "error"
SHOW_ALL_UP_TO = 200


@dataclass(frozen=True)
class Row:
    """The verdict for one LFS file of the revision."""

    path: str
    oid: str
    size: int
    status: str
    detail: str = ""


def remote_branch(repo: GitRepo, rev: str) -> str:
    """The Hub branch to compare ``rev`` with: the branch's upstream name, the branch itself, else main."""
    refs = repo.repo.references
    if rev != "HEAD" and f"refs/heads/{rev}" not in refs and f"refs/remotes/{rev}" in refs and "/" in rev:
        return rev.split("/", 1)[1]  # a remote-tracking branch such as origin/main
    branch = repo.current_branch() if rev == "HEAD" else (rev if f"refs/heads/{rev}" in refs else None)
    upstream = repo.upstream(branch)
    return upstream[1] if upstream else (branch or "main")


def hub_remote(repo: GitRepo, remote: str) -> HubRemote:
    """The Hub repo behind ``remote``, honouring ``remote.<r>.lfsurl`` and ``lfs.url`` as git-lfs does."""
    lfs_url = repo.config_get(f"remote.{remote}.lfsurl") or repo.config_get("lfs.url")
    return HubRemote.from_url(repo.remote_url(remote), lfs_url)


def judge(path: str, oid: str, size: int, tree_item: dict | None, stored, revision: str) -> Row:
    """Compare one local pointer with the Hub's tree entry and storage answer."""
    if tree_item is None:
        return Row(path, oid, size, ABSENT, f"not in the Hub's tree at {revision}")
    lfs = tree_item.get("lfs")
    if not lfs:
        return Row(path, oid, size, NOT_LFS, "the Hub's tree holds a regular git file at this path")
    if lfs.get("oid") != oid or lfs.get("size") != size:
        return Row(path, oid, size, MISMATCH,
                   f"the Hub's tree points to {lfs.get('oid', '?')[:12]}… ({lfs.get('size')} bytes), "
                   f"local {oid[:12]}… ({size} bytes)")
    if stored is None or stored.error:
        return Row(path, oid, size, ERROR, f"LFS batch API: {stored.error if stored else 'no answer for this object'}")
    if not stored.present:
        return Row(path, oid, size, MISSING, f"object {oid[:12]}… is not in the Hub's LFS storage")
    if stored.size is not None and stored.size != size:
        return Row(path, oid, size, MISMATCH, f"the Hub stores {stored.size} bytes for {oid[:12]}…, the pointer says {size}")
    return Row(path, oid, size, OK)


def verify(repo: GitRepo, rev: str, remote: str, revision: str) -> tuple[HubRemote, list[Row]]:
    """Verdicts for every LFS pointer in ``rev``'s tree against ``revision`` of ``remote``'s Hub repo."""
    hub = hub_remote(repo, remote)
    files, _ = repo.tree_files(repo.commit(rev))
    pointers = [(b.path, p) for b in files if (p := repo.pointer(b.oid))]
    if not pointers:
        return hub, []
    tree = hub.paths_info(revision, [path for path, _ in pointers])
    stored = hub.stored_objects(((p.oid, p.size) for _, p in pointers), ref=f"refs/heads/{revision}")
    return hub, [judge(path, p.oid, p.size, tree.get(path), stored.get(p.oid), revision) for path, p in pointers]


def summary(rows: list[Row]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.status] = counts.get(row.status, 0) + 1
    return counts


def print_table(rows: list[Row], show_all: bool) -> None:
    """Every row when asked or when few; otherwise the first problems only (``--all``/``--json`` list all)."""
    shown = rows if show_all or len(rows) <= SHOW_ALL_UP_TO else [r for r in rows if r.status != OK][:SHOW_ALL_UP_TO]
    if shown:
        click.echo(f"{'STATUS':<9} {'SIZE':>10}  PATH")
    for r in shown:
        click.echo(f"{r.status:<9} {format_size(r.size):>10}  {r.path}" + (f"  ({r.detail})" if r.detail else ""))
    if len(shown) < len(rows):
        click.echo(f"... {len(rows) - len(shown)} more rows not shown (pass --all or --json to list them)")


def report_failures(hub: HubRemote, rows: list[Row], remote: str, revision: str) -> None:
    """Raise the HfError listing each file that is not verified, with the step that fixes it."""
    bad = [r for r in rows if r.status != OK]
    if not bad:
        return
    listing = "; ".join(f"{r.path} ({r.status})" for r in bad[:20]) + (f"; and {len(bad) - 20} more" if len(bad) > 20 else "")
    if all(r.status == MISSING for r in bad):
        fix = f"upload the missing objects again: `git lfs push --all {remote} {revision}`, then `git hf verify`"
    else:
        fix = f"push the revision you verified (`git hf push {remote}`), or verify what is pushed (`git hf verify {remote}/{revision}`)"
    raise HfError(f"{len(bad)} of {len(rows)} LFS files are not verified on {hub.label(revision)}: {listing}", fix)


@click.command("verify")
@click.argument("rev", default="HEAD")
@click.option("--remote", help="Remote whose Hub repo to check (default: the upstream's remote, else origin).")
@click.option("--revision", help="Hub branch to compare with (default: REV's upstream branch, else its name, else main).")
@click.option("--all", "show_all", is_flag=True, help="List every file, not only problems.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def cli(rev: str, remote: str | None, revision: str | None, show_all: bool, as_json: bool) -> None:
    """Check that the Hub holds every LFS file of REV (default HEAD), by path, oid and size."""
    repo = GitRepo()
    remote = remote or repo.default_remote()
    revision = revision or remote_branch(repo, rev)
    hub, rows = verify(repo, rev, remote, revision)
    counts = summary(rows)
    if as_json:
        click.echo(json.dumps({"repo": hub.repo.path, "endpoint": hub.endpoint, "revision": revision,
                               "summary": counts, "files": [asdict(r) for r in rows]}, indent=2))
    elif not rows:
        click.echo(f"no LFS files in {rev}: nothing to verify")
    else:
        print_table(rows, show_all)
        detail = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()) if s != OK)
        click.echo(f"verified {counts.get(OK, 0)} of {len(rows)} LFS files "
                   f"({format_size(sum(r.size for r in rows if r.status == OK))}) on {hub.label(revision)}"
                   + (f": {detail}" if detail else ""))
    report_failures(hub, rows, remote, revision)
