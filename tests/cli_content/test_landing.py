"""Landing a history on the Hub's initial commit: the .gitattributes merge and the local ref moves (real git)."""

from __future__ import annotations

import pytest

from git_hf_agent.cli import landing
from git_hf_agent.errors import HfError
from git_hf_agent.gitrepo import GitRepo
from tests.cli_content.helpers import new_repo
from tests.support import git

HUB = b"*.bin filter=lfs diff=lfs merge=lfs -text\n*.zip filter=lfs diff=lfs merge=lfs -text\n*.h5 filter=lfs diff=lfs merge=lfs -text\n"


def test_hub_lines_first_ours_verbatim_after_and_nothing_that_moves_a_git_file():
    ours = b"# mine\n*.bin -filter -text\n/data/big.csv filter=lfs diff=lfs merge=lfs -text\n"
    merged, added, skipped = landing.merge_attributes(ours, HUB, ["docs/notes.zip", "README.md"])
    assert added == ["*.h5 filter=lfs diff=lfs merge=lfs -text"]
    assert skipped == ["*.bin filter=lfs diff=lfs merge=lfs -text", "*.zip filter=lfs diff=lfs merge=lfs -text"]
    assert merged == b"*.h5 filter=lfs diff=lfs merge=lfs -text\n" + ours


def hub_root(repo, text=HUB):
    """A parentless commit holding only .gitattributes, like the Hub's initial commit."""
    blob = git("hash-object", "-w", "--stdin", cwd=repo, input=text.decode()).stdout.strip()
    tree = git("mktree", cwd=repo, input=f"100644 blob {blob}\t.gitattributes\n").stdout.strip()
    return git("commit-tree", tree, "-m", "initial commit", cwd=repo).stdout.strip()


@pytest.fixture
def repo(tmp_path):
    path = new_repo(tmp_path / "r")
    (path / "a.txt").write_text("a\n")
    git("add", "a.txt", cwd=path)
    git("commit", "-q", "-m", "mine", cwd=path)
    return path


def test_only_a_parentless_gitattributes_commit_counts_as_the_hubs(repo):
    g = GitRepo(repo)
    assert landing.hub_initial_attributes(g, hub_root(repo)) == HUB
    assert landing.hub_initial_attributes(g, git("rev-parse", "HEAD", cwd=repo).stdout.strip()) is None  # a.txt


def test_another_branch_moves_with_update_ref_and_a_dirty_gitattributes_stops_the_checked_out_one(repo):
    g = GitRepo(repo)
    git("branch", "side", cwd=repo)
    side = git("rev-parse", "side", cwd=repo).stdout.strip()
    done = landing.merge_commit(g, "side", hub_root(repo), HUB)
    assert landing.move_local(g, "side", side, done.tip) == "side"
    assert git("rev-parse", "side", cwd=repo).stdout.strip() == done.tip
    assert git("rev-parse", "HEAD", cwd=repo).stdout.strip() == side  # the checked-out branch did not move

    head = git("rev-parse", "HEAD", cwd=repo).stdout.strip()
    done = landing.merge_commit(g, "HEAD", hub_root(repo), HUB)
    (repo / ".gitattributes").write_text("*.txt text\n")  # uncommitted, in the way of the fast-forward
    with pytest.raises(HfError) as err:
        landing.move_local(g, "HEAD", head, done.tip)
    assert "commit or stash your .gitattributes change" in err.value.fix
    assert (repo / ".gitattributes").read_text() == "*.txt text\n"  # untouched
    assert git("rev-parse", "HEAD", cwd=repo).stdout.strip() == head
