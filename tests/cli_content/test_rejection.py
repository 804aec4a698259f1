"""The fix printed for each way git push fails (git's own messages, as git 2.39 and the Hub word them)."""

from __future__ import annotations

from git_hf_agent.cli.pushrun import rejection_fix

BEHIND = """To https://huggingface.co/alice/m
 ! [rejected]        main -> main (fetch first)
error: failed to push some refs to 'https://huggingface.co/alice/m'
"""
MISSING = """remote: Repository not found.
fatal: repository 'https://huggingface.co/alice/nope/' not found
"""


def test_a_branch_that_moved_gets_pull_rebase_for_that_branch():
    fix = rejection_fix(BEHIND.replace("main -> main", "dev -> release"), "origin", False)
    assert fix == "origin/release has commits you do not have: `git pull --rebase origin release`, then `git hf push` again"


def test_an_unrelated_history_gets_the_hint_found_before_the_push():
    fix = rejection_fix(BEHIND, "origin", False, {"main": "merge it with --allow-unrelated-histories"})
    assert fix == "merge it with --allow-unrelated-histories"


def test_a_missing_repo_gets_create_unless_create_was_given():
    assert "git hf push --create" in rejection_fix(MISSING, "origin", False)
    assert "git remote -v" in rejection_fix(MISSING, "origin", True)


def test_hub_checks_auth_and_anything_else():
    hook = " ! [remote rejected] main -> main (pre-receive hook declined)\n"
    assert "the Hub refused the content" in rejection_fix(hook, "origin", False)
    auth = "fatal: unable to access 'https://huggingface.co/alice/m/': The requested URL returned error: 403\n"
    assert "git hf doctor" in rejection_fix(auth, "origin", False) and "token" in rejection_fix(auth, "origin", False)
    sha_with_401 = " + 401abcd...9401ef0 main -> main (forced update)\nfatal: the remote end hung up unexpectedly\n"
    assert rejection_fix(sha_with_401, "origin", False).startswith("fix what git reported")
