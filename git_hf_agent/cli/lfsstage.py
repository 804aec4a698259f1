"""``git hf commit``'s staging of files bound for LFS: disk space first, then progress (issue 10 item 6).

``git add`` runs git-lfs's clean filter, which hashes each file and copies it
into the LFS object store: a 6 GiB file takes about 45 s, silently. Here the
free space of the object store is checked before anything is staged
(:mod:`git_hf_agent.diskspace`), and big files are staged in batches while the
growth of git-lfs's temp file (``<lfs storage>/tmp``) is shown: bytes done, rate,
ETA, and which file. The later ``git add -A`` of ``git hf commit`` then finds
these files staged with an unchanged stat and does not clean them again.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import click

from git_hf_agent import diskspace
from git_hf_agent.cli.live import Live
from git_hf_agent.cli.pushview import eta_text, rate_text
from git_hf_agent.errors import HfError
from git_hf_agent.gitrepo import GitRepo
from git_hf_agent.units import format_size

PROGRESS_FROM = 256 * 1024**2   # below this in all, git add is quick enough to run silently
BATCH_BYTES = 64 * 1024**2  # a file this big is staged on its own, so the line names it
BATCH_FILES = 500
POLL_S = 0.5


def _batches(paths: list[str], sizes: dict[str, int]) -> list[list[str]]:
    """Consecutive groups of at most 500 files and about 64 MiB (a bigger file alone), for progress between git adds."""
    out: list[list[str]] = []
    size = 0
    for path in paths:
        if not out or len(out[-1]) >= BATCH_FILES or size >= BATCH_BYTES or sizes[path] >= BATCH_BYTES:
            out.append([])
            size = 0
        out[-1].append(path)
        size += sizes[path]
    return out


def _in_progress(tmp: Path, stale: set[Path]) -> int:
    """Bytes git-lfs has written so far into the temp files of the files it is cleaning now."""
    total = 0
    try:
        for entry in tmp.iterdir():
            if entry not in stale:
                try:
                    total += entry.stat().st_size
                except OSError:
                    continue  # renamed into the store meanwhile
    except OSError:
        pass
    return total


def progress_line(done: int, total: int, took: float, index: int, count: int, path: str) -> str:
    """``git-lfs: 2.1 GiB of 6.0 GiB (35%) hashed and stored, 140.2 MiB/s, ETA 0:28; file 3 of 10: x.bin``."""
    text = f"git-lfs: {format_size(done)} of {format_size(total)} ({100 * done / total:.0f}%) hashed and stored"
    if took > 0 and done > 0:
        rate = done / took
        text += f", {rate_text(rate)}, ETA {eta_text((total - done) / rate)}"
    return text + f"; file {index} of {count}: {path}"


def _sizes(repo: GitRepo, paths: list[str]) -> dict[str, int]:
    return {p: (repo.workdir / p).stat().st_size for p in paths}


def check_room(repo: GitRepo, paths: list[str]) -> None:
    """HfError with the numbers and a fix when the LFS store lacks room for git-lfs's copies of ``paths``."""
    total = sum(_sizes(repo, paths).values())
    if total:
        store, _ = diskspace.lfs_dirs(repo.workdir)
        n = len(paths)
        diskspace.require({store: total}, f"git-lfs copying {n} file{'s' * (n != 1)} into its object store")


def stage_with_progress(repo: GitRepo, clean: list[str], restage: list[str]) -> bool:
    """Stage ``clean`` (``git add``) and ``restage`` (``git add --renormalize``: staged as plain blobs
    before) in batches with progress, when they are big in all; True when done here."""
    sizes = _sizes(repo, clean + restage)
    big = sum(sizes.values())
    if big < PROGRESS_FROM:
        return False  # the normal `git add` stages them quickly
    _, tmp = diskspace.lfs_dirs(repo.workdir)
    stale = set(tmp.iterdir()) if tmp.is_dir() else set()
    live, done, start, index, count = Live(), 0, time.monotonic(), 1, len(sizes)
    for paths, extra in ((clean, []), (restage, ["--renormalize"])):
        for batch in _batches(paths, sizes):
            proc = _git_add(repo, batch, extra)
            while proc.poll() is None:
                now = min(big, done + _in_progress(tmp, stale))
                live.update([progress_line(now, big, time.monotonic() - start, index, count, batch[0])])
                time.sleep(POLL_S)
            if proc.returncode != 0:
                live.close()
                raise HfError(f"git add failed while git-lfs stored {batch[0]}: "
                              f"{proc.stderr.read().decode(errors='replace').strip()}",
                              "nothing was committed and your files are untouched; fix what git reported, "
                              "then `git hf commit` again")
            done += sum(sizes[p] for p in batch)
            index += len(batch)
    live.close()
    took = time.monotonic() - start
    click.echo(f"git-lfs: {count} file{'s' * (count != 1)} ({format_size(big)}) hashed and stored in "
               f"{took:.1f} s ({rate_text(big / took if took else 0)})", err=True)
    return True


def _git_add(repo: GitRepo, paths: list[str], extra: list[str]) -> subprocess.Popen:
    """``git add [extra] -- paths`` (literal paths, read from stdin), running in the background."""
    proc = subprocess.Popen(["git", "--literal-pathspecs", "add", *extra, "--pathspec-from-file=-", "--pathspec-file-nul"],
                            cwd=repo.workdir, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdin.write("".join(f"{p}\0" for p in paths).encode("utf-8", errors="surrogateescape"))
    proc.stdin.close()
    return proc
