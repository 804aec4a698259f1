"""``git-hf-agent``: the loop that speaks git-lfs's custom transfer protocol on stdin/stdout.

:func:`run` owns the streams (passed in, so tests drive it with in-memory
streams) and answers ``init`` with ``{}`` without importing the heavy modules
(requests, tenacity, the engine): git-lfs starts its agent processes one after
the other, so start-up is paid several times per push; the engine is imported
at the first upload, so idle processes stay small. Each
request gets exactly one answer; a problem with one object becomes a
``complete`` with ``error`` and the loop keeps serving; a bad line never
crashes it. EOF or ``terminate`` ends cleanly. stdout carries protocol lines
only, each flushed; human lines go to stderr and events to the JSON log (and,
when ``git hf push`` asks for it, to an events file). The environment is read
only in :func:`main`: ``GIT_HF_AGENT_EVENTS`` and ``GIT_HF_AGENT_VERBOSE``.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from typing import Any, TextIO

from git_hf_agent.agent import protocol
from git_hf_agent.agent.log import Log

# 10 parts in flight: above huggingface_hub's 1 by more than 8x under a per-connection
# cap while peak RSS stays under 64 MB (measured in docs/benchmarks.md).
DEFAULT_PARALLEL = 10
DEFAULT_MAX_ATTEMPTS = 8
DEFAULT_TIMEOUT = 60.0
DEFAULT_BACKOFF = 1.0
MAX_PARALLEL = 64
LOG_NAME = "git-hf-agent.jsonl"
EVENTS_ENV = "GIT_HF_AGENT_EVENTS"
VERBOSE_ENV = "GIT_HF_AGENT_VERBOSE"
DESCRIPTION = (
    "git-lfs custom transfer agent (registered as `multipart`) for the Hugging Face Hub: moves LFS objects "
    "in parallel parts with retries, fresh URLs and resume. git-lfs starts it during `git push` (and `git "
    "pull`/`clone` when registered for downloads); you do not run it yourself. Its options go in git config lfs.customtransfer.multipart.args "
    "(`git hf init --parallel N` writes it).")
EPILOG = (
    f"environment: {EVENTS_ENV}=FILE also appends every event (JSON lines) to FILE; "
    f"{VERBOSE_ENV}=1 acts as --verbose. Documentation: docs/agent.md.")


class _ArgParser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # never exit or print from inside the protocol loop
        raise ValueError(message)


def _positive(kind):
    def convert(text: str):
        value = kind(text)
        if value <= 0:
            raise ValueError
        return value
    convert.__name__ = f"positive {kind.__name__}"
    return convert


def _parser() -> _ArgParser:
    p = _ArgParser(prog="git-hf-agent", add_help=False, description=DESCRIPTION, epilog=EPILOG)
    p.add_argument("--parallel", type=_positive(int), default=DEFAULT_PARALLEL, metavar="N",
                   help=f"parts in flight per agent process, 1 to {MAX_PARALLEL} (default {DEFAULT_PARALLEL})")
    p.add_argument("--max-attempts", type=_positive(int), default=DEFAULT_MAX_ATTEMPTS, metavar="N",
                   help=f"attempts per part, PUT, completion and batch call, the first included "
                        f"(default {DEFAULT_MAX_ATTEMPTS})")
    p.add_argument("--timeout", type=_positive(float), default=DEFAULT_TIMEOUT, metavar="SECONDS",
                   help=f"connect and read timeout (default {DEFAULT_TIMEOUT:g})")
    p.add_argument("--backoff", type=float, default=DEFAULT_BACKOFF, metavar="SECONDS",
                   help=f"first retry wait, doubled per attempt with jitter, at most 60 (default {DEFAULT_BACKOFF:g})")
    p.add_argument("--log", default=None, metavar="FILE", help=f"JSON-lines log (default <git dir>/lfs/logs/{LOG_NAME})")
    p.add_argument("--range-size", type=_size, default=None, metavar="SIZE",
                   help="downloads: bytes per Range GET; smaller objects are one plain GET (default 16MiB)")
    p.add_argument("--ahead", type=_budget, default=None, metavar="SIZE",
                   help="downloads: bytes of small objects (1 MiB or less) of a checkout fetched before git-lfs asks "
                        "for them, per agent process; 0 turns it off (default 256MiB)")
    p.add_argument("--verbose", action="store_true",
                   help="more detail in the log and events: HTTP headers (Authorization masked), progress 4 times a second")
    p.add_argument("-h", "--help", action="store_true", help="print this help and exit")
    return p


def help_text() -> str:
    """What ``git-hf-agent --help`` prints."""
    return _parser().format_help()


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The options of ``lfs.customtransfer.multipart.args``; ValueError with the reason."""
    args = _parser().parse_args(argv)
    if args.backoff < 0:
        raise ValueError("argument --backoff: must not be negative")
    if args.parallel > MAX_PARALLEL:
        raise ValueError(f"argument --parallel: at most {MAX_PARALLEL} (git-lfs already runs several agents)")
    return args


def _size(text: str) -> int:
    from git_hf_agent.units import parse_size

    value = parse_size(text)
    if value <= 0:
        raise ValueError
    return value


def _budget(text: str) -> int:
    from git_hf_agent.units import parse_size

    return parse_size(text)


class Writer:
    """stdout for protocol replies only: one JSON line each, flushed, never interleaved."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def send(self, reply: protocol.Reply) -> None:
        line = reply.line()
        with self._lock:
            self._stream.write(line)
            self._stream.flush()


def default_log_path() -> str | None:
    """``<git dir>/lfs/logs/git-hf-agent.jsonl`` of the repo the agent runs in."""
    import subprocess  # after the init reply: not on the start-up path

    try:
        out = subprocess.run(["git", "rev-parse", "--absolute-git-dir"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    git_dir = out.stdout.strip()
    return os.path.join(git_dir, "lfs", "logs", LOG_NAME) if out.returncode == 0 and git_dir else None


class _Session:
    """What the loop knows: options, the init answer, and (lazily) the upload engine."""

    def __init__(self, argv: list[str], writer: Writer, stderr: TextIO | None, *,
                 events: str | None = None, verbose: bool = False) -> None:
        self.writer = writer
        self.stderr = stderr
        self.arg_error: str | None = None
        try:
            self.args = parse_args(argv)
        except ValueError as exc:
            self.arg_error = (f"git-hf-agent: bad option in lfs.customtransfer.multipart.args {argv!r}: {exc}. "
                              "Fix: run `git hf init` or edit that git config value")
            self.args = parse_args([])
        self.args.verbose = self.args.verbose or verbose
        self.log = Log(self.args.log, verbose=self.args.verbose, stderr=stderr, events=events)
        self.remote = "origin"
        self.operation = "upload"
        self.engine = None
        self.gone = False   # git-lfs closed our stdout
        self.downloads = None
        self._downloads_lock = threading.Lock()
        self.refused: str | None = None

    def init(self, req: protocol.Init) -> None:
        self.remote = req.remote
        self.operation = req.operation
        if self.arg_error:
            self.refused = self.arg_error
        if self.refused:
            self.writer.send(protocol.init_error(protocol.E_PROTOCOL, self.refused))
            self.log.say(self.refused)
            return
        # Heavy modules are imported at the first upload, not here: of the
        # processes git-lfs starts, the idle ones then stay small and cheap.
        self.writer.send(protocol.init_ok())
        if self.log.path is None:
            self.log.path = default_log_path()
        self.log.event("init", operation=req.operation, remote=req.remote, parallel=self.args.parallel,
                       max_attempts=self.args.max_attempts, timeout=self.args.timeout, log=self.log.path,
                       verbose=self.args.verbose)
        if req.operation == "download":
            threading.Thread(target=self._warm_downloads, name="git-hf-warm", daemon=True).start()

    def _warm_downloads(self) -> None:
        """Build the download engine while git-lfs starts the other agents (it holds them idle until
        the first bytes flow): a clone of many small files then pays no imports or git lookups per process
        at its first object. Any problem is met again, and reported, at the first download."""
        try:
            self._download_engine().warm()
        except Exception:  # noqa: BLE001 - reported by the first download instead
            pass

    def transfer(self, req: protocol.Transfer) -> None:
        if self.refused or req.event != self.operation:
            reason = self.refused or (f"git-hf-agent was started for {self.operation}s; "
                                      f"this {req.event} request does not belong to it")
            self.fail(req.oid, protocol.E_PROTOCOL, reason, req.size)
            return
        try:
            if req.event == "download":
                self._download(req)
            else:
                self._upload(req)
        except BrokenPipeError:
            raise   # git-lfs is gone: run() stops
        except Exception as exc:  # noqa: BLE001 - one object's bug must not end the process
            self.log.event("bug", oid=req.oid, error=f"{type(exc).__name__}: {exc}")
            self.fail(req.oid, protocol.E_INTERNAL, (
                f"git-hf-agent internal error: {type(exc).__name__}: {exc}. Next: re-run `git push`; "
                "if it repeats, report it with the agent's log"), req.size)

    def _upload(self, req: protocol.Transfer) -> None:
        from git_hf_agent.agent.upload import Job, ObjectFailed

        engine = self._engine()

        def emit(so_far: int, since: int) -> None:
            try:
                self.writer.send(protocol.progress(req.oid, so_far, since))
            except OSError:   # git-lfs is gone (killed): stop sending rather than retry into the void
                self.gone = True
                engine.stop()

        job = Job(oid=req.oid, size=req.size, path=req.path or "", action=req.action, emit=emit)
        try:
            engine.upload(job)
        except Exception as exc:
            if self.gone:
                raise BrokenPipeError("git-lfs closed the protocol pipe") from exc
            if not isinstance(exc, ObjectFailed):
                raise
            self.fail(req.oid, exc.code, exc.message, req.size)
            return
        self.writer.send(protocol.complete(req.oid))

    def _download(self, req: protocol.Transfer) -> None:
        from git_hf_agent.agent.download import Job
        from git_hf_agent.agent.upload import ObjectFailed

        engine = self._download_engine()
        job = Job(oid=req.oid, size=req.size, action=req.action,
                  emit=lambda so_far, since: self.writer.send(protocol.progress(req.oid, so_far, since)))
        try:
            path = engine.download(job)
        except ObjectFailed as failed:
            self.fail(req.oid, failed.code, failed.message, req.size)
            return
        self.writer.send(protocol.complete(req.oid, path=path))

    def _download_engine(self):
        with self._downloads_lock:
            return self._make_download_engine()

    def _make_download_engine(self):
        if self.downloads is None:
            from git_hf_agent.agent.dlbatch import DownloadBatch
            from git_hf_agent.agent.ahead import DEFAULT_BUDGET
            from git_hf_agent.agent.download import DEFAULT_RANGE_SIZE, DownloadEngine, lfs_dir
            from git_hf_agent.agent.http import Transport
            from git_hf_agent.agent.retry import Policy

            a = self.args
            transport = Transport(self.log, parallel=a.parallel, timeout=a.timeout)
            self.downloads = DownloadEngine(transport, Policy(max_attempts=a.max_attempts, backoff=a.backoff),
                                            DownloadBatch(transport, self.remote), self.log, parallel=a.parallel,
                                            storage=lfs_dir(), range_size=a.range_size or DEFAULT_RANGE_SIZE,
                                            ahead=DEFAULT_BUDGET if a.ahead is None else a.ahead)
        return self.downloads

    def _engine(self):
        if self.engine is None:
            from git_hf_agent.agent.http import Transport
            from git_hf_agent.agent.refresh import Refresher
            from git_hf_agent.agent.retry import Policy
            from git_hf_agent.agent.upload import Engine

            a = self.args
            transport = Transport(self.log, parallel=a.parallel, timeout=a.timeout)
            self.engine = Engine(transport, Policy(max_attempts=a.max_attempts, backoff=a.backoff),
                                 Refresher(transport, self.remote), self.log, parallel=a.parallel)
        return self.engine

    def fail(self, oid: str, code: int, message: str, size: int | None = None) -> None:
        """Answer ``complete`` with an error; the message ends with where the agent's log is."""
        if self.log.path:
            message = f"{message.rstrip()} (agent log: {self.log.path})"
        message = self.log.clean(message)
        self.log.say(f"{oid[:12]}: {message}")
        self.log.event("object_error", oid=oid, size=size, code=code, message=message)
        self.writer.send(protocol.complete(oid, (code, message)))

    def bad_line(self, bad: protocol.BadLine) -> None:
        if bad.oid is not None:
            self.fail(bad.oid, protocol.E_PROTOCOL, f"git-hf-agent could not use this request: {bad.reason}")
            return
        message = self.log.clean(f"ignored a line from git-lfs: {bad.reason}")
        self.log.say(message)
        self.log.event("bad_line", reason=message)

    def close(self) -> None:
        for engine in (self.engine, self.downloads):
            if engine is not None:
                engine.close()
        self.log.close()


def run(stdin: TextIO, stdout: TextIO, argv: list[str], stderr: TextIO | None = None, *,
        events: str | None = None, verbose: bool = False) -> int:
    """Serve git-lfs until EOF or ``terminate``; returns the exit status (0; 1 if git-lfs went away).

    ``events``: a file that also gets every event line; ``verbose``: as ``--verbose``.
    """
    session = _Session(argv, Writer(stdout), stderr, events=events, verbose=verbose)
    try:
        while True:
            raw = stdin.readline()
            if not raw:
                break
            if not raw.strip():
                continue
            req: Any = protocol.parse(raw)
            if isinstance(req, protocol.Terminate):
                break
            if isinstance(req, protocol.Init):
                session.init(req)
            elif isinstance(req, protocol.Transfer):
                session.transfer(req)
            else:
                session.bad_line(req)
    except BrokenPipeError:
        session.log.say("git-lfs closed the protocol pipe; stopping (confirmed parts are kept for the next push)")
        return 1
    finally:
        session.close()
    return 0


def _on_signal(signum: int, frame: Any) -> None:
    """Stop at once on SIGTERM/SIGINT: confirmed parts are already fsync'd in the journal.

    Exiting here (rather than unwinding) matters: part uploads run in worker
    threads that would otherwise finish their current part before the process ends.
    """
    import signal

    try:
        name = signal.Signals(signum).name
        sys.stderr.write(f"git-hf-agent: stopped by {name}; confirmed parts are kept for the next push\n")
        sys.stderr.flush()
    finally:
        os._exit(128 + signum)


def main() -> int:
    """Console entry point ``git-hf-agent`` (the only place that reads the environment)."""
    import io
    import signal

    argv = sys.argv[1:]
    if "-h" in argv or "--help" in argv:
        sys.stdout.write(help_text())
        return 0
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    stdin = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace")
    return run(stdin, sys.stdout, argv, events=os.environ.get(EVENTS_ENV) or None,
               verbose=os.environ.get(VERBOSE_ENV, "") not in ("", "0"))
