"""``git hf commit [-m MSG] [PATHS ...]``: stage and commit, putting binary and large files into LFS.

The Hub rejects binary files and files over 10 MiB stored in git. This command
looks at each changed file *before* staging it (size from stat, binary from its
first 8000 bytes, the rule of :mod:`git_hf_agent.preflight`), appends tracking
lines to the root ``.gitattributes`` for those not yet tracked (``*.ext`` for
extensions that are always binary, or shared by several files and by no file
kept in git; otherwise the exact, escaped path), stages so that git-lfs's clean
filter turns them into pointers, confirms every one is a pointer in the index,
then runs ``git commit``. Before staging, it checks that the LFS object store
has room for the copies git-lfs makes, and shows progress while git-lfs hashes
and copies big files (:mod:`git_hf_agent.cli.lfsstage`). It never rewrites history and never discards a
change: everything goes through ``git add`` and ``git commit``. When it stops
with an error, the index (and ``.gitattributes``) are put back as they were;
a ``.gitattributes`` that is a symlink is refused, never written through.
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path, PurePosixPath

import click

from git_hf_agent import preflight
from git_hf_agent.cli import lfsstage
from git_hf_agent.errors import HfError
from git_hf_agent.gitrepo import GitRepo, git_lfs_version
from git_hf_agent.setup import append_no_follow, refuse_symlinked_gitattributes

LFS_ATTRS = "filter=lfs diff=lfs merge=lfs -text"
# Extensions the Hub's default .gitattributes sends to LFS: always binary, tracked by pattern.
BINARY_EXTS = {
    "7z", "arrow", "bin", "bz2", "ckpt", "ftz", "gguf", "gz", "h5", "joblib", "mlmodel", "model", "msgpack",
    "npy", "npz", "onnx", "ot", "parquet", "pb", "pickle", "pkl", "pt", "pth", "rar", "safetensors", "tar",
    "tflite", "tgz", "wasm", "xz", "zip", "zst", "jpg", "jpeg", "png", "gif", "webp", "mp3", "mp4", "wav",
    "flac", "ogg", "avi", "mkv", "tiff", "lz4", "db", "sqlite",
}
MIN_FILES_FOR_PATTERN = 3
SHOW_PER_PATTERN = 5
_GLOB_SPECIALS = "\\*?[]!#"


def escape_path(path: str) -> str:
    """A .gitattributes pattern matching exactly ``path`` from the repo root (git-lfs escapes spaces the same way)."""
    out = []
    for ch in path:
        if ch in _GLOB_SPECIALS:
            out.append("\\" + ch)
        elif ch.isspace():
            out.append("[[:space:]]")
        else:
            out.append(ch)
    return "/" + "".join(out)


def choose_patterns(todo: dict[str, str], kept_in_git: set[str]) -> dict[str, list[str]]:
    """Map each .gitattributes pattern to the paths it tracks.

    ``todo`` maps path -> reason it needs LFS; ``kept_in_git`` are paths that stay
    regular git files (an extension shared with one of them is never tracked by pattern).
    """
    by_ext: dict[str, list[str]] = defaultdict(list)
    for path in todo:
        by_ext[PurePosixPath(path).suffix[1:]].append(path)
    blocked = {PurePosixPath(p).suffix[1:] for p in kept_in_git}
    patterns: dict[str, list[str]] = {}
    for ext, paths in sorted(by_ext.items()):
        sensible = ext and ext.isalnum() and ext not in blocked and (
            ext.lower() in BINARY_EXTS or len(paths) >= MIN_FILES_FOR_PATTERN)
        if sensible:
            patterns[f"*.{ext}"] = sorted(paths)
        else:
            patterns.update({escape_path(p): [p] for p in sorted(paths)})
    return patterns


def _ensure_lfs(repo: GitRepo) -> None:
    """Make sure staging produces pointers and pushing uploads objects: git-lfs present and set up here."""
    if git_lfs_version() is None:
        raise HfError("git-lfs is not installed, so large and binary files cannot be committed for the Hub",
                      fix="install git-lfs (`apt-get install git-lfs` or `brew install git-lfs`), then `git hf init`")
    if repo.lfs_filter_missing():
        repo.git("lfs", "install", "--local")
        click.echo("git-lfs was not set up in this repo: ran `git lfs install --local` (repo-local filter and hooks)")


def _changed_files(repo: GitRepo, paths: tuple[str, ...]) -> list[tuple[str, str]]:
    """(XY, path) of changed regular files present in the work tree."""
    root = repo.workdir
    out = []
    for xy, path in repo.status(paths):
        full = root / path
        if full.is_file() and not full.is_symlink():
            out.append((xy, path))
    return out


def _needs_lfs(full: Path) -> str | None:
    size = full.stat().st_size
    head = b""
    if size <= preflight.NON_LFS_MAX:
        with open(full, "rb") as fh:
            head = fh.read(preflight.BINARY_SNIFF)
    return preflight.needs_lfs(size, head)


def _kept_in_git(repo: GitRepo, exts: set[str], todo: dict[str, str], changed: list[str]) -> set[str]:
    """Paths with one of ``exts`` that stay regular git files: changed ones not needing LFS, committed non-pointers."""
    def wanted(p: str) -> bool:
        return PurePosixPath(p).suffix[1:] in exts and p not in todo
    kept = {p for p in changed if wanted(p)}
    if not repo.repo.head_is_unborn:
        files, _ = repo.tree_files(repo.commit("HEAD"))
        kept |= {b.path for b in files if wanted(b.path) and repo.pointer(b.oid) is None}
    return kept


def _track(repo: GitRepo, patterns: dict[str, list[str]], todo: dict[str, str]) -> None:
    """Append the tracking lines to the root .gitattributes and tell the user what and why."""
    attributes = repo.workdir / ".gitattributes"
    existing = attributes.read_bytes() if attributes.exists() else b""
    lines = "".join(f"{pattern} {LFS_ATTRS}\n" for pattern in patterns)
    sep = b"" if not existing or existing.endswith(b"\n") else b"\n"
    append_no_follow(attributes, sep + lines.encode("utf-8", errors="surrogateescape"))
    click.echo("tracking with LFS (added to .gitattributes):")
    for pattern, paths in patterns.items():
        for path in paths[:SHOW_PER_PATTERN]:
            click.echo(f"  {pattern:<24} {path}: {todo[path]}")
        if len(paths) > SHOW_PER_PATTERN:
            click.echo(f"  {pattern:<24} ... and {len(paths) - SHOW_PER_PATTERN} more")


def _stage(repo: GitRepo, paths: tuple[str, ...], restage: list[str]) -> None:
    repo.git("add", "-A", "--", *paths)
    if restage:
        # Already in the index as regular blobs with an unchanged stat: only --renormalize re-runs the filter.
        repo.git("add", "--renormalize", "--", *restage)


def _confirm_pointers(repo: GitRepo, paths: list[str]) -> None:
    """Refuse to commit when a file meant for LFS is staged as a regular blob (git-lfs keeps empty files in git)."""
    nonempty = [p for p in paths if (repo.workdir / p).stat().st_size > 0]
    not_pointers = [p for p, ptr in repo.index_pointers(nonempty).items() if ptr is None]
    if not_pointers:
        raise HfError(
            f"{len(not_pointers)} file{'s' * (len(not_pointers) != 1)} meant for LFS staged as regular git content, "
            f"not as LFS pointers: {', '.join(not_pointers[:5])}; nothing was committed",
            fix="check `git lfs env` and `git check-attr filter -- FILE`, run `git hf init`, then `git hf commit` again")


def _default_message(repo: GitRepo, pathspec: list[str]) -> str:
    out = repo.git("diff", "--cached", "--name-status", "-z", "--no-renames", "--", *pathspec).stdout.decode(errors="replace")
    fields = [f for f in out.split("\0") if f]
    changes = list(zip(fields[0::2], fields[1::2]))
    if len(changes) == 1:
        verb = {"A": "Add", "D": "Delete"}.get(changes[0][0], "Update")
        return f"{verb} {changes[0][1]}"
    counts = {"add": 0, "update": 0, "delete": 0}
    for status, _ in changes:
        counts[{"A": "add", "D": "delete"}.get(status, "update")] += 1
    text = ", ".join(f"{verb} {n} file{'s' * (n != 1)}" for verb, n in counts.items() if n)
    return text[0].upper() + text[1:]


@click.command("commit")
@click.option("-m", "--message", help="Commit message (default: a summary of the changes).")
@click.argument("paths", nargs=-1, type=click.Path())
def cli(message: str | None, paths: tuple[str, ...]) -> None:
    """Stage all changes (or PATHS) and commit, putting binary and > 10 MiB files into LFS."""
    repo = GitRepo()
    root = repo.workdir
    rel = tuple(os.path.relpath(os.path.abspath(p), root) for p in paths)
    refuse_symlinked_gitattributes(root / ".gitattributes", "git hf commit")
    _ensure_lfs(repo)
    attributes = root / ".gitattributes"
    before = attributes.read_bytes() if attributes.is_file() else None
    try:
        with repo.index_restored_on_error():
            _commit(repo, rel, paths, message)
    except BaseException:
        _put_back(attributes, before)
        raise


def _put_back(attributes: Path, before: bytes | None) -> None:
    """Undo this command's .gitattributes additions after an error (it was ``before``, None = absent)."""
    if attributes.is_symlink():
        return
    if before is None:
        attributes.unlink(missing_ok=True)
    elif attributes.is_file() and attributes.read_bytes() != before:
        attributes.write_bytes(before)


def _commit(repo: GitRepo, rel: tuple[str, ...], paths: tuple[str, ...], message: str | None) -> None:
    """Track, stage, confirm pointers and commit (the index is restored by the caller on error)."""
    root = repo.workdir
    changed = _changed_files(repo, rel)
    names = [p for _, p in changed]
    already = repo.lfs_tracked(names)
    todo = {p: why for p in names if p not in already and (why := _needs_lfs(root / p))}
    lfs_paths = sorted(set(todo) | already)
    staged = [p for xy, p in changed if p in lfs_paths and xy[0] not in " ?" and xy[1] == " "]
    staged_clean = [p for p, ptr in repo.index_pointers(staged).items() if ptr is None]
    unstaged = [p for xy, p in changed if p in lfs_paths and xy[1] != " "]
    lfsstage.check_room(repo, unstaged + staged_clean)  # before anything is written
    if todo:
        exts = {PurePosixPath(p).suffix[1:] for p in todo} - {""}
        _track(repo, choose_patterns(todo, _kept_in_git(repo, exts, todo, names)), todo)
    if lfsstage.stage_with_progress(repo, unstaged, staged_clean):  # big files: git-lfs's work shown
        staged_clean = []  # re-staged there already
    pathspec = list(rel) + ([".gitattributes"] if rel and todo else [])
    _stage(repo, tuple(pathspec), staged_clean)
    _confirm_pointers(repo, lfs_paths)
    if repo.git("diff", "--cached", "--quiet", "--", *pathspec, check=False).returncode == 0:
        click.echo("nothing to commit: the work tree matches HEAD" + (f" for {', '.join(paths)}" if paths else ""))
        return
    msg = message or _default_message(repo, pathspec)
    proc = repo.git("commit", "-m", msg, *(["--", *pathspec] if pathspec else []), capture=False, check=False)
    if proc.returncode != 0:
        raise HfError(f"git commit failed (exit {proc.returncode}); the index and .gitattributes are as before, "
                      "your files are untouched",
                      fix="read git's message above, fix it, then run `git hf commit` again")
