"""`git hf --help` is answered by `man git-hf`: the generated page must cover every command."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from git_hf_agent.cli.main import COMMANDS
from git_hf_agent.cli.manpage import render


def test_man_page_documents_every_command_and_its_options():
    page = render()
    for name in COMMANDS:
        assert f".SS git hf {name}" in page
    # options of a few commands, taken from their click definitions, not from this test
    for option in ("--dry-run", "--lazy", "--fault", "--no-verify", "--json"):
        assert option in page


@pytest.mark.skipif(shutil.which("man") is None, reason="man is not installed")
def test_man_renders_the_page_without_errors(tmp_path):
    path = tmp_path / "git-hf.1"
    path.write_text(render())
    out = subprocess.run(["man", "-l", str(path)], capture_output=True, text=True, env={"MANWIDTH": "80", "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    assert "git hf init" in out.stdout and "warning" not in out.stderr.lower()
