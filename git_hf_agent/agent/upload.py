"""The upload engine: one object, streamed in parallel parts (or one basic PUT), retried, resumable.

For a ``multipart`` plan a shared pool of ``--parallel`` threads streams the
parts straight from the object file by offset (:class:`http.FileSlice`); every
worker takes the next part as soon as it finishes one, so no connection idles.
Each part is retried by the single :class:`retry.Policy`; its ETag is written to
the :class:`journal.Journal` before it counts. When URLs expire (403 from the
storage, or the action's deadline passed) one worker asks :mod:`refresh` for new
actions while the others wait: the same upload id continues with new URLs, a new
one starts over cleanly (old journal removed), no actions means the server
already has the object. After the last part the completion POST is sent
(retried on 5xx/connection errors) and only its 2xx makes the object done.

Resume (issue 10): the journal keeps the upload's own URLs. When git-lfs hands
over an action for an upload the journal does not know (the server starts a
new upload on every batch) while a journaled upload of the object has
confirmed parts and URLs still valid, that upload is continued with its
journaled URLs; the offered action is kept as the fallback should the storage
refuse them (403/404). Otherwise the offered upload is taken and the bytes that
must be sent again are said (stderr, log ``restart`` event).
The object file is opened read-only and never modified.
"""

from __future__ import annotations

import os
import stat
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from git_hf_agent.agent import protocol, state
from git_hf_agent.agent.http import EXPIRED, FATAL, LFS_HEADERS, FileSlice, HttpFailure, Transport, stream
from git_hf_agent.agent.journal import Journal, journal_dir_for
from git_hf_agent.agent.log import Log
from git_hf_agent.agent.plan import ActionError, BasicPlan, MultipartPlan, Plan, plan_action
from git_hf_agent.agent.progress import Emit, Progress
from git_hf_agent.agent.refresh import Refresher, RefreshError
from git_hf_agent.agent.report import Report
from git_hf_agent.agent.retry import Cancelled, Policy
from git_hf_agent.agent.workers import PooledEngine, run_all
from git_hf_agent.units import format_size

MAX_REFRESHES = 5       # fresh-URL rounds per object before giving up
MAX_RESTARTS = 3        # new upload ids per object before giving up
# The server assembles and hashes the object before answering the completion: allow
# --timeout plus the time to hash the object at a slow 20 MB/s, at most 30 minutes.
COMPLETE_HASH_RATE = 20e6
COMPLETE_MAX_WAIT = 1800.0
# A journaled upload is continued only if its URLs stay valid this much longer
# (git-lfs itself treats actions expiring within 5 s as expired).
RESUME_MARGIN = 5.0


class ObjectFailed(Exception):
    """This object cannot be uploaded now; ``message`` is what git-lfs shows the user."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class _Stored(Exception):
    """The batch API says the server already holds the object."""


class _StartOver(Exception):
    """Give up the current upload and restart with ``plan`` (``reason`` says why)."""

    def __init__(self, plan: Plan, reason: str) -> None:
        self.plan = plan
        self.reason = reason


@dataclass
class Job:
    """One object to upload and where to report progress."""

    oid: str
    size: int
    path: str
    action: dict | None
    emit: Emit


class Engine(PooledEngine):
    """Uploads objects one at a time with a pool of ``parallel`` part workers."""

    def __init__(self, transport: Transport, policy: Policy, refresher: Refresher, log: Log,
                 *, parallel: int, git_dir: str | None = None) -> None:
        super().__init__(transport, policy, log, parallel=parallel, thread_name_prefix="git-hf-part")
        self.refresher = refresher
        self.git_dir = git_dir
        self.stopped = threading.Event()
        self._current: _Upload | None = None
        self._swept = False

    def stop(self) -> None:
        """Abandon the upload in progress (git-lfs went away); confirmed parts stay in the journal."""
        self.stopped.set()
        current = self._current
        if current is not None:
            current.cancel.set()

    def upload(self, job: Job) -> None:
        """Store ``job``'s object on the server or raise :class:`ObjectFailed`."""
        _check_file(job)
        action = job.action if job.action is not None else self._standalone_action(job)
        if action is None:
            self.log.say(f"{job.oid[:12]} is already stored on the server")
            job.emit(job.size, job.size)
            self.log.event("object_done", oid=job.oid, size=job.size, result="already_stored", elapsed_s=0.0,
                           bytes_sent=0)
            return
        try:
            plan = plan_action(action, job.size)
        except ActionError as exc:
            raise ObjectFailed(protocol.E_BAD_ACTION, (
                f"the server's upload action for {job.oid[:12]} is unusable: {exc}; nothing was sent. "
                "Next: re-run `git push`; if it repeats, the server is not speaking the Hub's LFS protocol"
            )) from None
        start = time.monotonic()
        try:
            fd = os.open(job.path, os.O_RDONLY)
        except OSError as exc:
            raise ObjectFailed(protocol.E_LOCAL_FILE, f"cannot read the object file {job.path}: {exc.strerror}. "
                               "Next: check its permissions and re-run `git push`") from None
        upload = self._current = _Upload(self, job, fd)
        try:
            result = upload.run(plan)
        finally:
            self._current = None
            upload.progress.close()
            os.close(fd)
        took = max(time.monotonic() - start, 1e-6)
        self.log.say(f"stored {job.oid[:12]}: {format_size(job.size)} in {took:.1f}s ({job.size / took / 1e6:.1f} MB/s)")
        upload.report.event("object_done", result=result, elapsed_s=round(took, 3), bytes_sent=upload.progress.sent)

    def journal_dir(self, job: Job) -> Path:
        """Where ``job``'s resume journals live (:mod:`state`). The first call per process also removes
        journals nobody touched for weeks and, when git-lfs keeps objects in the usual layout, journals
        of objects no longer in the local store (such an upload can never be continued)."""
        directory = journal_dir_for(job.path, self.git_dir)
        if not self._swept:
            self._swept = True
            storage = state.storage_of(job.path, self.git_dir)
            usual = Path(job.path).resolve() == state.object_path(storage, job.oid).resolve()
            for old in state.sweep(directory, state.UPLOADS,
                                   lambda oid: usual and not state.object_path(storage, oid).is_file()):
                self.log.say(f"removed an abandoned resume journal: {old.name}")
        return directory

    def _standalone_action(self, job: Job) -> dict | None:
        """``action: null`` (lfs.standalonetransferagent): ask the batch API ourselves, as git-lfs would."""
        try:
            return self.refresher.fetch(job.oid, job.size, self.policy).action
        except RefreshError as exc:
            raise ObjectFailed(protocol.E_TRANSFER, f"upload of {job.oid[:12]} failed: {exc}") from None


def _check_file(job: Job) -> None:
    try:
        st = os.stat(job.path)
    except OSError as exc:
        raise ObjectFailed(protocol.E_LOCAL_FILE, f"cannot read the object file {job.path}: {exc.strerror}. "
                           "Next: run `git lfs fsck` and re-run `git push`") from None
    if not stat.S_ISREG(st.st_mode) or st.st_size != job.size:
        raise ObjectFailed(protocol.E_LOCAL_FILE, (
            f"the object file {job.path} has {st.st_size} bytes but git-lfs announced {job.size}; nothing was sent. "
            "Next: run `git lfs fsck` and re-run `git push`"))


class _Upload:
    """State of one object's upload: current plan, URL generation, journal, progress."""

    def __init__(self, engine: Engine, job: Job, fd: int) -> None:
        self.e = engine
        self.job = job
        self.fd = fd
        self.cancel = threading.Event()
        if engine.stopped.is_set():
            self.cancel.set()
        self.policy = replace(engine.policy, cancel=self.cancel)
        self.report = Report(engine.log, job.oid, job.size, lambda: self.progress.counted)
        self.progress = Progress(job.size, self._progressed)
        self.lock = threading.Lock()
        self.generation = 0
        self.refreshes = 0
        self.plan: Plan | None = None
        self.journal: Journal | _Memo | None = None
        self.fallback: Plan | None = None   # the offered plan, while a journaled upload is continued
        self.resumed = "none"

    def _progressed(self, so_far: int, since: int) -> None:
        self.job.emit(so_far, since)
        self.report.bytes()

    def run(self, plan: Plan) -> str:
        """Upload with ``plan`` (or a journaled upload); returns ``stored`` or ``already_stored``."""
        plan = self._resume_choice(plan)
        for _ in range(MAX_RESTARTS + 1):
            try:
                self.plan, self.generation = plan, self.generation + 1
                if isinstance(plan, BasicPlan):
                    self._basic()
                else:
                    self._multipart()
                self.progress.finish()
                return "stored"
            except _Stored:
                self.e.log.say(f"{self.job.oid[:12]} is already stored on the server")
                self.progress.finish()
                return "already_stored"
            except _StartOver as new:
                self._give_up_upload(new.reason)
                self.progress.restart()
                self.cancel = threading.Event()
                if self.e.stopped.is_set():
                    self.cancel.set()
                self.policy = replace(self.e.policy, cancel=self.cancel)
                plan = new.plan
        raise ObjectFailed(protocol.E_TRANSFER, (
            f"the server restarted the upload of {self.job.oid[:12]} {MAX_RESTARTS} times. Next: re-run `git push` later"))

    # -- resume -----------------------------------------------------------------------------
    def _resume_choice(self, offered: Plan) -> Plan:
        """The plan to run: ``offered``, or a journaled upload of this object whose URLs are still valid."""
        directory = self.e.journal_dir(self.job)
        saved = [j for j in Journal.saved(directory, self.job.oid, self.job.size) if j.done]
        if saved:   # another repo's upload is not ours to finish (the endpoint costs a few git calls: only now)
            endpoint = self.e.refresher.endpoint_id()
            saved = [j for j in saved if j.endpoint in (None, endpoint)]
        if not saved or any(isinstance(offered, MultipartPlan) and j.upload_id == offered.upload_id for j in saved):
            return offered   # nothing to resume, or the server kept the upload: the journal is opened as usual
        checked = [(j, *self._journaled(j)) for j in saved]
        usable = [(j.done_bytes(), j, plan) for j, plan, _ in checked if plan is not None]
        if usable:
            nbytes, journal, plan = max(usable, key=lambda t: t[0])
            until = "" if plan.deadline is None else f", its URLs valid until {_utc(plan.deadline)}"
            self.e.log.say(f"{self.job.oid[:12]}: the server offered a new upload; continuing the upload of an earlier "
                           f"push instead ({len(journal.done)} parts, {format_size(nbytes)} already stored{until})")
            self.fallback, self.resumed = offered, "journaled_upload"
            return plan
        lost, _, reason = max(checked, key=lambda t: t[0].done_bytes())
        self._say_resend(f"the upload of an earlier push cannot be continued ({reason})", len(lost.done), lost.done_bytes())
        for journal in saved:
            journal.remove()
        return offered

    def _journaled(self, journal: Journal) -> tuple[MultipartPlan | None, str]:
        """The journal's own upload as a plan, or None and why it cannot be continued."""
        if journal.action is None:
            return None, "its journal has no upload URLs (written by an older git-hf-agent)"
        if journal.endpoint is None:
            return None, "the LFS endpoint it was made for is unknown"
        deadline = journal.deadline
        if deadline is not None and deadline - time.time() < RESUME_MARGIN:
            return None, f"its URLs expired at {_utc(deadline)}"
        try:
            plan = plan_action(journal.action, self.job.size)
        except ActionError as exc:
            return None, f"its journaled action is unusable: {exc}"
        if not isinstance(plan, MultipartPlan) or plan.upload_id != journal.upload_id:
            return None, "its journaled action does not match the upload"
        return replace(plan, deadline=deadline), ""

    def _give_up_upload(self, reason: str) -> None:
        """Drop the current upload's journal and say what that costs."""
        journal, plan = self.journal, self.plan
        if journal is None:
            return
        done = dict(journal.done)
        nbytes = sum(p.length for p in plan.parts if p.number in done) if isinstance(plan, MultipartPlan) else 0
        journal.remove()
        self._say_resend(reason, len(done), nbytes)

    def _say_resend(self, reason: str, parts: int, nbytes: int) -> None:
        cost = (f"{format_size(nbytes)} in {parts} parts already stored must be sent again"
                if parts else "nothing already stored is lost")
        self.e.log.say(f"{self.job.oid[:12]}: {reason}; starting over with the server's new upload: {cost}")
        self.report.restart(reason, parts, nbytes)

    # -- basic ------------------------------------------------------------------------------
    def _basic(self) -> None:
        job = self.job
        self.report.start(transfer="basic", parts=1, chunk_size=job.size, parallel=1, parts_done=0, bytes_done=0,
                          resumed="none")

        def put(attempt: int) -> None:
            plan = self.plan
            body = FileSlice(self.fd, 0, job.size, self.progress.attempt("basic"), self.cancel.is_set)
            self.e.transport.request("basic", "PUT", plan.url, attempt=attempt, body=stream(body), nbytes=job.size,
                                     headers=plan.headers, oid=job.oid)

        self.report.part_started()
        try:
            self._with_fresh_urls("upload", put)
        except BaseException:
            self.report.part_ended(None, done=False)
            raise
        self.report.part_ended(1, done=True)

    # -- multipart --------------------------------------------------------------------------
    def _multipart(self) -> None:
        plan = self.plan
        assert isinstance(plan, MultipartPlan)
        self.journal = self._open_journal(plan)
        done = dict(self.journal.done)   # parts confirmed by an earlier run
        resumed = sum(p.length for p in plan.parts if p.number in done)
        todo = [p.number for p in plan.parts if p.number not in done]
        self.e.log.say(
            f"upload {self.job.oid[:12]}: {format_size(self.job.size)} in {len(plan.parts)} parts of "
            f"{format_size(plan.chunk_size)}, {self.e.parallel} in parallel"
            + (f"; {len(done)} parts ({format_size(resumed)}) already stored, resuming" if done else ""))
        if done and self.resumed == "none":
            self.resumed = "same_upload"
        self.report.start(transfer="multipart", parts=len(plan.parts), chunk_size=plan.chunk_size,
                          parallel=self.e.parallel, parts_done=len(done), bytes_done=resumed, resumed=self.resumed)
        self.resumed = "none"   # a restart later in this run starts afresh
        if resumed:
            self.progress.already_done(resumed)
        self._run_parts(todo)
        self._complete_or_resend(sorted(done))
        self.journal.remove()

    def _complete_or_resend(self, resumed: list[int]) -> None:
        """Complete; if the server refuses ETags an earlier run recorded, send those parts again.

        (The server lost those parts but kept the upload id: without this, every
        later push would fail the same way.)
        """
        try:
            self._complete()
        except ObjectFailed as failed:
            if not (resumed and failed.code == 400):
                raise
            self.e.log.say(f"{self.job.oid[:12]}: the server rejected the parts of an earlier run; sending them again")
            self.journal.forget(resumed)
            self.report.forget(len(resumed))
            self._run_parts(resumed)
            self._complete()

    def _open_journal(self, plan: MultipartPlan):
        if plan.upload_id is None:
            return _Memo()
        directory = self.e.journal_dir(self.job)
        journal = Journal.open(directory, self.job.oid, plan.upload_id, self.job.size, plan.chunk_size, len(plan.parts),
                               plan.action, plan.deadline, self.e.refresher.endpoint_id())
        for old in journal.remove_others():
            self.e.log.say(f"removed the journal of an older upload: {old.name}")
        return journal

    def _run_parts(self, numbers: list[int]) -> None:
        # Prefer control-flow signals (stored / start over) over the Cancelled they caused.
        run_all(self.e.pool, self._send_part, numbers, self.cancel, (_Stored, _StartOver, ObjectFailed))

    def _send_part(self, number: int) -> None:
        if self.cancel.is_set():
            raise Cancelled()
        total = len(self.plan.parts)

        def put(attempt: int) -> str:
            part = self.plan.parts[number - 1]
            body = FileSlice(self.fd, part.offset, part.length, self.progress.attempt(number), self.cancel.is_set)
            resp = self.e.transport.request("part", "PUT", part.url, attempt=attempt, body=stream(body),
                                            nbytes=part.length, oid=self.job.oid, part=number)
            return resp.headers["ETag"]

        self.report.part_started()
        try:
            etag = self._with_fresh_urls(f"part {number}/{total}", put, part=number)
            self._record(number, etag)
        except BaseException:
            self.cancel.set()   # stop the other workers before they pick up another part
            self.report.part_ended(number, done=False)
            raise
        self.report.part_ended(number, done=True)

    def _record(self, number: int, etag: str) -> None:
        try:
            self.journal.record(number, etag)
        except OSError as exc:
            raise ObjectFailed(protocol.E_LOCAL_FILE, (
                f"cannot write the resume journal {self.journal.path}: {exc.strerror}. "
                "Next: free disk space in the repository and re-run `git push`")) from None

    def _complete(self) -> None:
        parts = [{"partNumber": n, "etag": self.journal.done[n]} for n in sorted(self.journal.done)]
        body = protocol.Reply({"oid": self.job.oid, "parts": parts}).line().encode()

        def post(attempt: int) -> None:
            headers = {**self.plan.headers, **LFS_HEADERS}
            self.e.transport.request("complete", "POST", self.plan.complete_url, attempt=attempt, body=body,
                                     nbytes=len(body), headers=headers, oid=self.job.oid,
                                     read_timeout=completion_timeout(self.job.size, self.e.transport.timeout[1]))

        try:
            self._with_fresh_urls("completion", post)
        except ObjectFailed as failed:
            if failed.code in (400, 409):
                self._stored_anyway(failed)
            raise

    def _stored_anyway(self, failed: ObjectFailed) -> None:
        """A 4xx completion after a retry may mean the first attempt succeeded: ask the batch API."""
        try:
            fresh = self.e.refresher.fetch(self.job.oid, self.job.size, self.policy, self._batch_retrying)
        except RefreshError:
            return
        if fresh.action is None:
            raise _Stored() from failed

    # -- shared: retries plus fresh URLs ---------------------------------------------------
    def _with_fresh_urls(self, what: str, send: Callable[[int], object], part: int | None = None):
        """Run ``send`` under the retry policy; on expired URLs fetch fresh ones and go again."""
        started = time.monotonic()
        while True:
            generation = self._ensure_fresh()
            try:
                return self.policy.call(send, on_retry=lambda f, wait: self._retrying(f, wait, part))
            except HttpFailure as failure:
                if self.cancel.is_set():   # cut off because another part failed: that failure is the one to show
                    raise Cancelled() from None
                if failure.category == EXPIRED:
                    self._refresh(generation, failure)
                    continue
                raise self._failed(what, failure, time.monotonic() - started) from None

    def _retrying(self, failure: HttpFailure, wait: float, part: int | None = None) -> None:
        """One retry: a ``retry`` event for the push view and a stderr line with the full reason."""
        what = {"complete": "completion"}.get(failure.kind, failure.kind)
        line = self.report.retry(what=what, part=part, status=failure.status, error=None if failure.status else failure.reason,
                                 attempt=failure.attempt + 1, max_attempts=self.policy.max_attempts, delay=wait)
        self.e.log.say(f"{self.job.oid[:12]} {line}: {failure.describe()}")

    def _batch_retrying(self, failure: HttpFailure, wait: float) -> None:
        self._retrying(failure, wait)

    def _ensure_fresh(self) -> int:
        """Refresh proactively when the plan's URLs expire (or nearly); returns the URL generation."""
        with self.lock:
            generation = self.generation
            deadline = self.plan.deadline
        if deadline is not None and time.time() >= deadline - 1.0:
            self._refresh(generation, None)
            with self.lock:
                generation = self.generation
        return generation

    def _refresh(self, generation: int, failure: HttpFailure | None) -> None:
        """Replace the plan's URLs once per generation (other workers wait and reuse the result)."""
        with self.lock:
            if self.cancel.is_set():
                raise Cancelled()
            if generation != self.generation:
                return
            self.refreshes += 1
            why = failure.describe() if failure else "the upload URLs expired"
            if self.refreshes > MAX_REFRESHES:
                raise self._failed("fresh upload URLs", failure) if failure else ObjectFailed(
                    protocol.E_TRANSFER, f"upload URLs for {self.job.oid[:12]} kept expiring. Next: re-run `git push`")
            self._to_fallback(why)
            self.e.log.say(f"{self.job.oid[:12]}: {why}; asking the LFS API for fresh URLs")
            self.report.event("url_refresh", reason=why)
            try:
                fresh = self.e.refresher.fetch(self.job.oid, self.job.size, self.policy, self._batch_retrying)
            except RefreshError as exc:
                raise ObjectFailed(protocol.E_TRANSFER, f"upload of {self.job.oid[:12]} failed: {why}; {exc}") from None
            if fresh.action is None:
                raise _Stored()
            try:
                plan = plan_action(fresh.action, self.job.size)
            except ActionError as exc:
                raise ObjectFailed(protocol.E_BAD_ACTION, f"fresh upload action for {self.job.oid[:12]} is unusable: {exc}") from None
            if not _same_upload(self.plan, plan):
                raise _StartOver(plan, f"the server started a new upload ({why})")
            self.plan = plan
            self.generation += 1
            if isinstance(self.journal, Journal):
                self.journal.update_action(plan.action, plan.deadline)   # a later push resumes with these URLs

    def _to_fallback(self, why: str) -> None:
        """A journaled upload was refused or expired: switch to the upload git-lfs offered, if still valid."""
        fallback, self.fallback = self.fallback, None
        if fallback is not None and (fallback.deadline is None or fallback.deadline - time.time() >= RESUME_MARGIN):
            raise _StartOver(fallback, f"the upload of an earlier push is no longer accepted ({why})")

    def _failed(self, what: str, failure: HttpFailure, spent: float | None = None) -> ObjectFailed:
        """The user's message: what failed, status, body, redacted URL, attempt, time, next step."""
        stored = len(self.journal.done) if isinstance(self.journal, Journal) else 0
        if failure.retriable:
            step = "check the network or the Hub's status, then re-run `git push`"
        elif failure.category == FATAL:
            step = "re-run `git push`; if it fails the same way, report it with the log " + (self.e.log.path or "")
        elif failure.category == EXPIRED:
            step = "the storage keeps refusing fresh URLs; check the machine's clock and re-run `git push`"
        else:
            step = "check the Hub token (`git hf doctor`) and re-run `git push`"
        if stored:
            deadline = self.plan.deadline if isinstance(self.plan, MultipartPlan) else None
            until = f" (until its URLs expire at {_utc(deadline)})" if deadline is not None else ""
            step += (f"; the {stored} parts already stored are kept in {self.journal.path}: "
                     f"the next push continues this upload{until} and does not send them again")
        spent_text = f" after {spent:.1f}s" if spent is not None else ""
        message = (f"upload of {self.job.oid[:12]} failed at {what}{spent_text}: {failure.describe()}. "
                   f"Next: {step}")
        return ObjectFailed(failure.status or protocol.E_TRANSFER, message)


def completion_timeout(size: int, timeout: float) -> float:
    """Read timeout for the completion POST of a ``size``-byte object."""
    return max(timeout, min(timeout + size / COMPLETE_HASH_RATE, COMPLETE_MAX_WAIT))


def _utc(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch))


def _same_upload(old: Plan | None, new: Plan) -> bool:
    return (isinstance(old, MultipartPlan) and isinstance(new, MultipartPlan) and old.upload_id is not None
            and new.upload_id == old.upload_id and new.chunk_size == old.chunk_size
            and len(new.parts) == len(old.parts)) or (isinstance(old, BasicPlan) and isinstance(new, BasicPlan))


class _Memo:
    """In-memory stand-in for a journal when the server gives no upload id (nothing to resume)."""

    path = None

    def __init__(self) -> None:
        self.done: dict[int, str] = {}
        self._lock = threading.Lock()

    def record(self, number: int, etag: str) -> None:
        with self._lock:
            self.done[number] = etag

    def forget(self, numbers: list[int]) -> None:
        for n in numbers:
            self.done.pop(n, None)

    def remove(self) -> None:
        self.done = {}
