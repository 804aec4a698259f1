"""What ``git hf push`` shows while git-lfs and the agent upload: a pure function of the agent's events.

The agent appends one JSON object per event to the file named by
``GIT_HF_AGENT_EVENTS`` (docs/agent.md, "Events"); :class:`PushView` folds them
into per-object state. :meth:`PushView.apply` returns the lines to print once
(every retry, backoff, URL refresh, restart, object stored or failed, with its
reason); :meth:`PushView.block` returns the lines describing the objects in
flight (path, size, parts done / in flight, rate, ETA), which the terminal
redraws in place (:mod:`git_hf_agent.cli.live`). No I/O and no clock here: time
comes from the events' ``ts`` and the caller's ``now``, so tests feed event
lists and compare text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from git_hf_agent.units import format_size

# The agent's event names (schema v1, docs/agent.md "Events"); unknown events and fields are ignored.
START, RETRY, REFRESH, RESTART, DONE, ERROR = "object_start", "retry", "url_refresh", "restart", "object_done", "object_error"


@dataclass
class ObjectState:
    """One object being uploaded, as far as the events tell."""

    oid: str
    size: int
    path: str
    transfer: str = ""
    parts: int = 0
    parts_done: int = 0
    in_flight: int = 0
    bytes_done: int = 0
    base: int = 0               # bytes already stored when this run started (resume): not counted in the rate
    started: float | None = None
    updated: float | None = None
    finished: bool = False


def timestamp(value) -> float | None:
    """Seconds since the epoch for an event's ``ts`` (ISO 8601 string or a number)."""
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
    return None


def rate_text(bytes_per_s: float) -> str:
    return f"{format_size(bytes_per_s)}/s"


def eta_text(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class PushView:
    """Fold agent events into per-object state; ``paths`` maps LFS oid -> the path a user knows it by."""

    def __init__(self, paths: dict[str, str] | None = None) -> None:
        self.paths = dict(paths or {})
        self.objects: dict[str, ObjectState] = {}
        self.stored = 0
        self.failed = 0
        self.retries = 0

    # -- events ----------------------------------------------------------------------
    def apply(self, event: dict) -> list[str]:
        """Take one event; return the lines to print once for it (often none)."""
        kind, oid = event.get("event"), event.get("oid")
        if not oid or not isinstance(kind, str):
            return []
        obj = self._object(oid, event)
        ts = timestamp(event.get("ts"))
        if ts is not None:
            obj.started = ts if kind == START or obj.started is None else obj.started
            obj.updated = ts
        for key, attr in (("parts", "parts"), ("transfer", "transfer"), ("parts_done", "parts_done"),
                          ("parts_in_flight", "in_flight"), ("bytes_done", "bytes_done")):
            if event.get(key) is not None:
                setattr(obj, attr, event[key])
        if kind == START:
            return self._start(obj, event)
        if kind == RETRY:
            self.retries += 1
            return [f"{obj.path}: {event.get('line') or self._retry(obj, event)}"]
        if kind == REFRESH:
            return [f"{obj.path}: upload URLs refreshed ({event.get('reason') or 'expiring'})"]
        if kind == RESTART:  # a new upload from byte 0: counts and rate start again here
            obj.bytes_done = obj.base = obj.parts_done = obj.in_flight = 0
            obj.started = ts if ts is not None else obj.started
            again = event.get("bytes_resent")
            tail = f"; {format_size(again)} already sent must go again" if again else ""
            return [f"{obj.path}: upload restarted ({event.get('reason') or 'no reason given'}){tail}"]
        if kind == DONE:
            return self._finish(obj, event)
        if kind == ERROR:
            obj.finished = True
            self.failed += 1
            return [f"{obj.path}: failed: {event.get('message') or event.get('error') or 'no message'}"]
        return []

    @staticmethod
    def _start(obj: ObjectState, event: dict) -> list[str]:
        obj.base = obj.bytes_done
        if event.get("resumed") in (None, "none") or not obj.bytes_done:
            return []
        how = "the same upload" if event["resumed"] == "same_upload" else "the journaled upload"
        return [f"{obj.path}: resuming {how}: {format_size(obj.bytes_done)} of {format_size(obj.size)} "
                f"({obj.parts_done}/{obj.parts} parts) already stored"]

    def _object(self, oid: str, event: dict) -> ObjectState:
        obj = self.objects.get(oid)
        if obj is None:
            path = self.paths.get(oid) or f"object {oid[:12]}"
            obj = self.objects[oid] = ObjectState(oid, int(event.get("size") or 0), path)
        elif event.get("size"):
            obj.size = int(event["size"])
        return obj

    @staticmethod
    def _retry(obj: ObjectState, event: dict) -> str:
        """``part 17/96: HTTP 503, retry 2/8 in 4.0 s``."""
        part = event.get("part")
        where = f"part {part}/{obj.parts}" if part is not None and obj.parts else (f"part {part}" if part else "request")
        status = event.get("status")
        why = f"HTTP {status}" if status else (event.get("error") or event.get("reason") or "failed")
        attempt, most = event.get("attempt"), event.get("max_attempts")
        retry = f"retry {attempt}/{most}" if attempt and most else "retrying"
        delay = event.get("delay_s")
        return f"{where}: {why}, {retry}" + (f" in {float(delay):.1f} s" if delay is not None else "")

    def _finish(self, obj: ObjectState, event: dict) -> list[str]:
        """A line for a multipart object stored (small ones only count in :meth:`summary`: no flood of lines)."""
        obj.finished = True
        obj.bytes_done = obj.size
        self.stored += 1
        if obj.parts <= 1:
            return []
        if event.get("result") == "already_stored":
            return [f"{obj.path}: {format_size(obj.size)} already on the Hub"]
        took = event.get("elapsed_s")
        speed = f" in {float(took):.1f} s ({rate_text((obj.size - obj.base) / float(took))})" if took else ""
        return [f"{obj.path}: {format_size(obj.size)} stored as {obj.parts} parts{speed}"]

    def summary(self) -> str:
        """``the agent stored 2 objects (6.0 GiB) after 3 retries``; empty when the agent took no part."""
        if not self.stored:
            return ""
        size = sum(o.size for o in self.objects.values() if o.finished)
        tail = f" after {self.retries} retr{'ies' if self.retries != 1 else 'y'}" if self.retries else ""
        return f"the agent stored {self.stored} object{'s' * (self.stored != 1)} ({format_size(size)}){tail}"

    # -- display -----------------------------------------------------------------------
    def block(self, now: float) -> list[str]:
        """One line per object still in flight: path, size, parts, percent, rate, ETA."""
        return [self.line(obj, now) for obj in self.objects.values() if not obj.finished]

    @staticmethod
    def line(obj: ObjectState, now: float) -> str:
        pct = 100.0 * obj.bytes_done / obj.size if obj.size else 0.0
        parts = ""
        if obj.parts:
            parts = f", parts {obj.parts_done}/{obj.parts} done" + (f", {obj.in_flight} in flight" if obj.in_flight else "")
        text = f"{obj.path}: {format_size(obj.bytes_done)} of {format_size(obj.size)} ({pct:.0f}%)"
        took = now - obj.started if obj.started is not None else 0.0
        if took > 0 and obj.bytes_done > obj.base:
            rate = (obj.bytes_done - obj.base) / took
            text += f", {rate_text(rate)}, ETA {eta_text((obj.size - obj.bytes_done) / rate)}"
        return text + parts
