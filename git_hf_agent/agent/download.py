"""The download engine: one object fetched in parallel byte ranges into a temp file, verified, resumable.

git-lfs hands the agent one ``download`` at a time per process; the agent
answers ``complete`` with the path of a file whose sha256 it has checked, and
git-lfs (which checks it again) renames it into ``.git/lfs/objects``. So:

- the temp file lives in ``<lfs dir>/git-hf-agent/downloads/`` (:mod:`state`: same
  filesystem as the objects, so the rename is cheap, and outside ``lfs/tmp``, which
  git-lfs prunes after an hour), is sized up front and filled by offset;
- an object larger than one range is fetched as ``Range`` GETs, ``--parallel`` at
  a time, each retried by the one :class:`retry.Policy` and continued from the
  byte it reached; a smaller one is one plain GET;
- every GET carries ``Accept-Encoding: identity`` (a CDN may ignore ``Range`` for
  a compressed answer) and exactly the action's headers; redirects are followed
  here, and a hop to another origin gets none of them, bar ``Authorization``
  where :func:`hubconf.may_receive_token` allows the Hub token;
- a 200 where a 206 was asked for (no ``Range`` support) switches to one stream;
  a body shorter than announced is a retriable failure, never accepted;
- sha256 is computed in file order while ranges land (:class:`ranges.InOrderHasher`,
  or straight from the stream for a single GET) and checked before ``complete``:
  a mismatch discards the data and fetches the object once more from zero, a
  second mismatch fails the object with a clear message;
- finished ranges go to a journal beside the temp file, so after a kill -9 or
  Ctrl-C the next run fetches only the ranges that were in flight. The temp file
  is never removed before the object is in place (git-lfs renames it).
"""

from __future__ import annotations

import errno
import fcntl
import itertools
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable
from urllib.parse import urljoin

import requests

from git_hf_agent import hubconf
from git_hf_agent.agent import protocol, state
from git_hf_agent.agent.ahead import DEFAULT_BUDGET, SUFFIX as AHEAD_SUFFIX, Ahead, ahead_path, filtered
from git_hf_agent.agent.dlbatch import Action, BatchError, DownloadBatch, parse_action
from git_hf_agent.agent.http import EXPIRED, FATAL, RETRIABLE, HttpFailure, Transport, network_failure
from git_hf_agent.agent.log import Log
from git_hf_agent.agent.plan import expiry
from git_hf_agent.agent.prefetch import Prefetcher
from git_hf_agent.agent.progress import Emit, Progress
from git_hf_agent.agent.ranges import BLOCK, InOrderHasher, Mirror, RangeJournal, Span, plan, temp_paths
from git_hf_agent.agent.retry import Cancelled, Policy
from git_hf_agent.agent.state import lfs_dir  # noqa: F401  (main.py imports it from here)
from git_hf_agent.agent.upload import ObjectFailed
from git_hf_agent.agent.workers import PooledEngine, run_all
from git_hf_agent.redact import redact_url
from git_hf_agent.units import format_size

DEFAULT_RANGE_SIZE = 16 << 20
MAX_REDIRECTS = 10
MAX_REFRESHES = 5
EXPIRY_MARGIN = 30.0     # refresh URLs this many seconds before they expire
LOCK_WAIT_SAID = 1.0     # a wait on another agent's object is logged once it lasts this long (most are one small GET)
_HANDOFFS = itertools.count(1)   # handed-off names are unique per process
ZERO_BLOCK = bytes(BLOCK)   # a block of zeros is not written: the sized temp file already reads as zeros (stays sparse)


@dataclass
class Job:
    """One object to download and where to report progress."""

    oid: str
    size: int
    action: dict | None
    emit: Emit
    mirror: Mirror | None = None   # ``git hf clone``: copy each range there once it is hashed


class _NoRanges(Exception):
    """The server answered 200 (whole body) to a ranged GET: switch to one stream."""


class _Digest(Exception):
    """The bytes received do not hash to the oid."""

    def __init__(self, got: str) -> None:
        self.got = got


class DownloadEngine(PooledEngine):
    """Downloads objects with a pool of ``parallel`` range workers, at most ``per_object`` ranges of an object at once.

    The agent gets one object at a time from git-lfs and gives it the whole pool;
    ``git hf clone`` downloads several big objects at once on a bigger pool, each
    with the same ``per_object`` share an agent process would give it.
    """

    def __init__(self, transport: Transport, policy: Policy, batch: DownloadBatch, log: Log, *,
                 parallel: int, storage: Path, range_size: int = DEFAULT_RANGE_SIZE, prefetch: bool = True,
                 ahead: int = DEFAULT_BUDGET, per_object: int | None = None) -> None:
        super().__init__(transport, policy, log, parallel=parallel, thread_name_prefix="git-hf-range")
        self.per_object = min(per_object or parallel, parallel)
        self.batch = batch
        self.range_size = range_size
        self.storage = storage
        self.temp_dir = state.state_dir(storage, state.DOWNLOADS)
        self.objects_dir = storage / "objects"
        self._dirs = (str(self.objects_dir), str(self.temp_dir))
        self.prefetch = Prefetcher(batch, self.temp_dir, self.objects_dir) if prefetch else None
        self.ahead = None if self.prefetch is None else Ahead(
            self.prefetch.after, self._fetch_ahead, self._placed, self._claim, os.close, budget=ahead,
            enabled=lambda: not filtered())
        self._endpoints: list[str] | None = None
        self._swept = False
        self.handed: list[tuple[str, Path]] = []   # (oid, file) handed to git-lfs by this process
        self.touched: set[str] = set()              # objects this process fetched or handed over

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
        if self.ahead is not None:
            self.ahead.close()
        self._tidy()
        if self.prefetch is not None:
            self.prefetch.close()
        self.transport.close()

    def stop(self) -> None:
        """Make every download of this engine end soon with :class:`Cancelled` (at its next block, retry
        or wait); what arrived stays on disk, journaled, for the next run."""
        self.policy.cancel.set()

    def warm(self) -> None:
        """Resolve the LFS endpoint and sweep old temp files before the first object arrives."""
        self._sweep()
        try:
            self.batch.endpoint()
        except BatchError:
            pass   # said again, with the object's name, at the first download

    def may_receive_token(self, url: str) -> bool:
        if self._endpoints is None:
            self._endpoints = hubconf.configured_endpoints()
        return hubconf.may_receive_token(url, self._endpoints)

    def download(self, job: Job) -> str:
        """Fetch and verify ``job``'s object; the temp file's path, or :class:`ObjectFailed`."""
        self._sweep()
        if self.ahead is not None:
            self.ahead.start(job.oid)
        start = time.monotonic()
        path = _Download(self, job).run()
        took = max(time.monotonic() - start, 1e-6)
        self.log.say(f"downloaded {job.oid[:12]}: {format_size(job.size)} in {took:.1f}s "
                     f"({job.size / took / 1e6:.1f} MB/s)")
        self.log.event("object", oid=job.oid, size=job.size, result="downloaded", elapsed_ms=int(took * 1000),
                       path=path)   # the file named in `complete`: git-lfs hashes and renames it next
        return path

    def _tidy(self) -> None:
        """At the process's end, for the objects it fetched or handed over that git-lfs now has in place:
        remove their ``.ahead`` file and lock, and this process's hand-offs that are another link of the object
        (git-lfs's rename of a link onto the same file is a no-op that leaves the link: a second pull of an
        object already in place). Only this process's, and only at its end: by then git-lfs is done with every
        file it was handed. (The next run's sweep catches what a killed process left.)"""
        for oid in list(self.touched):
            if self._left_over(oid):
                for path in (ahead_path(self.temp_dir, oid), Path(self._lock_path(oid))):
                    try:
                        path.unlink()
                    except OSError:
                        pass
        for oid, path in self.handed:
            try:
                mine, placed = os.stat(path), os.stat(state.object_path(self.storage, oid))
            except OSError:
                continue   # renamed into objects/ as usual, or not in place
            if (mine.st_dev, mine.st_ino) == (placed.st_dev, placed.st_ino):
                try:
                    path.unlink()
                except OSError:
                    pass

    def _placed(self, oid: str) -> bool:
        """Nothing to fetch ahead: the object is in place or already waiting in its ahead file.
        (Plain strings, not Path: this runs for every object of the checkout in every agent.)"""
        objects, temp = self._dirs
        return (os.path.isfile(f"{objects}/{oid[:2]}/{oid[2:4]}/{oid}")
                or os.path.isfile(f"{temp}/{oid}.download{AHEAD_SUFFIX}"))

    def _lock_path(self, oid: str) -> str:
        """The object's lock file: whoever holds it is fetching the object (or fetched it and hands it over)."""
        return f"{self._dirs[1]}/{oid}.download.lock"

    def _claim(self, oid: str) -> int | None:
        """The object's lock, taken without waiting; None when another agent holds it (or it cannot be opened)."""
        try:
            fd = os.open(self._lock_path(oid), os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return None
        return fd

    def _fetch_ahead(self, oid: str, size: int, lock: int) -> bool:
        """Fetch one small object of the checkout, claimed (``lock``, closed here), before git-lfs asks for it
        (:mod:`ahead`); one attempt, since a failure here only means the object is fetched, with every retry,
        when it is asked for."""
        once = Policy(max_attempts=1, backoff=self.policy.backoff)
        try:
            action = self.prefetch.action(oid, once) if self.prefetch is not None else None
            if action is None:
                return False
            _Download(self, Job(oid, size, action, lambda _so_far, _since: None), policy=once).fetch_ahead(lock)
            return True
        except Exception as exc:   # noqa: BLE001 - never fatal here: the object is fetched again when asked for
            self.log.event("ahead", oid=oid, size=size, result="failed",
                           error=getattr(exc, "message", None) or type(exc).__name__)
            return False
        finally:
            os.close(lock)

    def _left_over(self, oid: str) -> bool:
        """The object is in place and no agent holds its lock: its temp files are leftovers. (An object in place
        may still be in flight here: a second pull that queued it before the first one's rename.)"""
        if not state.object_path(self.storage, oid).is_file():
            return False
        try:
            fd = os.open(self._lock_path(oid), os.O_RDWR)
        except FileNotFoundError:
            return True
        except OSError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False   # an agent is fetching it right now
        finally:
            os.close(fd)
        return True

    def _sweep(self) -> None:
        """Once per process: drop temp files, journals and locks of objects already in place, and those
        nobody touched for weeks (:func:`state.sweep`)."""
        if self._swept:
            return
        self._swept = True
        for old in state.sweep(self.temp_dir, state.DOWNLOADS,
                               self._left_over):
            if old.name.endswith(".download"):
                self.log.say(f"removed an old partial download: {old.name}")
        # a handed-off file git-lfs never renamed (it was killed in between), a work tree copy git hf clone
        # never moved (it was killed); never one in use
        state.sweep(self.temp_dir, state.HANDOFFS, lambda oid: False, stale_days=state.HANDOFF_STALE_DAYS)
        state.sweep(self.temp_dir, state.MIRRORS, lambda oid: False, stale_days=state.HANDOFF_STALE_DAYS)


class _Download:
    """State of one object's download: action, temp file, journal, hasher, progress."""

    def __init__(self, engine: DownloadEngine, job: Job, policy: Policy | None = None) -> None:
        self.e = engine
        self.job = job
        self.what = f"{job.oid[:12]} ({format_size(job.size)})"
        self.data, self.journal_path = temp_paths(engine.temp_dir, job.oid)
        self.cancel = threading.Event()
        self.policy = policy or engine.policy
        self.progress = Progress(job.size, job.emit)
        self.lock = threading.Lock()
        # One pwrite at a time: the kernel serialises writes to one file anyway (the inode lock), and its
        # waiters spin on a CPU while the holder copies; waiting here sleeps. Measured on 2 cores,
        # uncapped: 402-437 MB/s against 337-377 without it, 10% less CPU.
        self.write_lock = threading.Lock()
        self.action: Action | None = None
        self.deadline: float | None = None
        self.generation = 0
        self.refreshes = 0
        self.fd = -1

    # -- the object ---------------------------------------------------------------------------
    def run(self) -> str:
        try:
            return self._run()
        except BaseException:
            self.progress.close()   # nothing may follow the object's `complete` (git-lfs: "unexpected OID")
            raise

    def _run(self) -> str:
        lock = self._open_lock()
        try:
            # Another agent (a second `git lfs pull` running now, or one fetching it ahead) may be
            # fetching this object into the same temp file: wait for it rather than write over its bytes.
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:   # a wait that lasts is said in the log, so it explains itself
                said = threading.Timer(LOCK_WAIT_SAID, self._say_lock_wait)
                said.daemon = True
                said.start()
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX)
                finally:
                    said.cancel()
            handed = self._take_ahead()
            if handed is not None:
                return handed
            self._set_action(self.job.action)
            return self._run_locked()
        finally:
            os.close(lock)

    def _say_lock_wait(self) -> None:
        self.e.log.say(f"{self.what}: another git-hf-agent is fetching this object; waiting for it")
        self.e.log.event("lock_wait", oid=self.job.oid, size=self.job.size)

    def fetch_ahead(self, lock: int) -> None:
        """Fetch the object into its ahead file; the caller holds (and closes) its ``lock``."""
        self._set_action(self.job.action)
        self._run_locked(hand_over=False)
        self.e.log.event("ahead", oid=self.job.oid, size=self.job.size, result="fetched")

    def _open_lock(self) -> int:
        try:
            state.state_dir(self.e.storage, state.DOWNLOADS)   # again: someone may have removed it
            return os.open(self.e._lock_path(self.job.oid), os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise self._local(exc) from None

    def _take_ahead(self) -> str | None:
        """Hand over the object's verified ahead file (lock held), if one of the right size is waiting."""
        ahead = ahead_path(self.e.temp_dir, self.job.oid)
        try:
            if os.stat(ahead).st_size != self.job.size:
                ahead.unlink()
                return None
        except OSError:
            return None
        handed = self._hand_off(ahead)
        self.progress.finish()
        self.e.log.event("ahead", oid=self.job.oid, size=self.job.size, result="handed")
        return str(handed)

    def _run_locked(self, hand_over: bool = True) -> str:
        """Fetch and verify into the temp file, then keep it as the object's ahead file (the mark, for
        every agent of the run, that the object needs no fetching) and, for git-lfs, hand over a link."""
        try:
            self.fd = os.open(self.data, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise self._local(exc) from None
        try:
            for round_ in (1, 2):
                try:
                    self._fetch()
                    break
                except _Digest as bad:
                    self._discard()
                    message = (f"download of {self.what} did not match its oid (got sha256 {bad.got[:12]}); "
                               "the data was discarded")
                    self.e.log.event("mismatch", oid=self.job.oid, size=self.job.size, got=bad.got, round=round_)
                    if round_ == 2:
                        raise ObjectFailed(protocol.E_TRANSFER, (
                            f"{message} twice. Next: the server or a proxy is serving wrong bytes for this object; "
                            "re-run later or report it to the repo owner")) from None
                    self.e.log.say(f"{message}; fetching it once more from zero")
                    self.progress.restart()
        finally:
            os.close(self.fd)
        handed = ahead_path(self.e.temp_dir, self.job.oid)
        try:
            os.rename(self.data, handed)
        except OSError as exc:
            raise self._local(exc) from None
        self.e.touched.add(self.job.oid)
        if hand_over:
            handed = self._hand_off(handed)
        self.progress.finish()
        try:
            self.journal_path.unlink()
        except FileNotFoundError:
            pass
        return str(handed)

    def _hand_off(self, source: Path) -> Path:
        """Give the verified file a name of its own while the object's lock is still held.

        git-lfs hashes the file named in ``complete`` and only then renames it into
        ``objects/``. Under the shared ``<oid>.download`` name, a second agent for the
        same object (another pull waiting on the lock) would reopen and blank that file
        in between, and git-lfs would fail the object ("downloaded file failed checks").
        The verified file is handed over as a second link of ``<oid>.download.ahead``,
        which keeps telling the other agents that the object needs no fetching until
        git-lfs has it in place, and lets the next run reuse it if git-lfs was killed
        before that. It is removed once the object is in place
        (:meth:`DownloadEngine.close`, or the next run's sweep).
        """
        handed = self.data.with_name(f"{self.data.name}.{os.getpid()}-{next(_HANDOFFS)}{state.HANDOFF_SUFFIX}")
        try:
            try:
                os.link(source, handed)
            except OSError:
                os.rename(source, handed)   # a file system without hard links
        except OSError as exc:
            raise self._local(exc) from None
        self.e.handed.append((self.job.oid, handed))
        self.e.touched.add(self.job.oid)
        return handed

    def _fetch(self) -> None:
        spans = plan(self.job.size, self.e.range_size)
        if len(spans) <= 1:
            self._single()
            return
        try:
            self._ranges(spans)
        except _NoRanges:
            self.e.log.say(f"{self.what}: the server ignores Range requests; fetching it as one stream")
            self._discard()
            self.progress.restart()
            self._single()

    def _blank(self) -> None:
        """Make the temp file ``size`` bytes of zeros (a sparse file: no data written)."""
        self._forget_mirror()
        try:
            os.ftruncate(self.fd, 0)
            os.ftruncate(self.fd, self.job.size)
        except OSError as exc:
            raise self._local(exc) from None

    def _discard(self) -> None:
        """Forget everything received: empty temp file, no journal."""
        self._forget_mirror()
        try:
            os.ftruncate(self.fd, 0)
        except OSError as exc:
            raise self._local(exc) from None
        try:
            self.journal_path.unlink()
        except FileNotFoundError:
            pass
        self.cancel = threading.Event()

    def _forget_mirror(self) -> None:
        """The temp file starts over, so the work tree copy made from it so far no longer counts (a single
        stream never fills it: the object is then copied after its download)."""
        if self.job.mirror is not None:
            self.job.mirror.reset()

    # -- one stream ---------------------------------------------------------------------------
    def _single(self) -> None:
        """One plain GET of the whole object, hashed as it streams (no re-reading)."""
        import hashlib

        digest: list[str] = []

        def get(attempt: int) -> None:
            sha = hashlib.sha256()
            self._blank()
            resp = self._open(None, attempt, part=None)
            with resp:
                if resp.status_code != 200:
                    raise self._bad_answer(resp, "200", attempt)
                written = self._stream(resp, 0, self.job.size, "single", attempt, part=None, sha=sha)
            if written != self.job.size:
                raise self._short(written, self.job.size, attempt, resp.url)
            digest.append(sha.hexdigest())

        self._with_fresh_urls("the download", get)
        if digest[-1] != self.job.oid:
            raise _Digest(digest[-1])

    # -- parallel ranges ----------------------------------------------------------------------
    def _ranges(self, spans: list[Span]) -> None:
        journal = RangeJournal.load(self.journal_path, self.job.oid, self.job.size, self.e.range_size, len(spans))
        try:
            if journal.done and os.fstat(self.fd).st_size != self.job.size:
                journal.done.clear()   # the temp file does not match its journal: start afresh
            if not journal.done:
                self._blank()
            journal.start()
        except OSError as exc:
            raise self._local(exc) from None
        mirror = self.job.mirror
        hasher = InOrderHasher(self.fd, spans, after=(lambda span: mirror.copy(self.fd, span)) if mirror else None)
        try:
            resumed = [s for s in spans if s.index in journal.done]
            for span in resumed:
                hasher.finished(span.index)
            todo = [s for s in spans if s.index not in journal.done]
            self.e.log.say(f"download {self.what} in {len(spans)} ranges of {format_size(self.e.range_size)}, "
                           f"{self.e.per_object} at a time" + (f"; {len(resumed)} ranges already on disk" if resumed else ""))
            self.e.log.event("object", oid=self.job.oid, size=self.job.size, direction="download",
                             ranges=len(spans), range_size=self.e.range_size, resumed_ranges=len(resumed))
            if resumed:
                self.progress.already_done(sum(s.length for s in resumed))
            self._run_all(todo, lambda span: self._fetch_span(span, len(spans), journal, hasher))
            try:
                got = hasher.hexdigest()
            except OSError as exc:
                raise self._local(exc) from None
            if got != self.job.oid:
                raise _Digest(got)
        finally:
            hasher.stop()
            journal.close()

    def _run_all(self, spans: list[Span], fn: Callable[[Span], None]) -> None:
        run_all(self.e.pool, fn, spans, self.cancel, (_NoRanges, ObjectFailed), window=self.e.per_object)

    def _stopped(self) -> bool:
        """This object failed elsewhere (its ``cancel``) or the engine is stopping (the policy's)."""
        return self.cancel.is_set() or self.policy.cancel.is_set()

    def _fetch_span(self, span: Span, total: int, journal: RangeJournal, hasher: InOrderHasher) -> None:
        if self._stopped():
            raise Cancelled()
        reached = [0]   # bytes of this span on disk; a retry continues from there

        def get(attempt: int) -> None:
            if reached[0] >= span.length:   # every byte arrived before the connection failed
                return
            resp = self._open(span.header(reached[0]), attempt, part=span.index + 1)
            with resp:
                if resp.status_code == 200:
                    raise _NoRanges()
                if resp.status_code != 206 or not _content_range_ok(resp, span.start + reached[0], span.end, self.job.size):
                    raise self._bad_answer(resp, f"206 with Content-Range {span.header(reached[0])[6:]}/{self.job.size}", attempt)
                self._stream(resp, span.start + reached[0], span.end, span.index, attempt, part=span.index + 1,
                             base=span.start, reached=reached)
            if span.start + reached[0] < span.end:
                raise self._short(reached[0], span.length, attempt, resp.url)

        try:
            self._with_fresh_urls(f"range {span.index + 1}/{total}", get, part=span.index + 1)
        except BaseException:
            self.cancel.set()
            raise
        journal.record(span.index)
        hasher.finished(span.index)

    # -- HTTP: one GET, redirects, body ---------------------------------------------------------
    def _open(self, range_header: str | None, attempt: int, part: int | None) -> requests.Response:
        """GET the action's href (following redirects); the response with its body unread."""
        with self.lock:
            action = self.action
        url, headers = action.href, dict(action.headers)
        for _ in range(MAX_REDIRECTS + 1):
            sent = {**headers, "Accept-Encoding": "identity"}
            if range_header:
                sent["Range"] = range_header
            resp = self.e.transport.open("download", url, attempt=attempt, headers=sent, oid=self.job.oid, part=part)
            if not 300 <= resp.status_code < 400:
                return resp
            resp.close()
            url = urljoin(url, resp.headers["Location"])
            headers = self._hop_headers(action, url)
        raise HttpFailure(FATAL, "download", redact_url(url), reason=f"more than {MAX_REDIRECTS} redirects",
                          attempt=attempt)

    def _hop_headers(self, action: Action, url: str) -> dict[str, str]:
        """Headers for a redirect hop: all of the action's on its own origin; elsewhere only a
        token the Hub may receive there (a CDN or storage URL is presigned and gets none)."""
        if hubconf.origin(url) is not None and hubconf.origin(url) == hubconf.origin(action.href):
            return dict(action.headers)
        if self.e.may_receive_token(url):
            return {k: v for k, v in action.headers.items() if k.lower() == "authorization"}
        return {}

    def _stream(self, resp: requests.Response, start: int, end: int, key, attempt: int, *, part: int | None,
                base: int = 0, sha=None, reached: list[int] | None = None) -> int:
        """Write the body at ``start``..``end`` by offset; returns the bytes written.

        Network errors while reading become retriable :class:`HttpFailure`; a body
        longer than asked for is refused (nothing past ``end`` is written).
        """
        pos = start
        chunks = resp.iter_content(BLOCK)
        began = time.monotonic()
        while True:
            if self._stopped():
                raise Cancelled()
            try:
                block = next(chunks)
            except StopIteration:
                break
            except (requests.RequestException, OSError) as exc:
                raise network_failure("download", redact_url(resp.url), exc, attempt=attempt,
                                      elapsed=time.monotonic() - began) from exc
            if pos + len(block) > end:
                raise HttpFailure(RETRIABLE, "download", redact_url(resp.url), resp.status_code,
                                  reason=f"body longer than the {end - start} bytes asked for", attempt=attempt)
            self._write(block, pos)
            if sha is not None:
                sha.update(block)
            pos += len(block)
            if reached is not None:
                reached[0] = pos - base
            self.progress.advance(key, pos - base)
        return pos - start

    def _write(self, block: bytes, offset: int) -> None:
        if len(block) == BLOCK and block == ZERO_BLOCK:
            return
        view = memoryview(block)
        try:
            with self.write_lock:
                while view:
                    n = os.pwrite(self.fd, view, offset)
                    view, offset = view[n:], offset + n
        except OSError as exc:
            raise self._local(exc) from None

    # -- retries plus fresh URLs ----------------------------------------------------------------
    def _set_action(self, raw: dict | None) -> None:
        if raw is None and self.e.prefetch is not None:
            raw = self.e.prefetch.action(self.job.oid, self.policy)   # fetched ahead with other objects
        if raw is None:
            self._refresh(None)
            return
        try:
            self.action, self.deadline = parse_action(raw), expiry(raw)
        except BatchError as exc:
            raise ObjectFailed(protocol.E_BAD_ACTION, f"download of {self.what} failed: {exc.message}. "
                               "Next: re-run the command; if it repeats, the server is not speaking the LFS protocol") from None

    def _refresh(self, seen: int | None) -> None:
        """Ask the batch API for a new action (once per generation however many workers ask)."""
        with self.lock:
            if seen is not None and seen != self.generation:
                return
            if seen is not None:
                self.refreshes += 1
                if self.refreshes > MAX_REFRESHES:
                    raise ObjectFailed(protocol.E_TRANSFER, (
                        f"download of {self.what} failed: the storage refused {MAX_REFRESHES} fresh URLs in a row. "
                        "Next: check the machine's clock and re-run the command"))
                self.e.log.say(f"{self.what}: download URL expired; asking the LFS API for a fresh one")
            try:
                action = self.e.batch.action(self.job.oid, self.job.size, self.policy,
                                             on_retry=lambda f, wait: self._retrying("batch", f, wait))
            except BatchError as exc:
                step = "check the repo and revision" if exc.missing else "re-run the command"
                raise ObjectFailed(protocol.E_TRANSFER, f"download of {self.what} failed: {exc.message}"
                                   + ("" if "Next:" in exc.message else f". Next: {step}")) from None
            self.action, self.deadline = action, None
            self.generation += 1

    def _with_fresh_urls(self, what: str, send: Callable[[int], object], part: int | None = None):
        started = time.monotonic()
        while True:
            with self.lock:
                generation = self.generation
                stale = self.deadline is not None and time.time() > self.deadline - EXPIRY_MARGIN
            if stale:
                self._refresh(generation)
                continue
            try:
                return self.policy.call(send, on_retry=lambda f, wait: self._retrying(what, f, wait))
            except HttpFailure as failure:
                if failure.category == EXPIRED:
                    self._refresh(generation)
                    continue
                raise self._failed(what, failure, time.monotonic() - started) from None

    def _retrying(self, what: str, failure: HttpFailure, wait: float) -> None:
        self.e.log.say(f"{self.job.oid[:12]} {what}: {failure.describe()}; "
                       f"retry {failure.attempt + 1}/{self.policy.max_attempts} in {wait:.1f}s")
        self.e.log.event("retry", oid=self.job.oid, size=self.job.size, what=what, status=failure.status,
                         error=failure.reason or None, attempt=failure.attempt,
                         max_attempts=self.policy.max_attempts, delay_s=round(wait, 3))

    # -- messages -------------------------------------------------------------------------------
    def _failed(self, what: str, failure: HttpFailure, spent: float) -> ObjectFailed:
        if failure.retriable:
            step = "check the network or the Hub's status, then re-run the command (`git lfs pull` resumes)"
        elif failure.category == FATAL:
            step = "re-run the command; if it fails the same way, report it with the log " + (self.e.log.path or "")
        else:
            step = "check the Hub token (`git hf doctor`) and re-run the command"
        return ObjectFailed(failure.status or protocol.E_TRANSFER, (
            f"download of {self.what} failed at {what} after {spent:.1f}s: {failure.describe()}. Next: {step}"))

    def _short(self, got: int, want: int, attempt: int, url: str) -> HttpFailure:
        return HttpFailure(RETRIABLE, "download", redact_url(url), 200,
                           reason=f"body ended early: {got} of {want} bytes", attempt=attempt)

    def _bad_answer(self, resp: requests.Response, wanted: str, attempt: int) -> HttpFailure:
        got = f"{resp.status_code} with Content-Range {resp.headers.get('Content-Range')!r}"
        return HttpFailure(RETRIABLE, "download", redact_url(resp.url), resp.status_code,
                           reason=f"expected {wanted}, got {got}", attempt=attempt)

    def _local(self, exc: OSError) -> ObjectFailed:
        return ObjectFailed(protocol.E_LOCAL_FILE, (
            f"download of {self.what}: cannot write {self.data}: {exc.strerror or exc}. Next: "
            + ("free disk space in the repository" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else
               "check that nothing else removes files in that directory")
            + " and re-run the command (`git lfs pull` resumes)"))


def _content_range_ok(resp: requests.Response, start: int, end: int, size: int) -> bool:
    """``Content-Range: bytes start-(end-1)/size`` (``*`` allowed for the size)."""
    value = (resp.headers.get("Content-Range") or "").strip()
    unit, _, rest = value.partition(" ")
    span, _, total = rest.partition("/")
    first, _, last = span.partition("-")
    try:
        return (unit == "bytes" and int(first) == start and int(last) == end - 1
                and (total == "*" or int(total) == size))
    except ValueError:
        return False
