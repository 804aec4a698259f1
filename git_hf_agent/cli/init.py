"""``git hf init``: configure a repo (or ``--global``) for pushing to the Hub; a thin shell over setup.configure."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import click

from git_hf_agent import hubconf
from git_hf_agent.agent.main import MAX_PARALLEL
from git_hf_agent.gitconfig import GitConfig, find_repo
from git_hf_agent.setup import configure, credential_url


@click.command("init")
@click.argument("path", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--global", "global_", is_flag=True, help="Configure your global git config instead of one repo.")
@click.option("--endpoint", metavar="URL", help="Hub URL (default: $HF_ENDPOINT or https://huggingface.co).")
@click.option("--parallel", type=click.IntRange(min=1, max=MAX_PARALLEL), metavar="N",
              help=f"Parts the agent uploads at once per file, 1..{MAX_PARALLEL} as the agent accepts "
                   "(written to the agent's args, replacing an earlier value; default 10).")
@click.option("--no-downloads", is_flag=True,
              help="Leave LFS downloads (clone, pull) to git-lfs instead of the agent's parallel ranged GETs.")
@click.option("--dry-run", is_flag=True, help="Print the changes without making them.")
def cli(path: Path | None, global_: bool, endpoint: str | None, parallel: int | None, no_downloads: bool,
        dry_run: bool) -> None:
    """Configure git, git-lfs and the multipart agent for the Hub (idempotent).

    Runs `git lfs install`, registers git-hf-agent as the `multipart` transfer
    (replacing a huggingface-cli registration), routes LFS downloads from the Hub
    through it (plain `git clone`/`pull` fetch big files in parallel ranges,
    resumably; `--no-downloads` opts out), disables LFS lock verification for
    the Hub, makes `git hf credential` the Hub host's credential helper, and adds
    the Hub's usual LFS patterns to .gitattributes.
    """
    if global_ and path is not None:
        raise click.UsageError("pass either PATH or --global, not both")
    base = hubconf.endpoint(endpoint)
    changes = configure(path, global_=global_, endpoint=base, parallel=parallel, dry_run=dry_run,
                        downloads=not no_downloads)
    where = "global git config" if global_ else str((path or Path(".")).resolve())
    if not changes:
        click.echo(f"already configured for {base} ({where}); nothing to change")
        return
    click.echo(f"{'would change' if dry_run else 'configured'} {where} for {base}:")
    for change in changes:
        click.echo(f"  - {change}")
    if dry_run:
        click.echo("dry run: nothing was changed (run without --dry-run to apply)")
    elif not hubconf.token():
        click.echo("note: no Hub token found yet; pushes will ask for one until you run `hf auth login` "
                   "or set HF_TOKEN (check with `git hf doctor`)")
    if not global_:
        _warn_other_host(path, base)


def _warn_other_host(path: Path | None, base: str) -> None:
    """A repo whose origin is another http(s) host (say a local Hub) was probably meant for that host."""
    repo = find_repo(path)
    remote = GitConfig(None, cwd=repo.worktree or repo.git_dir).get("remote.origin.url") if repo else None
    parts = urlsplit(remote or "")
    if parts.scheme in ("http", "https") and parts.hostname:
        origin = credential_url(f"{parts.scheme}://{parts.netloc}")
        if origin != credential_url(base):
            click.echo(f"note: origin is on {origin}, not {base}; if it is a Hub, run "
                       f"`git hf init --endpoint {origin}` so credentials and settings apply to it")
