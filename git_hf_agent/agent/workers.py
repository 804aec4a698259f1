"""The worker pool both engines move an object's pieces on (upload parts, download ranges).

An engine keeps one pool for the agent process; each object's pieces run on it.
When one piece fails, the others are told to stop (the object's ``cancel``
event), pieces not started yet are dropped, and the error that explains the
failure is raised, not the :class:`~git_hf_agent.agent.retry.Cancelled` it
caused in the pieces still running.
"""

from __future__ import annotations

import concurrent.futures as cf
import threading
from typing import Callable, Iterable, TypeVar

from git_hf_agent.agent.http import Transport
from git_hf_agent.agent.log import Log
from git_hf_agent.agent.retry import Policy

T = TypeVar("T")


class PooledEngine:
    """What the upload and download engines share: transport, retry policy, log, and ``parallel`` workers."""

    def __init__(self, transport: Transport, policy: Policy, log: Log, *, parallel: int, thread_name_prefix: str) -> None:
        self.transport = transport
        self.policy = policy
        self.log = log
        self.parallel = parallel
        self.pool = cf.ThreadPoolExecutor(max_workers=parallel, thread_name_prefix=thread_name_prefix)

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.transport.close()


def run_all(pool: cf.Executor, fn: Callable[[T], None], items: Iterable[T], cancel: threading.Event,
            prefer: tuple[type[BaseException], ...], window: int | None = None) -> None:
    """Run ``fn(item)`` for every item on ``pool``; return when all succeeded.

    With ``window``, at most that many items are on the pool at once, handed over
    in order as earlier ones finish: several objects can then share one pool, each
    keeping its own share of it busy (``git hf clone`` fetches several big objects
    at a time), instead of the first object's queue holding every worker.

    On the first failure: set ``cancel``, drop the items not started, wait for the
    running ones, then raise the first error of the earliest class in ``prefer``
    (control-flow signals before the Cancelled they caused), else the first error.
    """
    todo = iter(items)
    futures: list[cf.Future] = []
    running: set[cf.Future] = set()

    def hand_over() -> None:
        while window is None or len(running) < window:
            item = next(todo, _END)
            if item is _END:
                return
            futures.append(pool.submit(fn, item))
            running.add(futures[-1])

    hand_over()
    while running:
        finished, _ = cf.wait(running, return_when=cf.FIRST_EXCEPTION if window is None else cf.FIRST_COMPLETED)
        running -= finished
        if any(f.exception() is not None for f in finished):
            break
        hand_over()
    else:
        return
    cancel.set()
    for f in running:
        f.cancel()
    cf.wait(running)
    errors = [f.exception() for f in futures if not f.cancelled() and f.exception() is not None]
    for kind in prefer:
        for exc in errors:
            if isinstance(exc, kind):
                raise exc
    raise errors[0]


_END = object()
