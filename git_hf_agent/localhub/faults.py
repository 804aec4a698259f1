"""Fault injection (``--fault ENDPOINT:KIND:RATE[:MAX]``): failures the agent must survive.

Each rule fires with probability RATE on requests of its endpoint, at most MAX
times when given (``part:500:1:3`` fails exactly the first three part PUTs).
``--seed`` makes the draws reproducible. What each kind does to the exchange is
decided by the server (:mod:`git_hf_agent.localhub.server`); this module only
parses rules and draws them, thread-safely.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass

ENDPOINTS = ("batch", "part", "basic", "complete", "verify", "download", "git", "api")
KINDS = ("500", "503", "429", "reset", "stall", "no-etag", "short")


@dataclass(frozen=True)
class FaultRule:
    """One ``--fault`` option."""

    endpoint: str
    kind: str
    rate: float
    max: int | None = None

    @classmethod
    def parse(cls, text: str) -> "FaultRule":
        """Parse ``ENDPOINT:KIND:RATE[:MAX]``; ValueError says what is accepted."""
        parts = text.split(":")
        if len(parts) not in (3, 4):
            raise ValueError(f"--fault {text!r}: expected ENDPOINT:KIND:RATE or ENDPOINT:KIND:RATE:MAX")
        endpoint, kind = parts[0], parts[1]
        if endpoint not in ENDPOINTS:
            raise ValueError(f"--fault {text!r}: endpoint must be one of {', '.join(ENDPOINTS)}")
        if kind not in KINDS:
            raise ValueError(f"--fault {text!r}: kind must be one of {', '.join(KINDS)}")
        if kind == "no-etag" and endpoint != "part":
            raise ValueError(f"--fault {text!r}: no-etag only applies to the part endpoint")
        if kind == "short" and endpoint != "download":
            raise ValueError(f"--fault {text!r}: short only applies to the download endpoint")
        try:
            rate = float(parts[2])
            limit = int(parts[3]) if len(parts) == 4 else None
        except ValueError:
            raise ValueError(f"--fault {text!r}: RATE is a number 0..1 and MAX an integer") from None
        if not 0.0 <= rate <= 1.0 or (limit is not None and limit < 0):
            raise ValueError(f"--fault {text!r}: RATE must be within 0..1 and MAX >= 0")
        return cls(endpoint, kind, rate, limit)

    def __str__(self) -> str:
        return f"{self.endpoint}:{self.kind}"


class Faults:
    """Draws which fault (if any) hits the next request of an endpoint."""

    def __init__(self, rules: tuple[FaultRule, ...], seed: int | None = None) -> None:
        self._rules = rules
        self._fired = [0] * len(rules)
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def draw(self, endpoint: str) -> FaultRule | None:
        """The first matching rule that fires for this request, or None."""
        with self._lock:
            for i, rule in enumerate(self._rules):
                if rule.endpoint != endpoint:
                    continue
                if rule.max is not None and self._fired[i] >= rule.max:
                    continue
                if rule.rate >= 1.0 or self._rng.random() < rule.rate:
                    self._fired[i] += 1
                    return rule
        return None
