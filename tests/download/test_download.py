"""The agent's download path at the wire: the protocol loop driven in-process, HTTP faked with ``responses``.

Each test plays a server behaviour (ranges, no ranges, short bodies, corrupt
bytes, redirects to another host, expired URLs, a crash mid-object) and checks
what git-lfs and the user would see: the file handed back, its bytes, the
progress events, the requests sent and the error text.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import subprocess

import pytest
import responses

from git_hf_agent.agent.main import run
from git_hf_agent.agent.ranges import RangeJournal, plan, temp_paths
from tests.agent.realgit import state_dir

ENDPOINT = "https://hub.test/alice/model.git/info/lfs"
HREF = "https://hub.test/_lfs/objects/{oid}?sig=abc"
MIB = 1 << 20


@pytest.fixture
def repo(tmp_path, monkeypatch):
    """A real git repo as the agent's cwd, origin on a Hub at https://hub.test (public: no credentials)."""
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    subprocess.run(["git", "-C", str(tmp_path), "remote", "add", "origin", "https://hub.test/alice/model"], check=True)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def blob(size: int, seed: int = 1) -> bytes:
    """Non-repeating bytes (a shifted range would change the hash)."""
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(f"{seed}:{counter}".encode()).digest()
        counter += 1
    return bytes(out[:size])


def oid_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class FakeStorage:
    """A download server: batch answers plus an href honouring (or ignoring) Range, with scripted faults."""

    def __init__(self, rsps, data: bytes, *, ranges: bool = True, href: str = HREF, headers=None) -> None:
        self.data, self.oid, self.ranges = data, oid_of(data), ranges
        self.href = href.format(oid=self.oid)
        self.headers = headers or {}
        self.faults: list = []          # consumed in order, one per GET: callable(request) -> response | None
        self.gets: list = []            # (url, headers) of every GET
        self.batches: list = []
        rsps.add_callback(responses.POST, f"{ENDPOINT}/objects/batch", callback=self._batch)
        rsps.add_callback(responses.GET, re.compile(re.escape(self.href.split("?")[0]) + r".*"), callback=self._get)

    def action(self) -> dict:
        return {"href": self.href, "header": dict(self.headers), "expires_in": 3600}

    def _batch(self, request):
        body = json.loads(request.body)
        self.batches.append(body)
        objects = [{"oid": o["oid"], "size": o["size"], "actions": {"download": self.action()}} for o in body["objects"]]
        return 200, {"Content-Type": "application/vnd.git-lfs+json"}, json.dumps({"transfer": "basic", "objects": objects})

    def _get(self, request):
        self.gets.append((request.url, dict(request.headers)))
        if self.faults:
            answer = self.faults.pop(0)(request)
            if answer is not None:
                return answer
        return self.serve(request)

    def serve(self, request, data: bytes | None = None):
        data = self.data if data is None else data
        wanted = request.headers.get("Range")
        if wanted and self.ranges:
            first, last = (int(x) for x in wanted.split("=")[1].split("-"))
            return 206, {"Content-Range": f"bytes {first}-{last}/{len(data)}"}, data[first:last + 1]
        return 200, {}, data


def drive(lines: list[dict], *argv: str, log=None) -> list[dict]:
    """Run the agent loop on ``lines``; the parsed stdout lines (every one must be JSON)."""
    out = io.StringIO()
    args = ["--backoff", "0", "--range-size", "1MiB", "--parallel", "4", "--timeout", "5", *argv]
    if log:
        args += ["--log", str(log)]
    run(io.StringIO("".join(json.dumps(line) + "\n" for line in lines)), out, args, stderr=io.StringIO())
    return [json.loads(line) for line in out.getvalue().splitlines()]


def download(oid: str, size: int, action=None) -> list[dict]:
    return [{"event": "init", "operation": "download", "remote": "origin", "concurrent": True},
            {"event": "download", "oid": oid, "size": size, "action": action}]


def completes(replies):
    return [r for r in replies if r.get("event") == "complete"]


def progress_of(replies):
    return [r["bytesSoFar"] for r in replies if r.get("event") == "progress"]


def test_big_object_comes_in_parallel_ranges_and_is_handed_back_verified(repo, rsps):
    data = blob(5 * MIB + 123)
    hub = FakeStorage(rsps, data)

    replies = drive(download(hub.oid, len(data)))

    done = completes(replies)[0]
    assert "error" not in done
    path = done["path"]
    assert open(path, "rb").read() == data
    assert os.path.dirname(path) == str(state_dir(repo, "downloads"))   # same fs as objects
    assert hub.batches[0]["operation"] == "download"          # standalone: the agent asked the batch API
    ranges = sorted(h["Range"] for _, h in hub.gets)
    assert len(ranges) == 6 and f"bytes=0-{MIB - 1}" in ranges and f"bytes={5 * MIB}-{len(data) - 1}" in ranges
    assert all(h["Accept-Encoding"] == "identity" and "Authorization" not in h for _, h in hub.gets)
    seen = progress_of(replies)
    assert seen == sorted(seen) and seen[-1] == len(data)
    assert not (state_dir(repo, "downloads") / f"{hub.oid}.download.journal").exists()


def test_small_object_is_one_plain_get_with_the_action_headers(repo, rsps):
    data = blob(3000)
    hub = FakeStorage(rsps, data, headers={"X-Signed": "yes"})

    replies = drive(download(hub.oid, len(data), hub.action()))

    assert open(completes(replies)[0]["path"], "rb").read() == data
    assert not hub.batches                                     # the action came from git-lfs
    (url, headers), = hub.gets
    assert "Range" not in headers and headers["X-Signed"] == "yes"
    assert progress_of(replies)[-1] == len(data)


def test_server_without_range_support_is_read_as_one_stream(repo, rsps):
    data = blob(3 * MIB + 7)
    hub = FakeStorage(rsps, data, ranges=False)

    replies = drive(download(hub.oid, len(data)))

    assert open(completes(replies)[0]["path"], "rb").read() == data
    assert any("Range" not in h for _, h in hub.gets)          # fell back to a plain GET
    assert progress_of(replies)[-1] == len(data)


def test_short_body_is_retried_never_accepted(repo, rsps):
    data = blob(2 * MIB + 5)
    hub = FakeStorage(rsps, data)
    cut = lambda request: (206, {"Content-Range": request.headers["Range"].replace("=", " ") + f"/{len(data)}"},
                           data[:1000])
    hub.faults = [cut, cut]

    replies = drive(download(hub.oid, len(data)))

    assert open(completes(replies)[0]["path"], "rb").read() == data
    assert len(hub.gets) >= 5                                   # 3 ranges + 2 short answers retried


def test_wrong_bytes_are_discarded_and_fetched_once_more_from_zero(repo, rsps):
    data = blob(2 * MIB)
    hub = FakeStorage(rsps, data)
    corrupt = bytearray(data)
    corrupt[10] ^= 0xFF
    hub.faults = [lambda request: hub.serve(request, bytes(corrupt))] * 2   # both ranges of the first round

    replies = drive(download(hub.oid, len(data)))

    assert open(completes(replies)[0]["path"], "rb").read() == data
    assert len(hub.gets) == 4


def test_bytes_that_never_match_fail_with_a_clear_error(repo, rsps):
    data = blob(1000)
    hub = FakeStorage(rsps, data)
    hub.faults = [lambda request: (200, {}, b"x" * 1000)] * 10

    done = completes(drive(download(hub.oid, len(data))))[0]

    assert f"download of {hub.oid[:12]}" in done["error"]["message"]
    assert "did not match its oid" in done["error"]["message"] and "twice" in done["error"]["message"]


def test_a_fault_that_never_clears_names_the_object_and_the_cause(repo, rsps):
    data = blob(2 * MIB)
    hub = FakeStorage(rsps, data)
    hub.faults = [lambda request: (500, {}, b"<Error>InternalError</Error>")] * 100

    replies = drive(download(hub.oid, len(data)), "--max-attempts", "3")

    message = completes(replies)[0]["error"]["message"]
    assert f"download of {hub.oid[:12]}" in message and "HTTP 500" in message and "attempt 3" in message
    assert "Next:" in message


def test_redirect_to_another_host_carries_none_of_the_hubs_headers(repo, rsps):
    data = blob(2 * MIB + 1)
    hub = FakeStorage(rsps, data, href="https://cdn.test/blob/{oid}", headers={"Authorization": "Bearer hf_secret"})
    start = "https://hub.test/alice/model/resolve/x"

    def redirect(request):
        return 302, {"Location": hub.href + "?X-Amz-Signature=s3cr3t"}, b""

    rsps.add_callback(responses.GET, start, callback=redirect)
    action = {"href": start, "header": {"Authorization": "Bearer hf_secret"}}

    replies = drive(download(hub.oid, len(data), action))

    assert open(completes(replies)[0]["path"], "rb").read() == data
    assert hub.gets and all("Authorization" not in h for _, h in hub.gets)
    assert all(h["Range"] for _, h in hub.gets)                 # ranges survive the redirect
    redirected = [c for c in rsps.calls if c.request.url == start]
    assert all(c.request.headers["Authorization"] == "Bearer hf_secret" for c in redirected)


def test_expired_url_gets_a_fresh_one_from_the_batch_api(repo, rsps):
    data = blob(2 * MIB)
    hub = FakeStorage(rsps, data)
    hub.faults = [lambda request: (403, {}, b"<Error><Code>AccessDenied</Code>Request has expired</Error>")]

    replies = drive(download(hub.oid, len(data), hub.action()))

    assert open(completes(replies)[0]["path"], "rb").read() == data
    assert len(hub.batches) == 1


def test_object_missing_on_the_server_is_reported_not_retried(repo, rsps):
    rsps.add(responses.POST, f"{ENDPOINT}/objects/batch", json={"objects": [
        {"oid": "a" * 64, "size": 5, "error": {"code": 404, "message": "Object does not exist"}}]})

    done = completes(drive(download("a" * 64, 5)))[0]

    assert "Object does not exist" in done["error"]["message"] and "aaaaaaaaaaaa" in done["error"]["message"]


def test_resume_fetches_only_the_ranges_not_yet_on_disk(repo, rsps):
    data = blob(6 * MIB)
    hub = FakeStorage(rsps, data)
    tmp = repo / ".git" / "lfs" / "tmp" / "git-hf-agent"
    tmp.mkdir(parents=True)
    temp, journal_path = temp_paths(tmp, hub.oid)
    spans = plan(len(data), MIB)
    with open(temp, "wb") as fh:                 # an earlier run wrote ranges 0, 1 and 4, then was killed
        fh.truncate(len(data))
        for i in (0, 1, 4):
            fh.seek(spans[i].start)
            fh.write(data[spans[i].start:spans[i].end])
    journal = RangeJournal(journal_path, hub.oid, len(data), MIB)
    journal.start()
    for i in (0, 1, 4):
        journal.record(i)
    journal.close()
    with open(journal_path, "a") as fh:
        fh.write('{"range": 2')                   # torn line at kill time: ignored

    replies = drive(download(hub.oid, len(data)))

    assert open(completes(replies)[0]["path"], "rb").read() == data
    assert sorted(h["Range"] for _, h in hub.gets) == sorted(spans[i].header() for i in (2, 3, 5))
    assert progress_of(replies)[0] == 3 * MIB                   # resumed bytes reported at once


def test_zero_regions_are_left_as_holes_in_the_temp_file(repo, rsps):
    data = bytes(6 * MIB) + b"stamp at the end"
    hub = FakeStorage(rsps, data)

    path = completes(drive(download(hub.oid, len(data))))[0]["path"]

    assert open(path, "rb").read() == data
    assert os.stat(path).st_blocks * 512 < MIB        # a sparse model file stays sparse on disk


def test_private_repo_credentials_are_asked_for_only_when_the_endpoint_wants_them(repo, rsps):
    import base64

    subprocess.run(["git", "config", "credential.helper", "!f() { echo username=u; echo password=sekret; }; f"],
                   check=True)
    data = blob(2000)
    hub = FakeStorage(rsps, data)
    answers = []

    def batch(request):
        answers.append(request.headers.get("Authorization"))
        if "Authorization" not in request.headers:
            return 401, {"LFS-Authenticate": 'Basic realm="hub"'}, '{"message": "Authentication required"}'
        return hub._batch(request)

    rsps.replace(responses.POST, f"{ENDPOINT}/objects/batch", body="")
    rsps.remove(responses.POST, f"{ENDPOINT}/objects/batch")
    rsps.add_callback(responses.POST, f"{ENDPOINT}/objects/batch", callback=batch)

    replies = drive(download(hub.oid, len(data)))

    assert open(completes(replies)[0]["path"], "rb").read() == data
    assert answers == [None, "Basic " + base64.b64encode(b"u:sekret").decode()]
    assert all("Authorization" not in h for _, h in hub.gets)          # the href never gets them


def test_redirect_to_another_configured_hub_keeps_only_the_authorization(repo, rsps):
    subprocess.run(["git", "config", "hf.endpoint", "https://mirror.test"], check=True)
    data = blob(3000)
    hub = FakeStorage(rsps, data, href="https://mirror.test/blob/{oid}")
    start = "https://hub.test/alice/model/resolve/y"
    rsps.add(responses.GET, start, status=307, headers={"Location": hub.href})
    action = {"href": start, "header": {"Authorization": "Bearer hf_secret", "X-Hub-Only": "1"}}

    replies = drive(download(hub.oid, len(data), action))

    assert open(completes(replies)[0]["path"], "rb").read() == data
    (_, headers), = hub.gets
    assert headers["Authorization"] == "Bearer hf_secret" and "X-Hub-Only" not in headers


def test_a_second_agent_for_the_same_object_reuses_the_verified_file_and_leaves_git_lfs_s_copy_alone(repo, rsps):
    """After ``complete`` git-lfs hashes the handed-back file and only then renames it: a second agent for
    the same object (another pull that waited on the object's lock, or a re-run after git-lfs was killed
    in between) neither writes over that file nor downloads the object again."""
    data = blob(3 * MIB + 11, seed=7)
    hub = FakeStorage(rsps, data)
    first = completes(drive(download(hub.oid, len(data))))[0]["path"]   # not renamed yet: git-lfs is hashing it
    gets = len(hub.gets)

    second = completes(drive(download(hub.oid, len(data))))[0]

    assert len(hub.gets) == gets                               # nothing fetched again
    assert "error" not in second and second["path"] != first  # a file of its own for each git-lfs
    assert open(first, "rb").read() == data and open(second["path"], "rb").read() == data


@pytest.mark.parametrize("name", ["{oid}.download.{pid}-1.done",      # handed to a git-lfs that was killed
                                  "{oid}.download.{pid}.worktree"])   # git hf clone's copy, the clone killed
def test_a_file_left_by_a_killed_process_is_removed_only_when_a_day_old(repo, rsps, name):
    data = blob(2000, seed=9)
    hub = FakeStorage(rsps, data)
    downloads = state_dir(repo, "downloads")
    downloads.mkdir(parents=True, exist_ok=True)
    orphan, recent = downloads / name.format(oid="a" * 64, pid=41), downloads / name.format(oid="b" * 64, pid=42)
    for path in (orphan, recent):
        path.write_bytes(b"whole object")
    os.utime(orphan, (orphan.stat().st_mtime - 2 * 86400,) * 2)

    handed = completes(drive(download(hub.oid, len(data))))[0]["path"]

    assert not orphan.exists() and recent.exists()          # a recent one may be in use right now
    assert open(handed, "rb").read() == data


def test_an_object_another_agent_is_fetching_is_waited_for_and_a_lasting_wait_is_logged(repo, rsps, tmp_path):
    import fcntl
    import threading

    data = blob(2000, seed=11)
    hub = FakeStorage(rsps, data)
    downloads = state_dir(repo, "downloads")
    downloads.mkdir(parents=True, exist_ok=True)
    other_agent = open(downloads / f"{hub.oid}.download.lock", "a")
    fcntl.flock(other_agent, fcntl.LOCK_EX)
    log = tmp_path / "agent.jsonl"
    replies = []
    waiter = threading.Thread(target=lambda: replies.extend(drive(download(hub.oid, len(data)), log=log)))
    waiter.start()
    waiter.join(1.6)   # a wait is logged once it lasts a second (most waits are one small GET fetched ahead)
    assert waiter.is_alive() and not hub.gets      # nothing fetched while the other agent holds the object
    other_agent.close()
    waiter.join(30)

    assert open(completes(replies)[0]["path"], "rb").read() == data
    assert [json.loads(line)["oid"] for line in log.read_text().splitlines()
            if json.loads(line)["event"] == "lock_wait"] == [hub.oid]


def test_temp_files_of_an_object_in_place_are_swept_only_when_no_agent_is_fetching_it(repo, rsps):
    """A second pull may be fetching an object the first one just put in place: its files are not leftovers."""
    import fcntl

    data = blob(1500, seed=12)
    hub = FakeStorage(rsps, data)
    downloads = state_dir(repo, "downloads")
    downloads.mkdir(parents=True, exist_ok=True)
    busy, idle = "c" * 64, "d" * 64
    for oid in (busy, idle):
        stored = repo / ".git" / "lfs" / "objects" / oid[:2] / oid[2:4] / oid
        stored.parent.mkdir(parents=True, exist_ok=True)
        stored.write_bytes(b"in place")
        (downloads / f"{oid}.download").write_bytes(b"partial")
    fetching = open(downloads / f"{busy}.download.lock", "a")
    fcntl.flock(fetching, fcntl.LOCK_EX)

    drive(download(hub.oid, len(data)))   # the agent sweeps leftovers at its start

    assert (downloads / f"{busy}.download").exists() and (downloads / f"{busy}.download.lock").exists()
    assert not (downloads / f"{idle}.download").exists()
    fetching.close()


def test_git_hf_clones_work_tree_copy_of_bytes_that_failed_their_check_is_never_taken_for_whole(repo, rsps):
    """The copy `git hf clone` makes while a big object downloads (ranges.Mirror): round one's bytes are wrong
    and fully copied, then the server stops honouring Range and the object comes right as one stream. The
    copy must not claim to be whole, or the clone would move the wrong bytes into the work tree."""
    from git_hf_agent.agent.dlbatch import DownloadBatch
    from git_hf_agent.agent.download import DownloadEngine, Job
    from git_hf_agent.agent.http import Transport
    from git_hf_agent.agent.log import Log
    from git_hf_agent.agent.ranges import Mirror
    from git_hf_agent.agent.retry import Policy
    from git_hf_agent.agent.state import lfs_dir, mirror_path

    data = blob(2 * MIB)
    hub = FakeStorage(rsps, data)
    corrupt = bytearray(data)
    corrupt[10] ^= 0xFF

    def stop_honouring_range(_request):
        hub.ranges = False

    hub.faults = [lambda request: hub.serve(request, bytes(corrupt))] * 2 + [stop_honouring_range]
    log = Log(None, stderr=io.StringIO())
    transport = Transport(log, parallel=4, timeout=5)
    engine = DownloadEngine(transport, Policy(max_attempts=3, backoff=0), DownloadBatch(transport, "origin"), log,
                            parallel=4, storage=lfs_dir(), range_size=MIB, ahead=0)
    mirror = Mirror(mirror_path(engine.temp_dir, hub.oid), len(data))
    try:
        handed = engine.download(Job(hub.oid, len(data), hub.action(), lambda _so_far, _since: None, mirror=mirror))
    finally:
        mirror.close()
        engine.close()

    assert open(handed, "rb").read() == data
    assert any("Range" not in h for _, h in hub.gets)               # the second round was one stream
    assert not mirror.complete() or mirror.path.read_bytes() == data
