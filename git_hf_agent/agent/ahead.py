"""Small objects of a checkout fetched ahead, so git-lfs's one-object-at-a-time hand-over costs no round trip.

git-lfs gives each agent process one object at a time and waits for its
``complete`` before handing it the next, so a clone of thousands of small
files costs one server round trip per file per process, however many
connections the agent could open. Once a download belongs to HEAD's checkout
(the object is one of HEAD's LFS pointers, :func:`prefetch.head_pointers`), the agent fetches the
small objects that follow it in checkout order in the background, a few at a
time, each verified (sha256) into ``<oid>.download.ahead`` beside the temp files,
where every verified download waits until git-lfs has it in place (see
``_Download._hand_off``). When git-lfs asks for such an object, any agent process
of the run hands that file over at once.

Bounds and care:

- only objects of at most :data:`MAX_OBJECT` bytes, at most ``budget`` bytes per
  agent process (``--ahead``, ``0`` turns this off), :data:`WORKERS` at a time;
- nothing when ``lfs.fetchinclude`` / ``lfs.fetchexclude`` is set (git-lfs would not
  ask for every object of HEAD) or when the object asked for is not in HEAD's
  pending list (``git lfs fetch`` of another ref);
- agent processes share the work through the per-object lock: an object locked by
  another process is skipped, and a request for an object being fetched ahead
  waits for that one small GET;
- a failed fetch ahead is only logged: the object is fetched again, with the
  full retry policy, when git-lfs asks for it;
- a file fetched ahead and never asked for is removed once its object is in
  place, or after :data:`state.STALE_DAYS` days (:func:`state.sweep`).
"""

from __future__ import annotations

import concurrent.futures as cf
import subprocess
import threading
from pathlib import Path
from typing import Callable

MAX_OBJECT = 1 << 20
DEFAULT_BUDGET = 256 << 20
WORKERS = 4
SUFFIX = ".ahead"


def ahead_path(temp_dir: Path, oid: str) -> Path:
    """Where a verified copy of ``oid`` fetched ahead waits for git-lfs to ask for it."""
    return temp_dir / f"{oid}.download{SUFFIX}"


def filtered(cwd: str | None = None) -> bool:
    """True when ``lfs.fetchinclude`` or ``lfs.fetchexclude`` is set: git-lfs then skips some of HEAD's objects."""
    for key in ("lfs.fetchinclude", "lfs.fetchexclude"):
        try:
            out = subprocess.run(["git", "config", "--get", key], cwd=cwd, capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.SubprocessError):
            return True   # cannot tell: do not guess
        if out.returncode == 0 and out.stdout.strip():
            return True
    return False


class Ahead:
    """Walks the pending pointers after the first object asked for and fetches the small ones.

    ``pending_after(oid)`` lists what follows ``oid`` in checkout order (None: not a
    checkout of HEAD); ``placed(oid)`` tells whether there is nothing left to do for
    it (object in place or ahead file present); ``claim(oid)`` takes the object's lock
    without waiting (its descriptor, or None when another agent holds it);
    ``fetch(oid, size, lock)`` fetches one claimed object into its ahead file and
    closes ``lock`` (False when it failed). Claiming in the walk, before a worker is
    given the object, keeps the agents that walk the same list from queueing work
    for objects another one is already fetching.
    """

    def __init__(self, pending_after: Callable[[str], list[tuple[str, int]] | None],
                 fetch: Callable[[str, int, int], bool], placed: Callable[[str], bool],
                 claim: Callable[[str], int | None], release: Callable[[int], None], *,
                 budget: int = DEFAULT_BUDGET, workers: int = WORKERS, enabled: Callable[[], bool] = lambda: True) -> None:
        self._pending_after = pending_after
        self._fetch = fetch
        self._placed = placed
        self._claim = claim
        self._release = release
        self.budget = budget
        self._workers = workers
        self._enabled = enabled
        self._started = False
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._pool: cf.ThreadPoolExecutor | None = None

    def start(self, oid: str) -> None:
        """Called for each object git-lfs asks for; the first one of a checkout starts the walk (once)."""
        with self._lock:
            if self._started or self.budget <= 0:
                return
            self._started = True
        threading.Thread(target=self._begin, args=(oid,), name="git-hf-ahead-walk", daemon=True).start()

    def _begin(self, oid: str) -> None:
        if not self._enabled():
            return
        following = self._pending_after(oid)
        if not following:
            return
        self._pool = cf.ThreadPoolExecutor(max_workers=self._workers, thread_name_prefix="git-hf-ahead")
        slots = threading.BoundedSemaphore(self._workers)
        spent = 0
        for other, size in following:
            if self._stop.is_set():
                return
            if not 0 < size <= MAX_OBJECT or self._placed(other):
                continue
            if spent + size > self.budget:
                return
            slots.acquire()
            lock = self._claim(other)
            if lock is not None and self._placed(other):   # done by another agent since the check above
                self._release(lock)
                lock = None
            if lock is None:
                slots.release()
                continue
            spent += size
            try:
                future = self._pool.submit(self._one, other, size, lock)
            except RuntimeError:   # the pool was shut down: the process is ending
                self._release(lock)
                return
            future.add_done_callback(lambda _f: slots.release())

    def _one(self, oid: str, size: int, lock: int) -> None:
        if self._stop.is_set():
            self._release(lock)
            return
        self._fetch(oid, size, lock)

    def close(self) -> None:
        """Stop walking; fetches in flight are abandoned (their lock goes with the process)."""
        self._stop.set()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
