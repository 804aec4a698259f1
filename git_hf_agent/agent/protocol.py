"""The git-lfs custom transfer protocol, as pure functions: parse requests, format replies.

One JSON object per line in both directions (git-lfs docs/custom-transfers.md,
summarised in docs/agent.md). Parsing never raises: a bad line becomes a
:class:`BadLine` that says whether an oid could be read, so the loop can answer
that object with an error or only log the line. Nothing here does I/O and only
the standard library is imported, because this module is on the start-up path (NamedTuple rather than dataclasses
for the same reason).
"""

from __future__ import annotations

import json
import re
from typing import Any, NamedTuple, Union

# Error codes sent in ``complete``/init errors. git-lfs shows the message; the code
# is informational, so HTTP statuses are used when there is one, else these.
E_PROTOCOL = 32        # malformed request, unknown event, unsupported operation
E_BAD_ACTION = 33      # the server's action cannot be used (validated before sending)
E_LOCAL_FILE = 34      # the object file is missing, unreadable or of the wrong size
E_TRANSFER = 35        # network failure after every attempt
E_INTERNAL = 99        # a bug in the agent; the process keeps serving

_OID = re.compile(r"^[0-9a-f]{64}\Z")  # \Z: "$" would accept a trailing newline


class Init(NamedTuple):
    """``{"event":"init"}``: the operation and the remote named by git-lfs."""

    operation: str
    remote: str
    concurrent: bool = True
    concurrenttransfers: int = 1


class Transfer(NamedTuple):
    """An ``upload`` (or ``download``) request for one object."""

    event: str
    oid: str
    size: int
    path: str | None
    action: dict[str, Any] | None


class Terminate(NamedTuple):
    """``{"event":"terminate"}``: no reply; the process should exit."""


class BadLine(NamedTuple):
    """A line that is not a usable request; ``oid`` is set when one could be read."""

    reason: str
    oid: str | None = None
    event: str | None = None


Request = Union[Init, Transfer, Terminate, BadLine]


def parse(line: str) -> Request:
    """Turn one stdin line into a request; never raises."""
    try:
        obj = json.loads(line)
    except (ValueError, RecursionError):
        return BadLine(f"not JSON: {line[:200]!r}")
    if not isinstance(obj, dict):
        return BadLine(f"not a JSON object: {line[:200]!r}")
    event = obj.get("event")
    oid = obj.get("oid") if isinstance(obj.get("oid"), str) and obj.get("oid") else None
    if event == "init":
        return _parse_init(obj)
    if event == "terminate":
        return Terminate()
    if event in ("upload", "download"):
        return _parse_transfer(event, obj, oid)
    return BadLine(f"unknown event {event!r}", oid=oid, event=event if isinstance(event, str) else None)


def _parse_init(obj: dict[str, Any]) -> Request:
    operation = obj.get("operation")
    if operation not in ("upload", "download"):
        return BadLine(f"init: operation must be 'upload' or 'download', got {operation!r}", event="init")
    remote = obj.get("remote")
    transfers = obj.get("concurrenttransfers")
    return Init(
        operation=operation,
        remote=remote if isinstance(remote, str) and remote else "origin",
        concurrent=bool(obj.get("concurrent", True)),
        concurrenttransfers=transfers if _is_int(transfers) and transfers > 0 else 1,
    )


def _parse_transfer(event: str, obj: dict[str, Any], oid: str | None) -> Request:
    if oid is None or not _OID.match(oid):
        return BadLine(f"{event}: 'oid' must be 64 lower-case hex digits, got {obj.get('oid')!r}", oid=oid, event=event)
    size = obj.get("size")
    if not _is_int(size) or size < 0:
        return BadLine(f"{event}: 'size' must be a non-negative integer, got {size!r}", oid=oid, event=event)
    path = obj.get("path")
    if event == "upload" and (not isinstance(path, str) or not path):
        return BadLine("upload: 'path' of the object file is missing", oid=oid, event=event)
    action = obj.get("action")
    if action is not None and not isinstance(action, dict):
        return BadLine(f"{event}: 'action' must be an object or null", oid=oid, event=event)
    return Transfer(event=event, oid=oid, size=size, path=path if isinstance(path, str) else None, action=action)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class Reply(NamedTuple):
    """One line for stdout; :meth:`line` is compact JSON ending in a newline."""

    body: dict[str, Any]

    def line(self) -> str:
        return json.dumps(self.body, separators=(",", ":"), ensure_ascii=True) + "\n"


def init_ok() -> Reply:
    return Reply({})


def init_error(code: int, message: str) -> Reply:
    return Reply({"error": {"code": code, "message": message}})


def progress(oid: str, so_far: int, since_last: int) -> Reply:
    return Reply({"event": "progress", "oid": oid, "bytesSoFar": so_far, "bytesSinceLast": since_last})


def complete(oid: str, error: tuple[int, str] | None = None, path: str | None = None) -> Reply:
    body: dict[str, Any] = {"event": "complete", "oid": oid}
    if path is not None:
        body["path"] = path
    if error is not None:
        body["error"] = {"code": error[0], "message": error[1]}
    return Reply(body)
