"""The one retry policy of the agent (tenacity), used for parts, basic PUTs, completion and batch.

What is retried is decided by :mod:`http`'s classifier (``HttpFailure.retriable``:
connection errors, resets, timeouts, 408, 429, 5xx, missing ETag); this module
decides when and how often: at most ``max_attempts`` attempts, waits growing
exponentially from ``backoff`` seconds with jitter (each wait is uniform in
[b/2, b] for b = backoff * 2**(n-1), capped at 60 s), and a server's
``Retry-After`` (seconds or HTTP date, capped at 10 minutes) replaces the computed
wait. Waits end early when ``cancel`` is set (object failed, agent stopping).
The callable receives the attempt number and must rebuild its body each time.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import Callable, TypeVar

import tenacity

from git_hf_agent.agent.http import HttpFailure

T = TypeVar("T")
MAX_WAIT = 60.0
MAX_RETRY_AFTER = 600.0


class Cancelled(Exception):
    """The operation was abandoned because another part failed or the agent is stopping."""


@dataclass
class Policy:
    """Attempts and backoff; ``on_retry(failure, wait)`` is told about every retry."""

    max_attempts: int = 8
    backoff: float = 1.0
    cancel: threading.Event = field(default_factory=threading.Event)
    rng: random.Random = field(default_factory=random.Random)

    def wait_for(self, failure: HttpFailure, attempt: int) -> float:
        """Seconds to wait after failed ``attempt`` (1-based)."""
        if failure.retry_after is not None:
            return min(failure.retry_after, MAX_RETRY_AFTER)
        base = min(self.backoff * 2 ** (attempt - 1), MAX_WAIT)
        return self.rng.uniform(base / 2, base)

    def call(self, fn: Callable[[int], T], on_retry: Callable[[HttpFailure, float], None] | None = None) -> T:
        """Run ``fn(attempt)`` until it succeeds, fails for good, or attempts run out.

        Raises the last :class:`HttpFailure` (with its ``attempt`` set) or :class:`Cancelled`.
        """
        def wait(state: tenacity.RetryCallState) -> float:
            failure = state.outcome.exception()
            delay = self.wait_for(failure, state.attempt_number)
            if on_retry is not None:
                on_retry(failure, delay)
            return delay

        def sleep(seconds: float) -> None:
            if self.cancel.wait(seconds):
                raise Cancelled()

        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(max(1, self.max_attempts)),
            retry=tenacity.retry_if_exception(lambda e: isinstance(e, HttpFailure) and e.retriable),
            wait=wait, sleep=sleep, reraise=True,
        )
        for attempt in retrying:
            with attempt:
                if self.cancel.is_set():
                    raise Cancelled()
                number = attempt.retry_state.attempt_number
                try:
                    return fn(number)
                except HttpFailure as failure:
                    failure.attempt = number
                    raise
        raise AssertionError("unreachable: tenacity either returns or re-raises")
