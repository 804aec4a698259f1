"""``git hf clone``'s download: HEAD's LFS objects fetched straight into the object store, then checked out.

``git lfs pull`` hands each object to the transfer agent and, after the agent's
``complete``, hashes the whole file a second time itself before it renames it
into ``.git/lfs/objects``. git-lfs 3.3 (built with Go 1.19) hashes at about
280 MB/s on one core, so for a big object that second pass takes about as long
as the parallel download did. The agent's engine has already checked the sha256
while the file filled, so ``git hf clone`` runs that engine in this process
(the same ranges, retries, resume state, fetching ahead and log as the agent),
renames each verified file into place itself, and :func:`check_out` fills the
work tree from the local store (no network, no second hash).

With ``--include`` patterns (git-lfs's own path matching decides) the clone
keeps using ``git lfs pull``.
"""

from __future__ import annotations

import concurrent.futures as cf
import os
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from git_hf_agent.errors import HfError
from git_hf_agent.units import format_size


DEFAULT_CONCURRENT = 8   # git-lfs's lfs.concurrenttransfers default
MAX_CONCURRENT = 16
MAX_RANGES = 128         # range downloads in flight at once in git hf clone (each holds up to a 1 MiB block)


@contextmanager
def _inside(repo: Path) -> Iterator[None]:
    """Run with ``repo`` as the working directory (git config and git-lfs paths are read from there)."""
    before = os.getcwd()
    os.chdir(repo)
    try:
        yield
    finally:
        os.chdir(before)


def agent_options():
    """The agent's options as the repo sets them (``lfs.customtransfer.multipart.args``, e.g. from
    ``git hf init --parallel N``), so this download behaves like the agent git-lfs would start."""
    import shlex

    from git_hf_agent.agent.main import parse_args
    from git_hf_agent.gitconfig import GitConfig

    text = GitConfig().get("lfs.customtransfer.multipart.args") or ""
    try:
        return parse_args(shlex.split(text))
    except (ValueError, SystemExit) as exc:
        raise HfError(f"lfs.customtransfer.multipart.args is not valid ({exc})", "run `git hf init` to rewrite it") from None


def fetch_head_objects(repo: Path, say: Callable[[str], None], *, remote: str = "origin",
                       ready: dict[str, Path] | None = None) -> tuple[int, int]:
    """Download every LFS object of HEAD missing from ``repo``'s store; (objects, bytes) fetched.

    With ``ready``, each big object (more than one range) is also copied, range by
    range as its sha256 advances, to a file of its own: ``ready[oid]`` names it once
    the object is verified, for :func:`check_out` to move into the work tree (the
    caller removes what is not used). HfError naming the object and the retry
    command when one cannot be fetched; what was fetched stays (in place, or as
    resumable ranges).
    """
    from git_hf_agent.agent.dlbatch import DownloadBatch
    from git_hf_agent.agent.download import DownloadEngine, Job
    from git_hf_agent.agent.http import Transport
    from git_hf_agent.agent.log import Log
    from git_hf_agent.agent.download import DEFAULT_RANGE_SIZE
    from git_hf_agent.agent.main import LOG_NAME
    from git_hf_agent.agent.prefetch import head_pointers
    from git_hf_agent.agent.retry import Policy
    from git_hf_agent.agent.state import lfs_dir, mirror_path, object_path
    from git_hf_agent.agent.upload import ObjectFailed

    with _inside(repo):
        storage = lfs_dir()
        missing = [(oid, size) for oid, size in _listed(head_pointers, repo) if not object_path(storage, oid).is_file()]
        if not missing:
            return 0, 0
        total = sum(size for _, size in missing)
        say(f"downloading {len(missing)} LFS file(s), {format_size(total)}")
        a = agent_options()
        range_size = a.range_size or DEFAULT_RANGE_SIZE
        workers = 2 * a.parallel   # objects of one range or less at a time (each one GET)
        small = [item for item in missing if item[1] <= range_size]
        big = [item for item in missing if item[1] > range_size]
        # big objects at once, each with --parallel ranges; never more than MAX_RANGES connections in all
        at_once = max(1, min(concurrent_objects(), len(big), MAX_RANGES // a.parallel))
        quiet = open(os.devnull, "w")   # the agent's human lines are for GIT_TRACE; the log file keeps the events
        log = Log(a.log or str(storage / "logs" / LOG_NAME), verbose=a.verbose, stderr=quiet)
        transport = Transport(log, parallel=max(at_once * a.parallel, workers), timeout=a.timeout)
        # Objects run side by side here (no git-lfs handing them out one per process), so nothing is fetched ahead.
        engine = DownloadEngine(transport, Policy(max_attempts=a.max_attempts, backoff=a.backoff),
                                DownloadBatch(transport, remote), log, parallel=at_once * a.parallel,
                                per_object=a.parallel, storage=storage, range_size=range_size, ahead=0)
        progress = _Progress(len(missing), total)

        def one(item: tuple[str, int]) -> None:
            oid, size = item
            mirror = _mirror(mirror_path(engine.temp_dir, oid), size) if ready is not None and size > range_size else None
            if mirror is not None:
                ready[oid] = mirror.path   # listed at once: the caller removes it whatever happens, even while
                # this thread still runs (a failure elsewhere or Ctrl-C does not wait for it)
            try:
                handed = engine.download(Job(oid, size, None, progress.emit, mirror=mirror))
            except ObjectFailed as failed:
                raise HfError(failed.message, f"run `git lfs pull` in {repo} to retry; what arrived is kept") from None
            finally:
                if mirror is not None:
                    mirror.close()
            if mirror is not None and not mirror.complete():
                ready.pop(oid).unlink(missing_ok=True)   # check_out copies the object instead
            target = object_path(storage, oid)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(handed, target)
            progress.done(size)

        try:
            _each(one, small, workers, "git-hf-clone", engine.stop)
            _each(one, big, at_once, "git-hf-clone-big", engine.stop)
        finally:
            progress.close()
            engine.close()
            log.close()
            quiet.close()
        return len(missing), total


def _listed(lister, repo: Path) -> list:
    """HEAD's LFS pointers as ``lister`` gives them, or HfError: a clone that could not list them would
    otherwise report every file downloaded while leaving pointers."""
    from git_hf_agent.agent.prefetch import ListingFailed

    try:
        return lister(strict=True)
    except ListingFailed as exc:
        raise HfError(f"could not list the LFS files of {repo} ({exc})",
                      f"run `git lfs pull` in {repo} to download them") from None


def concurrent_objects() -> int:
    """How many big objects ``git hf clone`` downloads at once: as many as git-lfs would hand to agent
    processes in a plain ``git clone`` (``lfs.concurrenttransfers``, default 8; kept within 1..16)."""
    from git_hf_agent.gitconfig import GitConfig

    text = (GitConfig().get("lfs.concurrenttransfers") or "").strip()
    try:
        value = int(text) if text else DEFAULT_CONCURRENT
    except ValueError:
        value = DEFAULT_CONCURRENT
    return max(1, min(value, MAX_CONCURRENT))


def _each(one: Callable[[tuple[str, int]], None], items: list[tuple[str, int]], workers: int, name: str,
          stop: Callable[[], None]) -> None:
    """``one(item)`` for every item, ``workers`` at a time. The first failure, Ctrl-C or SIGTERM calls
    ``stop`` (downloads still running end at their next block; what arrived is kept for ``git lfs pull``)
    and is raised at once, without waiting for them."""
    if not items:
        return
    pool = cf.ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
    try:
        for future in cf.as_completed([pool.submit(one, item) for item in items]):
            if future.exception() is not None:
                raise future.exception()
    except BaseException:
        stop()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def _mirror(path: Path, size: int):
    """A work tree copy to fill while the object downloads; None when it cannot be created (the
    object is copied after its download instead)."""
    from git_hf_agent.agent.ranges import Mirror

    try:
        return Mirror(path, size)
    except OSError:
        return None


class _Progress:
    """What the user sees while the objects download: a status line (redrawn on a terminal, a line every
    few seconds elsewhere) with the bytes arrived, files done and rate; a kept line per big object and at
    the end."""

    def __init__(self, count: int, total: int) -> None:
        from git_hf_agent.cli.live import Live
        from git_hf_agent.cli.pushview import eta_text

        self.count, self.total = count, total
        self._eta = eta_text
        self.objects = self.bytes = self.arrived = 0
        self.started = time.monotonic()
        self.lock = threading.Lock()
        self.live = Live()

    def _took(self) -> float:
        return max(time.monotonic() - self.started, 1e-6)

    def _rate(self, nbytes: int) -> str:
        return f"{nbytes / self._took() / 1e6:.1f} MB/s"

    def emit(self, _so_far: int, since: int) -> None:
        """An object's progress event (bytes new since its last one)."""
        with self.lock:
            self.arrived = min(self.arrived + since, self.total)
            eta = f", ETA {self._eta((self.total - self.arrived) * self._took() / self.arrived)}" if self.arrived else ""
            line = (f"downloading: {format_size(self.arrived)} of {format_size(self.total)}, "
                    f"{self.objects}/{self.count} files done ({self._rate(self.arrived)}{eta})")
        self.live.update([line])

    def done(self, size: int) -> None:
        with self.lock:
            self.objects += 1
            self.bytes += size
            line = (f"[{self.objects}/{self.count}] {format_size(self.bytes)} of {format_size(self.total)} "
                    f"({self._rate(self.bytes)})")
            keep = size >= 64 << 20 or self.objects == self.count
        if keep:
            self.live.log(line)

    def close(self) -> None:
        self.live.close()


def check_out(repo: Path, ready: dict[str, Path] | None = None) -> None:
    """Write HEAD's LFS files, now in the store, into the fresh clone's work tree.

    ``git lfs checkout`` would copy them and then have git refresh the index,
    which runs git-lfs's clean filter over every file: one more full sha256 pass;
    git's own checkout through the smudge filter pipes every byte through git,
    which holds the file in memory before writing it. So the kernel copies each
    object over its pointer file and the index gets the new stat data
    (:mod:`git_hf_agent.cli.lfsworktree`). Files that module leaves (not
    ``filter=lfs``, ``lockable``, converted on checkout, an index it cannot use) go through git's
    checkout: their pointer files are removed (only files that are still exactly
    a pointer) and git checks those paths out again; git-lfs finds every object
    locally. If git fails, ``git lfs checkout`` restores what is missing.
    ``ready``: copies made during the download (moved into place, not copied again).
    """
    import subprocess

    from git_hf_agent import gitindex
    from git_hf_agent.agent.prefetch import head_pointer_paths
    from git_hf_agent.agent.state import lfs_dir, object_path
    from git_hf_agent.cli import lfsworktree
    from git_hf_agent.lfspointer import parse as parse_pointer

    with _inside(repo):
        storage = lfs_dir()
        local = [(path, oid, object_path(storage, oid)) for path, oid, _size in _listed(head_pointer_paths, repo)]
        local = [item for item in local if item[2].is_file()]
        try:
            placed = lfsworktree.place(local, ready)
        except gitindex.IndexUnusable:
            placed = set()   # git's checkout below does it all
        except OSError as exc:
            raise HfError(f"writing the LFS files into the work tree failed: {exc}",
                          f"make room if the disk is full, then run `git lfs checkout` in {repo}") from None
        removed = []
        for path, oid, _object in local:
            name = os.fsdecode(path)
            head = None if path in placed else lfsworktree.pointer_text(name)
            # with eol=crlf, git wrote the skipped smudge's pointer with CRLF line ends
            if head is not None and parse_pointer(head.replace(b"\r\n", b"\n")) is not None:
                os.unlink(name)
                removed.append(path)
        if not removed:
            return
        cmd = ["git", "--literal-pathspecs", "-c", "filter.lfs.process=git-lfs filter-process",
               "-c", "filter.lfs.required=true", "checkout", "--pathspec-from-file=-", "--pathspec-file-nul"]
        proc = subprocess.run(cmd, input=b"\0".join(removed), capture_output=True,
                              env={**os.environ, "GIT_LFS_SKIP_SMUDGE": "0"})
        if proc.returncode == 0 and all(os.path.lexists(os.fsdecode(p)) for p in removed):
            return
        restore = subprocess.run(["git", "lfs", "checkout"], capture_output=True, text=True)
        if restore.returncode != 0:
            raise HfError(f"checking out the LFS files failed: {proc.stderr.decode(errors='replace').strip()[-500:]}",
                          f"run `git lfs checkout` in {repo}")
