"""Small truths (issue 10 item 8, CLI parts): init --parallel as the agent takes it, check counts files."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.cli_content.helpers import hf, new_repo
from tests.support import git

pytestmark = pytest.mark.e2e


def agent_args(repo):
    return git("config", "lfs.customtransfer.multipart.args", cwd=repo).stdout.strip()


def test_init_parallel_takes_what_the_agent_takes_and_repairs_a_bad_value(tmp_path):
    repo = new_repo(tmp_path / "r")
    refused = hf("init", "--parallel", "65", cwd=repo, check=False)
    assert "65 is not in the range 1<=x<=64" in refused.stderr
    git("config", "--unset-all", "lfs.customtransfer.multipart.args", cwd=repo, check=False)
    hf("init", cwd=repo)
    git("config", "lfs.customtransfer.multipart.args", "--parallel 500 --timeout 30", cwd=repo)  # a bad hand edit
    hf("init", "--parallel", "64", cwd=repo)
    assert agent_args(repo) == "--parallel 64 --timeout 30"
    agent = git("config", "lfs.customtransfer.multipart.path", cwd=repo).stdout.strip()
    help_text = subprocess.run([agent, *agent_args(repo).split(), "--help"], capture_output=True, text=True)
    assert help_text.returncode == 0  # the agent accepts what init wrote


def test_check_counts_files_not_distinct_contents_with_plurals(tmp_path):
    repo = new_repo(tmp_path / "r")
    for name in ("a.txt", "b.txt", "c/a.txt"):
        (repo / name).parent.mkdir(exist_ok=True)
        (repo / name).write_text("same content\n")
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "three equal files", cwd=repo)
    report = json.loads(hf("check", "--json", cwd=repo).stdout)
    assert report["files_checked"] == 3 and report["tree_files"] == 3
    (repo / "d.txt").write_text("other\n")
    git("remote", "add", "origin", "http://127.0.0.1:9/alice/m", cwd=repo)
    git("update-ref", "refs/remotes/origin/main", "HEAD", cwd=repo)
    git("add", "d.txt", cwd=repo)
    git("commit", "-q", "-m", "one more", cwd=repo)
    out = hf("check", cwd=repo).stdout
    assert ": 1 file to send, 4 in the tree;" in out and "0 errors, 0 warnings: ready to push" in out
