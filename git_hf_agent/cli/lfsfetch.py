"""``git hf clone``'s download: HEAD's LFS objects fetched straight into the object store, then checked out.

``git lfs pull`` hands each object to the transfer agent and, after the agent's
``complete``, hashes the whole file a second time itself before it renames it
into ``.git/lfs/objects``. git-lfs 3.3 (built with Go 1.19) hashes at about
280 MB/s on one core, so for a big object that second pass takes about as long
as the parallel download did. The agent's engine has already checked the sha256
while the file filled, so ``git hf clone`` runs that engine in this process
(the same ranges, retries, resume state, fetching ahead and log as the agent),
renames each verified file into place itself, and lets ``git lfs checkout`` fill
the work tree from the local store (no network, no second hash).

With ``--include`` patterns (git-lfs's own path matching decides) the clone
keeps using ``git lfs pull``.
"""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from git_hf_agent.errors import HfError
from git_hf_agent.units import format_size


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


def fetch_head_objects(repo: Path, say: Callable[[str], None], *, remote: str = "origin") -> tuple[int, int]:
    """Download every LFS object of HEAD missing from ``repo``'s store; (objects, bytes) fetched.

    HfError naming the object and the retry command when one cannot be fetched;
    what was fetched stays (in place, or as resumable ranges).
    """
    from git_hf_agent.agent.dlbatch import DownloadBatch
    from git_hf_agent.agent.download import DownloadEngine, Job
    from git_hf_agent.agent.http import Transport
    from git_hf_agent.agent.log import Log
    from git_hf_agent.agent.ahead import DEFAULT_BUDGET
    from git_hf_agent.agent.download import DEFAULT_RANGE_SIZE
    from git_hf_agent.agent.main import LOG_NAME
    from git_hf_agent.agent.prefetch import head_pointers
    from git_hf_agent.agent.retry import Policy
    from git_hf_agent.agent.state import lfs_dir, object_path
    from git_hf_agent.agent.upload import ObjectFailed

    with _inside(repo):
        storage = lfs_dir()
        missing = [(oid, size) for oid, size in head_pointers() if not object_path(storage, oid).is_file()]
        if not missing:
            return 0, 0
        total = sum(size for _, size in missing)
        say(f"downloading {len(missing)} LFS file(s), {format_size(total)}")
        a = agent_options()
        log = Log(a.log or str(storage / "logs" / LOG_NAME), verbose=a.verbose, stderr=open(os.devnull, "w"))
        transport = Transport(log, parallel=a.parallel, timeout=a.timeout)
        engine = DownloadEngine(transport, Policy(max_attempts=a.max_attempts, backoff=a.backoff),
                                DownloadBatch(transport, remote), log, parallel=a.parallel, storage=storage,
                                range_size=a.range_size or DEFAULT_RANGE_SIZE,
                                ahead=DEFAULT_BUDGET if a.ahead is None else a.ahead)
        done = 0
        started = time.monotonic()
        try:
            for n, (oid, size) in enumerate(missing, 1):
                try:
                    handed = engine.download(Job(oid, size, None, lambda _so_far, _since: None))
                except ObjectFailed as failed:
                    raise HfError(failed.message, f"run `git lfs pull` in {repo} to retry; what arrived is kept") from None
                target = object_path(storage, oid)
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(handed, target)
                done += size
                if size >= 64 << 20 or n == len(missing):
                    took = max(time.monotonic() - started, 1e-6)
                    say(f"[{n}/{len(missing)}] {format_size(done)} of {format_size(total)} "
                        f"({done / took / 1e6:.1f} MB/s)")
        finally:
            engine.close()
            log.close()
        return len(missing), total
