"""Turn the server's upload action into a checked plan, before a single byte is sent.

Pure functions (no I/O). A ``multipart`` action (docs/agent.md) carries
``header.chunk_size`` and numeric keys ``"00001"``.. whose values are presigned
part URLs; ``href`` is the completion URL. We sort the keys as numbers (never by
dict order), require them to be exactly 1..n with n == ceil(size / chunk_size),
and require every URL to be absolute. An action without ``chunk_size`` is a
``basic`` single PUT. Anything else is an :class:`ActionError` and nothing is sent.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Union
from urllib.parse import parse_qs, urlsplit


class ActionError(ValueError):
    """The action cannot be used; the message names the field that is wrong."""


@dataclass(frozen=True)
class Part:
    """One slice of the object file: 1-based ``number``, byte ``offset`` and ``length``."""

    number: int
    offset: int
    length: int
    url: str


@dataclass(frozen=True)
class MultipartPlan:
    """Every part of the object plus where and how to complete the upload."""

    parts: tuple[Part, ...]
    chunk_size: int
    complete_url: str
    headers: dict[str, str]      # extra completion headers from the action (non-numeric keys)
    upload_id: str | None        # ``uploadId`` from the URLs; None = cannot resume safely
    deadline: float | None       # epoch seconds when the URLs expire; None = no expiry
    action: dict[str, Any] = field(default_factory=dict, compare=False)   # href + header, for the journal


@dataclass(frozen=True)
class BasicPlan:
    """A single PUT of the whole object to ``url`` with the action's headers."""

    url: str
    headers: dict[str, str]
    deadline: float | None


Plan = Union[MultipartPlan, BasicPlan]


def plan_action(action: Any, size: int, now: float | None = None) -> Plan:
    """Validate ``action`` (the request's ``action`` object) for an object of ``size`` bytes."""
    if not isinstance(action, dict):
        raise ActionError("the request has no upload action (is lfs.standalonetransferagent set? unset it)")
    href = action.get("href")
    _check_url("href", href)
    header = action.get("header") or {}
    if not isinstance(header, dict) or not all(isinstance(v, str) for v in header.values()):
        raise ActionError("'header' must be an object of string values")
    deadline = expiry(action, now)
    if "chunk_size" not in header:
        return BasicPlan(url=href, headers=dict(header), deadline=deadline)
    chunk_size = _chunk_size(header["chunk_size"])
    numbered = {k: v for k, v in header.items() if _numeric(k)}
    extra = {k: v for k, v in header.items() if k != "chunk_size" and not _numeric(k)}
    parts = _parts(numbered, size, chunk_size)
    return MultipartPlan(
        parts=parts, chunk_size=chunk_size, complete_url=href, headers=extra,
        upload_id=upload_id_of(href, *(p.url for p in parts[:1])), deadline=deadline,
        action={"href": href, "header": dict(header)},
    )


def _chunk_size(raw: str) -> int:
    text = raw.strip()
    if not _numeric(text) or int(text) <= 0:
        raise ActionError(f"'chunk_size' must be a positive integer, got {raw!r}")
    return int(text)


def _numeric(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _parts(numbered: dict[str, str], size: int, chunk_size: int) -> tuple[Part, ...]:
    expected = -(-size // chunk_size)
    numbers = sorted(int(k) for k in numbered)
    if len(set(numbers)) != len(numbers):
        raise ActionError("part keys repeat the same number (e.g. '1' and '0001')")
    if numbers != list(range(1, expected + 1)):
        shown = ", ".join(map(str, numbers[:5])) + (" ..." if len(numbers) > 5 else "")
        raise ActionError(
            f"expected parts 1..{expected} (ceil({size} / {chunk_size})), got {len(numbers)} part URLs [{shown}]"
        )
    by_number = {int(k): v for k, v in numbered.items()}
    parts = []
    for n in numbers:
        _check_url(f"part {n} URL", by_number[n])
        offset = (n - 1) * chunk_size
        parts.append(Part(number=n, offset=offset, length=min(chunk_size, size - offset), url=by_number[n]))
    return tuple(parts)


def _check_url(what: str, url: Any) -> None:
    if not isinstance(url, str) or not url:
        raise ActionError(f"{what} is missing")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ActionError(f"{what} is not an absolute http(s) URL")


def upload_id_of(*urls: str) -> str | None:
    """The ``uploadId`` query value shared by part and completion URLs (S3 and the Hub)."""
    for url in urls:
        values = parse_qs(urlsplit(url).query).get("uploadId")
        if values and values[0]:
            return values[0]
    return None


def expiry(action: dict[str, Any], now: float | None = None) -> float | None:
    """Epoch seconds when the action's URLs expire: the earlier of expires_at and now + expires_in."""
    now = time.time() if now is None else now
    limits = []
    expires_in = action.get("expires_in")
    if isinstance(expires_in, (int, float)) and not isinstance(expires_in, bool) and expires_in > 0:
        limits.append(now + expires_in)
    expires_at = action.get("expires_at")
    if isinstance(expires_at, str) and expires_at:
        try:
            at = datetime.fromisoformat(expires_at.replace("Z", "+00:00"))
        except ValueError:
            at = None
        if at is not None and at.year > 1:  # year 1 = "no expiry" (git-lfs zero time)
            if at.tzinfo is None:
                at = at.replace(tzinfo=timezone.utc)
            limits.append(at.timestamp())
    return min(limits) if limits else None
