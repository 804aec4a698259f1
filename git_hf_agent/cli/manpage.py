"""Render ``git hf``'s click help as a man page (``git-hf.1``).

git turns ``git hf --help`` into ``man git-hf``, so without a man page the first
thing a new user types answers "No manual entry". install.sh writes this page
next to the installed commands; it is generated from the same click help text
as ``git hf -h`` so the two never disagree.
"""

from __future__ import annotations

import sys

import click

from git_hf_agent import __version__
from git_hf_agent.cli.main import COMMANDS, cli


def _roff(text: str) -> str:
    """Escape text for roff: backslashes, and lines starting with '.' or "'"."""
    lines = []
    for line in text.replace("\\", "\\e").splitlines():
        lines.append("\\&" + line if line.startswith((".", "'")) else line)
    return "\n".join(lines)


def _help(command: click.Command, name: str, parent: click.Context | None) -> str:
    ctx = click.Context(command, info_name=name, parent=parent)
    return command.get_help(ctx)


def render() -> str:
    """The whole page: synopsis, the group's help, then every subcommand's help."""
    root = click.Context(cli, info_name="git hf")
    out = [
        f'.TH GIT-HF 1 "" "git-hf-agent {__version__}" "git-hf-agent manual"',
        ".SH NAME",
        "git-hf \\- push huge model and dataset files to the Hugging Face Hub with plain git",
        ".SH SYNOPSIS",
        ".B git hf",
        "[\\-\\-verbose] COMMAND [OPTIONS] [ARGS]",
        ".SH DESCRIPTION",
        ".nf",
        _roff(cli.get_help(root)),
        ".fi",
        ".SH COMMANDS",
    ]
    for name in sorted(COMMANDS):
        command = cli.get_command(root, name)
        out += [f".SS git hf {name}", ".nf", _roff(_help(command, name, root)), ".fi"]
    out += [".SH SEE ALSO", "git-lfs(1), the docs/ folder of the git-hf-agent checkout"]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
