"""Step 2 of ``git hf push``: run ``git push`` and show the upload as it happens.

git's stdout and stderr are read through pipes: their lines (ref updates,
errors) are passed on to stderr, while git-lfs's own ``Uploading LFS objects:``
meter (on stdout, redrawn with ``\\r``) is replaced by the view built from the
agent's events (only its final ``done`` line is kept). The agent writes its events to a file named by
``GIT_HF_AGENT_EVENTS`` (never to stdout, which is git-lfs's protocol); a thread
tails it and feeds :class:`~git_hf_agent.cli.pushview.PushView`. ``git hf -v
push`` sets ``GIT_HF_AGENT_VERBOSE=1`` for this git push only.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from git_hf_agent.cli.live import Live
from git_hf_agent.cli.pushview import PushView

POLL_S = 0.2
LFS_METER = "Uploading LFS objects:"


@dataclass
class PushResult:
    """How git push ended: exit code and everything git wrote on stderr (for classifying a rejection)."""

    code: int
    stderr: str
    view: PushView


def _forward_git(pipe, live: Live, sink: list[str]) -> None:
    """Pass git's stderr on line by line; drop git-lfs's in-place meter except its final ``done`` line."""
    buf = b""
    while True:
        chunk = pipe.read1(65536) if hasattr(pipe, "read1") else pipe.read(65536)
        if not chunk:
            break
        buf += chunk
        *segments, buf = buf.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
        for raw in segments:
            _git_line(raw.decode(errors="replace"), live, sink)
    if buf:
        _git_line(buf.decode(errors="replace"), live, sink)


def _git_line(line: str, live: Live, sink: list[str]) -> None:
    sink.append(line)
    if line.startswith(LFS_METER) and not line.rstrip().endswith("done."):
        return
    if line.strip():
        live.log(line)


class EventTail:
    """Read complete JSON lines appended to ``path`` (by several agent processes) and apply them to the view."""

    def __init__(self, path: Path, view: PushView, live: Live) -> None:
        self.path, self.view, self.live = path, view, live
        self._offset = 0
        self._partial = b""

    def poll(self) -> None:
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self._offset)
                data = fh.read()
        except OSError:
            return
        self._offset += len(data)
        *lines, self._partial = (self._partial + data).split(b"\n")
        kept: list[str] = []
        for raw in lines:
            try:
                event = json.loads(raw)
            except ValueError:
                continue
            if isinstance(event, dict):
                kept.extend(self.view.apply(event))
        self.live.update(self.view.block(time.time()))  # first, so the lines below redraw the new block
        for line in kept:
            self.live.log(line)


def run_push(cwd: Path, args: list[str], paths: dict[str, str], *, verbose: bool, scratch: Path,
             live: Live | None = None) -> PushResult:
    """``git push ARGS`` in ``cwd`` with the agent's events shown; ``scratch`` holds the events file."""
    live = live or Live()
    view = PushView(paths)
    scratch.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix="git-hf-push-", suffix=".jsonl", dir=scratch)
    os.close(fd)
    events = Path(name)
    env = {**os.environ, "GIT_HF_AGENT_EVENTS": str(events)}
    if verbose:
        env["GIT_HF_AGENT_VERBOSE"] = "1"
    tail = EventTail(events, view, live)
    lines: list[str] = []
    try:
        # git-lfs draws its meter on stdout: both streams are read, so the view owns the terminal.
        proc = subprocess.Popen(["git", "push", *args], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        readers = [threading.Thread(target=_forward_git, args=(pipe, live, lines), daemon=True)
                   for pipe in (proc.stdout, proc.stderr)]
        for reader in readers:
            reader.start()
        while proc.poll() is None:
            tail.poll()
            time.sleep(POLL_S)
        for reader in readers:
            reader.join()
        tail.poll()
        live.close()
    finally:
        events.unlink(missing_ok=True)
    return PushResult(proc.returncode, "\n".join(lines), view)


_REJECTED = re.compile(r"^\s*!\s+\[(?:rejected|remote rejected)\]\s+\S+\s+->\s+(\S+)\s+\((.*)\)", re.M)
_NOT_FOUND = re.compile(r"repository not found|fatal: repository '.*' not found")
_AUTH = re.compile(r"authentication failed|error: 40[13]\b|\b40[13] (?:unauthorized|forbidden)")


def rejection_fix(stderr: str, remote: str, create: bool, hints: dict[str, str] | None = None) -> str:
    """The next step for a failed git push, from git's own message.

    ``hints`` (from :func:`git_hf_agent.cli.landing.land`) name a better fix for a
    branch whose history is unrelated to the user's.
    """
    text = stderr.lower()
    refused = {m.group(1): m.group(2) for m in _REJECTED.finditer(stderr)}
    behind = [dst for dst, why in refused.items() if why in ("fetch first", "non-fast-forward", "stale info")]
    if behind:
        fixes = [(hints or {}).get(dst) or (f"{remote}/{dst} has commits you do not have: "
                                            f"`git pull --rebase {remote} {dst}`, then `git hf push` again")
                 for dst in behind]
        return "; ".join(fixes)
    if _NOT_FOUND.search(text):
        if create:
            return "check the remote URL (`git remote -v`) and your token (`git hf doctor`)"
        return "the Hub repo does not exist: create it with `git hf push --create`"
    if "pre-receive hook declined" in text or "rejected by the hub" in text:
        return ("the Hub refused the content for the reasons above: fix them (`git hf check` lists what it knows), "
                "then `git hf push` again")
    if _AUTH.search(text):
        return "check your token and its write access (`git hf doctor`), then `git hf push` again"
    return "fix what git reported (`git hf doctor` diagnoses set-up problems), then `git hf push` again"
