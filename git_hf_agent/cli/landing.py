"""Land a local history on a Hub branch that holds only the Hub's initial commit (issue 10 item 4).

The Hub creates every repo with one commit holding its default ``.gitattributes``.
A local history that does not build on it is rejected by git (``fetch first``).
``git hf push`` then makes one merge commit, never a rewrite: its parents are the
user's tip (every commit the user made keeps its id) and the Hub's initial commit
(so the push is a fast-forward and nothing on the Hub is overwritten). Its tree is
the user's tree with a merged ``.gitattributes``:

- the Hub's lines come first and the user's file follows verbatim, because a later
  line wins in ``.gitattributes``: every rule the user wrote keeps its effect;
- a Hub line is left out when the user's file already has a line for that pattern,
  or when it would send a file the user keeps in git (not LFS) through the LFS
  filter (that file would suddenly show as modified).

Anything else on the remote branch (more than that one commit, other files, a
parent) is the user's or a collaborator's work: never merged or overwritten here;
git's rejection stands and the fix is ``git pull --rebase``.
"""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass

import click
import pygit2

from git_hf_agent.errors import HfError
from git_hf_agent.gitrepo import GitRepo

ATTRIBUTES = ".gitattributes"
BLOB_MODE = 0o100644
MESSAGE = ("Merge the Hub's initial commit\n\n"
           "git hf push: the Hub created this repo with a commit holding its default .gitattributes;\n"
           "its LFS rules are merged into ours (ours win), so the push needs no --force.\n")


@dataclass(frozen=True)
class Landing:
    """What was done to land ``rev`` on the remote branch: the new tip and the Hub lines kept/skipped."""

    tip: str
    hub_commit: str
    added: list[str]
    skipped: list[str]


def remote_heads(repo: GitRepo, remote: str) -> dict[str, str] | None:
    """Branch -> commit id on ``remote`` (``git ls-remote --heads``); None when it cannot be asked (git will say why)."""
    proc = repo.git("ls-remote", "--heads", remote, check=False)
    if proc.returncode != 0:
        return None
    heads = {}
    for line in proc.stdout.decode(errors="replace").splitlines():
        sha, _, ref = line.partition("\t")
        heads[ref.removeprefix("refs/heads/")] = sha
    return heads


def is_ancestor(repo: GitRepo, old: str, new: str) -> bool:
    """True when commit ``old`` is known here and is ``new`` or an ancestor of it."""
    try:
        a, b = pygit2.Oid(hex=old), repo.commit(new).id
        return a == b or repo.repo.descendant_of(b, a)
    except (KeyError, ValueError, pygit2.GitError, HfError):
        return False


def related(repo: GitRepo, a: str, b: str) -> bool:
    """True when commits ``a`` and ``b`` share history (a merge base exists)."""
    try:
        return repo.repo.merge_base(pygit2.Oid(hex=a), repo.commit(b).id) is not None
    except (KeyError, ValueError, pygit2.GitError, HfError):
        return True  # when unsure, the usual advice (`git pull --rebase`) stands


def fetch(repo: GitRepo, remote: str, branch: str) -> str | None:
    """Fetch ``branch`` of ``remote`` (git objects only, no LFS content); its commit id, or None on failure."""
    proc = repo.git("fetch", "--quiet", "--no-tags", remote, f"refs/heads/{branch}", check=False)
    if proc.returncode != 0:
        return None
    return repo.git("rev-parse", "FETCH_HEAD").stdout.decode().strip()


def hub_initial_attributes(repo: GitRepo, sha: str) -> bytes | None:
    """The ``.gitattributes`` of ``sha`` when it is the Hub's initial commit (no parent, that file only), else None."""
    commit = repo.repo[pygit2.Oid(hex=sha)].peel(pygit2.Commit)
    entries = list(commit.tree)
    if commit.parents or len(entries) != 1 or entries[0].name != ATTRIBUTES or entries[0].filemode != BLOB_MODE:
        return None
    return repo.repo[entries[0].id].data


def _pattern(line: str) -> str | None:
    text = line.strip()
    return None if not text or text.startswith("#") else text.split()[0]


def _sends_git_file_to_lfs(lines: list[str], git_files: list[str]) -> set[str]:
    """Which of ``lines`` would put one of ``git_files`` (kept in git, not LFS) through the LFS filter.

    Asked of git itself, so the answer follows git's own pattern rules: one
    ``check-attr --all`` in a scratch repo where line ``i`` sets attribute ``hf-line-i``.
    """
    if not git_files or not lines:
        return set()
    marked = "".join(f"{_pattern(line)} hf-line-{i}\n" for i, line in enumerate(lines))
    data = "".join(f"{p}\0" for p in git_files).encode("utf-8", errors="surrogateescape")
    with tempfile.TemporaryDirectory(prefix="git-hf-attrs-") as scratch:
        subprocess.run(["git", "init", "-q", scratch], check=True, capture_output=True)
        with open(f"{scratch}/{ATTRIBUTES}", "w", encoding="utf-8", errors="surrogateescape") as fh:
            fh.write(marked)
        out = subprocess.run(["git", "check-attr", "-z", "--stdin", "--all"], cwd=scratch, input=data,
                             capture_output=True, check=True).stdout.decode(errors="replace").split("\0")
    hit = {int(out[i + 1].removeprefix("hf-line-")) for i in range(0, len(out) - 2, 3) if out[i + 1].startswith("hf-line-")}
    return {lines[i] for i in hit}


def merge_attributes(ours: bytes, hub: bytes, git_files: list[str]) -> tuple[bytes, list[str], list[str]]:
    """(merged file, Hub lines added, Hub lines skipped): Hub lines first, ours verbatim after (ours win)."""
    mine = {p for line in ours.decode(errors="replace").splitlines() if (p := _pattern(line))}
    candidates = [line for line in hub.decode(errors="replace").splitlines() if _pattern(line)]
    new = [line for line in candidates if _pattern(line) not in mine]
    harmful = _sends_git_file_to_lfs(new, git_files)
    added = [line for line in new if line not in harmful]
    skipped = [line for line in candidates if line not in added]
    head = "".join(f"{line}\n" for line in added).encode()
    return head + ours, added, skipped


def _git_files(repo: GitRepo, commit: pygit2.Commit) -> list[str]:
    """Paths of ``commit``'s tree that git holds as regular files (not LFS pointers, not .gitattributes)."""
    files, _ = repo.tree_files(commit)
    return [b.path for b in files if b.path != ATTRIBUTES and repo.pointer(b.oid) is None]


def merge_commit(repo: GitRepo, rev: str, hub_sha: str, hub_attrs: bytes) -> Landing:
    """Write the merge commit of ``rev`` and the Hub's initial commit (objects only; no ref moves)."""
    commit = repo.commit(rev)
    tree = commit.tree
    ours = repo.repo[tree[ATTRIBUTES].id].data if ATTRIBUTES in tree else b""
    merged, added, skipped = merge_attributes(ours, hub_attrs, _git_files(repo, commit))
    builder = repo.repo.TreeBuilder(tree)
    builder.insert(ATTRIBUTES, repo.repo.create_blob(merged), BLOB_MODE)
    new_tree = str(builder.write())
    # git commit-tree so that the user's identity, dates and signing config apply as for any commit.
    tip = repo.git("commit-tree", new_tree, "-p", str(commit.id), "-p", hub_sha, input=MESSAGE.encode()).stdout
    return Landing(tip.decode().strip(), hub_sha, added, skipped)


def move_local(repo: GitRepo, src: str, old: str, tip: str) -> str:
    """Make the local side of the push point at ``tip``; returns what to push from.

    The checked-out branch is fast-forwarded with ``git merge --ff-only`` (git refuses,
    losing nothing, when an uncommitted ``.gitattributes`` change is in the way);
    another branch is moved with ``update-ref`` guarded by its old value; a bare
    commit id is pushed as the new commit itself.
    """
    current = repo.current_branch()
    if src in ("HEAD", current, f"refs/heads/{current}") and current:
        proc = repo.git("merge", "--ff-only", "--quiet", tip, check=False)
        if proc.returncode != 0:
            detail = proc.stderr.decode(errors="replace").strip()
            raise HfError(f"could not move {current} onto the merge with the Hub's initial commit: {detail}",
                          "commit or stash your .gitattributes change, then `git hf push` again")
        return src
    name = src if src.startswith("refs/heads/") else f"refs/heads/{src}"
    if name in repo.repo.references:
        repo.git("update-ref", "-m", "git hf push: merge the Hub's initial commit", name, tip, old)
        return src
    return tip


def land(repo: GitRepo, remote: str, targets: list, dry_run: bool) -> dict[str, str]:
    """For ``git hf push``: build on the Hub's initial commit where a target branch holds only that.

    ``targets`` are :class:`git_hf_agent.cli.push.Target`; a landed one is updated in place.
    Returns, per Hub branch git will reject for another reason, a fix fitted to it.
    """
    todo = [t for t in targets if t.branch and not t.forced]
    heads = (remote_heads(repo, remote) or {}) if todo else {}
    hints = {}
    for t in todo:
        old = heads.get(t.dst)
        if old is None and heads and "main" in heads and t.dst != "main":
            click.echo(f"note: {remote} has no branch {t.dst!r}: this push creates it; the Hub shows `main`. "
                       f"To publish on main: `git hf push {remote} {t.src}:main`", err=True)
        if old is not None and not is_ancestor(repo, old, t.src):
            hint = _land_one(repo, remote, t, dry_run)
            if hint:
                hints[t.dst] = hint
    return hints


def _land_one(repo: GitRepo, remote: str, t, dry_run: bool) -> str | None:
    """Merge the Hub's initial commit under target ``t`` if that is all its branch holds; else maybe a hint."""
    fetched = fetch(repo, remote, t.dst)
    if fetched is None or is_ancestor(repo, fetched, t.src):
        return None
    hub_attrs = hub_initial_attributes(repo, fetched)
    if hub_attrs is None:  # someone's work: git rejects the push
        if related(repo, fetched, t.src):
            return None
        return (f"{remote}/{t.dst} holds a history unrelated to yours: merge it with "
                f"`git pull --no-rebase --allow-unrelated-histories {remote} {t.dst}`, then `git hf push` again")
    if dry_run:
        click.echo(f"{remote}/{t.dst} holds only the Hub's initial commit: the push would merge it "
                   "(one merge commit keeping the Hub's .gitattributes rules, yours win)", err=True)
        return None
    done = merge_commit(repo, t.src, fetched, hub_attrs)
    new_src = move_local(repo, t.src, str(repo.commit(t.src).id), done.tip)
    prefix = "+" if t.spec.startswith("+") else ""
    t.spec, t.src = f"{prefix}{new_src}:refs/heads/{t.dst}", new_src
    left_out = f", leaving out {len(done.skipped)} yours cover or that would move your git files to LFS" if done.skipped else ""
    click.echo(f"{remote}/{t.dst} holds only the Hub's initial commit: merged it ({done.tip[:10]}), "
               f"adding {len(done.added)} of its .gitattributes lines{left_out}", err=True)
    return None
