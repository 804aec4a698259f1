"""``git hf create REPO_ID``: create a repo through the Hub API and print its git URL."""

from __future__ import annotations

import click

from git_hf_agent import hubapi, hubconf
from git_hf_agent.errors import HfError
from git_hf_agent.hubconf import RepoId

SPACE_SDKS = ("gradio", "streamlit", "docker", "static")


def parse_repo_id(text: str, repo_type: str | None) -> RepoId:
    """``ns/name`` (type from ``--type``) or ``datasets/ns/name``; a conflict or bad id is an HfError."""
    try:
        repo = RepoId.parse(text, repo_type)
    except ValueError as exc:
        raise HfError(str(exc), "use NAMESPACE/NAME, e.g. alice/my-model or datasets/alice/my-data") from None
    if repo_type and repo.type != repo_type:
        raise HfError(f"{text!r} is a {repo.type} repo id but --type is {repo_type}",
                      "drop the datasets/ or spaces/ prefix, or the --type option")
    return repo


@click.command("create")
@click.argument("repo_id")
@click.option("--type", "repo_type", type=click.Choice(hubconf.REPO_TYPES), default=None,
              help="Repo type (default: model, or from a datasets/ or spaces/ prefix).")
@click.option("--private", is_flag=True, help="Create a private repo.")
@click.option("--exist-ok", is_flag=True, help="Succeed (and print the URL) if the repo already exists.")
@click.option("--space-sdk", type=click.Choice(SPACE_SDKS), default=None,
              help="SDK of a new Space (default: static).")
@click.option("--endpoint", metavar="URL", help="Hub URL (default: $HF_ENDPOINT or https://huggingface.co).")
def cli(repo_id: str, repo_type: str | None, private: bool, exist_ok: bool, space_sdk: str | None,
        endpoint: str | None) -> None:
    """Create REPO_ID on the Hub and print its git URL."""
    repo = parse_repo_id(repo_id, repo_type)
    if space_sdk and repo.type != "space":
        raise HfError("--space-sdk only applies to Spaces", "drop --space-sdk, or create spaces/NAMESPACE/NAME")
    url = hubapi.create_repo(repo, endpoint=endpoint, private=private, exist_ok=exist_ok, space_sdk=space_sdk)
    click.echo(url)
