"""`git hf push` as a `git push`: the Hub's initial commit, rejections with their fix, git's options.

Real git + git-lfs against `git hf serve`, whose repos start (like the Hub's) with
an initial commit holding the Hub's default .gitattributes.
"""

from __future__ import annotations

import pytest

from tests.cli_content.helpers import hf, hub_clone, hub_env
from tests.support import authed, git, sparse_file

pytestmark = pytest.mark.e2e

HUB_ATTRS = "*.safetensors filter=lfs diff=lfs merge=lfs -text\n*.model filter=lfs diff=lfs merge=lfs -text\n*.zip filter=lfs diff=lfs merge=lfs -text\n"


def hub_initial_commit(hub, tmp_path, repo_id: str) -> str:
    """The commit the Hub created ``repo_id`` with (made here like the Hub does when the local Hub made none)."""
    url = authed(f"{hub.url}/{repo_id}")
    out = git("ls-remote", url, "refs/heads/main", cwd=tmp_path).stdout.split()
    if out:
        return out[0]
    seed = tmp_path / "hub-seed"
    git("init", "-q", "-b", "main", str(seed))
    (seed / ".gitattributes").write_text(HUB_ATTRS)
    git("add", ".gitattributes", cwd=seed)
    git("commit", "-q", "-m", "initial commit", cwd=seed)
    git("push", "-q", url, "main", cwd=seed)
    return git("rev-parse", "HEAD", cwd=seed).stdout.strip()


def local_history(tmp_path, hub, name="work"):
    """A repo configured for the local Hub with two commits of its own (one LFS file, own .gitattributes)."""
    repo = tmp_path / name
    git("init", "-q", "-b", "main", str(repo))
    hf("init", "--endpoint", hub.url, cwd=repo, env=hub_env(hub))
    (repo / ".gitattributes").write_text("tokenizer.model -filter -text\n", )
    (repo / "tokenizer.model").write_text("plain text vocabulary\n")
    hf("commit", "-m", "first", cwd=repo, env=hub_env(hub))
    sparse_file(repo / "weights.safetensors", 2 * 1024**2, stamp=b"w")
    hf("commit", "-m", "second", cwd=repo, env=hub_env(hub))
    return repo


def test_push_create_lands_history_on_the_hubs_initial_commit(start_hub, tmp_path):
    hub = start_hub()
    repo = local_history(tmp_path, hub)
    mine = git("rev-list", "HEAD", cwd=repo).stdout.split()
    git("remote", "add", "origin", f"{hub.url}/alice/landed", cwd=repo)
    hf("create", "alice/landed", cwd=repo, env=hub_env(hub))
    initial = hub_initial_commit(hub, tmp_path, "alice/landed")

    dry = hf("push", "--dry-run", cwd=repo, env=hub_env(hub))
    assert "holds only the Hub's initial commit: the push would merge it" in dry.stderr
    assert git("rev-parse", "HEAD", cwd=repo).stdout.split() == mine[:1]  # the dry run changed nothing
    assert git("ls-remote", "origin", "refs/heads/main", cwd=repo).stdout.split()[0] == initial

    proc = hf("push", "--create", cwd=repo, env=hub_env(hub))

    assert "holds only the Hub's initial commit: merged it" in proc.stderr
    assert "[3/3] verify: ok: 1 LFS file (2.0 MiB)" in proc.stderr
    remote_tip = git("ls-remote", "origin", "refs/heads/main", cwd=repo).stdout.split()[0]
    assert remote_tip == git("rev-parse", "HEAD", cwd=repo).stdout.strip()
    parents = git("rev-list", "--parents", "-n", "1", "HEAD", cwd=repo).stdout.split()[1:]
    assert parents == [mine[0], initial]  # every commit of ours kept as is, the Hub's commit kept too
    attrs = git("show", "HEAD:.gitattributes", cwd=repo).stdout
    ours = git("show", f"{mine[0]}:.gitattributes", cwd=repo).stdout
    assert "tokenizer.model -filter -text\n" in ours and attrs.endswith(ours)  # ours last, verbatim: our rules win
    assert "*.7z filter=lfs" in attrs and "*.7z" not in ours  # the Hub's rules kept
    assert "*.model filter=lfs" not in attrs  # would have moved our git file tokenizer.model to LFS
    assert git("status", "--porcelain", cwd=repo).stdout == ""  # work tree clean after the merge
    # A later push is a plain fast-forward.
    (repo / "notes.txt").write_text("n\n")
    hf("commit", "-m", "third", cwd=repo, env=hub_env(hub))
    again = hf("push", cwd=repo, env=hub_env(hub))
    assert "initial commit" not in again.stderr


def test_push_onto_a_branch_with_other_commits_stops_with_the_matching_fix(start_hub, tmp_path):
    hub = start_hub()
    other = hub_clone(hub, tmp_path, "alice/shared", "other")
    (other / "theirs.txt").write_text("their work\n")
    hf("commit", "-m", "theirs", cwd=other, env=hub_env(hub))
    hf("push", cwd=other, env=hub_env(hub))
    theirs = git("rev-parse", "HEAD", cwd=other).stdout.strip()

    # A clone made before their push: related history, so `git pull --rebase` is the fix.
    stale = tmp_path / "stale"
    git("clone", "-q", authed(f"{hub.url}/alice/shared"), str(stale), env={"GIT_LFS_SKIP_SMUDGE": "1"})
    git("reset", "-q", "--hard", "HEAD~1", cwd=stale)
    (stale / "mine.txt").write_text("my work\n")
    git("add", "mine.txt", cwd=stale)
    git("commit", "-q", "-m", "mine", cwd=stale)
    proc = hf("push", cwd=stale, env=hub_env(hub), check=False)
    assert "[rejected]" in proc.stderr  # git's own message
    assert "push failed at step 2/3 (git push)" in proc.stderr
    assert "fix: origin/main has commits you do not have: `git pull --rebase origin main`" in proc.stderr

    # A history of its own (not built on the Hub's commits): the fix merges the unrelated history.
    repo = local_history(tmp_path, hub)
    git("remote", "add", "origin", f"{hub.url}/alice/shared", cwd=repo)
    proc = hf("push", cwd=repo, env=hub_env(hub), check=False)
    assert "holds a history unrelated to yours" in proc.stderr
    assert "`git pull --no-rebase --allow-unrelated-histories origin main`" in proc.stderr
    assert git("ls-remote", "origin", "refs/heads/main", cwd=repo).stdout.split()[0] == theirs


def test_push_to_a_missing_repo_names_create(hub, tmp_path):
    repo = local_history(tmp_path, hub)
    git("remote", "add", "origin", f"{hub.url}/alice/nope", cwd=repo)
    proc = hf("push", cwd=repo, env=hub_env(hub), check=False)
    assert "push failed at step 2/3 (git push)" in proc.stderr
    assert "fix: the Hub repo does not exist: create it with `git hf push --create`" in proc.stderr


def test_no_verify_is_refused_with_its_git_meaning(hub, tmp_path):
    repo = hub_clone(hub, tmp_path)
    proc = hf("push", "--no-verify", cwd=repo, env=hub_env(hub), check=False)
    assert proc.stderr.count("\n") == 1 and "pre-push hook" in proc.stderr and "--skip-verify" in proc.stderr


def test_git_push_options_pass_through(hub, tmp_path):
    repo = hub_clone(hub, tmp_path)
    (repo / "a.txt").write_text("a\n")
    hf("commit", "-m", "a", cwd=repo, env=hub_env(hub))
    git("tag", "v1", cwd=repo)
    # --tags also sends what only a tag reaches: the check looks at it too.
    git("checkout", "-q", "-b", "side", cwd=repo)
    (repo / "raw.dat").write_bytes(b"\0raw")
    git("add", "raw.dat", cwd=repo)
    git("commit", "-q", "-m", "raw", cwd=repo)
    git("tag", "bad", cwd=repo)
    git("checkout", "-q", "main", cwd=repo)
    stopped = hf("push", "--tags", cwd=repo, env=hub_env(hub), check=False)
    assert "raw.dat: binary file stored in git" in stopped.stdout and "step 1/3 (check)" in stopped.stderr
    git("tag", "-d", "bad", cwd=repo)
    # -o reaches git (the local Hub, like many servers, does not take push options: git says so).
    refused = hf("push", "-o", "ci.skip", "origin", "main", cwd=repo, env=hub_env(hub), check=False)
    assert "git push origin --push-option ci.skip main" in refused.stderr
    assert "the receiving end does not support push options" in refused.stderr
    proc = hf("push", "-u", "--tags", "--skip-verify", "origin", "main", cwd=repo, env=hub_env(hub))
    assert "git push origin --set-upstream --tags main" in proc.stderr
    assert "[3/3] verify: skipped (--skip-verify)" in proc.stderr
    assert "refs/tags/v1" in git("ls-remote", "--tags", "origin", cwd=repo).stdout
    # Rewrite the pushed commit: a plain push is rejected, --force-with-lease and -f go through.
    git("commit", "-q", "--amend", "-m", "a2", cwd=repo)
    hf("push", cwd=repo, env=hub_env(hub), check=False)
    hf("push", "--force-with-lease", cwd=repo, env=hub_env(hub))
    git("commit", "-q", "--amend", "-m", "a3", cwd=repo)
    hf("push", "-f", "origin", "HEAD:main", cwd=repo, env=hub_env(hub))
    assert git("ls-remote", "origin", "refs/heads/main", cwd=repo).stdout.split()[0] == \
        git("rev-parse", "HEAD", cwd=repo).stdout.strip()


def test_unknown_git_option_is_refused_with_a_way_out(hub, tmp_path):
    repo = hub_clone(hub, tmp_path)
    proc = hf("push", "--atomic", cwd=repo, env=hub_env(hub), check=False)
    assert "git hf push does not take --atomic" in proc.stderr and "plain `git push" in proc.stderr


def test_a_push_the_check_stops_does_not_merge_the_initial_commit(hub, tmp_path):
    repo = local_history(tmp_path, hub)
    git("remote", "add", "origin", f"{hub.url}/alice/checked", cwd=repo)
    (repo / "raw.dat").write_bytes(b"\0raw")
    git("add", "raw.dat", cwd=repo)
    git("commit", "-q", "-m", "raw", cwd=repo)
    head = git("rev-parse", "HEAD", cwd=repo).stdout
    proc = hf("push", "--create", cwd=repo, env=hub_env(hub), check=False)
    assert "push failed at step 1/3 (check)" in proc.stderr and "initial commit" not in proc.stderr
    assert git("rev-parse", "HEAD", cwd=repo).stdout == head  # the branch is as it was


def test_pushing_another_branch_name_says_the_hub_shows_main(hub, tmp_path):
    repo = local_history(tmp_path, hub)
    git("branch", "-m", "main", "master", cwd=repo)
    git("remote", "add", "origin", f"{hub.url}/alice/named", cwd=repo)
    proc = hf("push", "--create", "--skip-verify", cwd=repo, env=hub_env(hub))
    assert "note: origin has no branch 'master': this push creates it; the Hub shows `main`" in proc.stderr
    assert "`git hf push origin master:main`" in proc.stderr
    hf("push", "origin", "master:main", cwd=repo, env=hub_env(hub))  # the advice works: lands on the initial commit
    assert git("ls-remote", "origin", "refs/heads/main", cwd=repo).stdout.split()[0] == \
        git("rev-parse", "master", cwd=repo).stdout.strip()


def test_push_create_into_an_empty_repo_needs_no_merge(start_hub, tmp_path):
    hub = start_hub("--empty-repos")  # a Hub that creates repos without the initial commit
    repo = local_history(tmp_path, hub)
    git("remote", "add", "origin", f"{hub.url}/alice/empty", cwd=repo)
    mine = git("rev-parse", "HEAD", cwd=repo).stdout.strip()
    proc = hf("push", "--create", cwd=repo, env=hub_env(hub))
    assert "initial commit" not in proc.stderr and "[3/3] verify: ok: 1 LFS file" in proc.stderr
    assert git("ls-remote", "origin", "refs/heads/main", cwd=repo).stdout.split()[0] == mine
