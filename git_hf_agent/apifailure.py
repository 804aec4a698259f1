"""One wording for a failed Hub API call of the CLI (verify, create, clone, doctor), as the agent words its own.

The agent's failures read ``HTTP 500 from URL (attempt 3, 1.2s): body``; the
CLI's API layer (:mod:`git_hf_agent.hubapi`, :mod:`git_hf_agent.hubremote`)
builds its messages here so a user sees the same facts everywhere: method and
redacted URL, HTTP status (or the network error), the response body cut at
1 KB with secrets masked, how many attempts were made and how long they took.
The next step goes into the :class:`~git_hf_agent.errors.HfError`'s ``fix``.
"""

from __future__ import annotations

from dataclasses import dataclass

from git_hf_agent.redact import redact_text, redact_url

BODY_MAX = 1024


@dataclass(frozen=True)
class ApiFailure:
    """The facts of one failed call; ``url`` and ``body`` are raw here and redacted when described."""

    method: str
    url: str
    status: int | None = None
    body: str = ""
    reason: str = ""
    attempts: int = 1
    elapsed: float = 0.0

    def describe(self, *secrets: str) -> str:
        """``POST https://hub/api/x answered 500 (3 attempts, 4.2 s): body`` with secrets redacted."""
        what = f"answered {self.status}" if self.status is not None else f"failed: {self.reason or 'network error'}"
        tries = f"{self.attempts} attempt{'s' * (self.attempts != 1)}"
        text = f"{self.method} {redact_url(self.url)} {what} ({tries}, {self.elapsed:.1f} s)"
        body = cut(self.body)
        if body:
            text += f": {body}"
        return redact_text(text, *secrets)


def cut(body: str | bytes | None) -> str:
    """A response body as one line of at most 1 KB (longer ones end with ``… (N bytes in all)``)."""
    if not body:
        return ""
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    flat = " ".join(text.split())
    if len(flat) <= BODY_MAX:
        return flat
    return f"{flat[:BODY_MAX]}… ({len(text)} bytes in all)"


def attempts_of(response) -> int:
    """Attempts urllib3 made for ``response`` (its Retry history plus the last one); 1 when unknown."""
    retries = getattr(getattr(response, "raw", None), "retries", None)
    history = getattr(retries, "history", None) or ()
    return len(history) + 1
