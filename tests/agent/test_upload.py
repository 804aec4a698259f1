"""The upload engine at the wire: retries, expired URLs, resume, completion, basic PUT, messages."""

from __future__ import annotations

import base64
import io
import json
import os
import re
import time

import pytest

from git_hf_agent.agent.journal import Journal, journal_dir_for
from git_hf_agent.agent.main import run
from git_hf_agent.agent.state import STALE_DAYS
from tests.agent.fakehub import (
    CHUNK, DATA, REMOTE, SECRET, STORE, FakeHub, connection_reset, drive, init_line, make_object, upload_line,
)
from tests.agent.realgit import state_dir
from tests.support import git



def push(repo, hub, obj, action=None, *args, remote=REMOTE):
    oid, path = obj
    action = hub.action() if action is None else action
    return drive([init_line(remote), upload_line(oid, len(DATA), path, action)], repo / "agent.jsonl", *args)


def assert_stored(t, hub, oid):
    assert t.completes == [{"event": "complete", "oid": oid}]
    assert hub.stored
    assert t.progress[-1]["bytesSoFar"] == len(DATA)


def journals(repo):
    return list(state_dir(repo, "uploads").glob("*.jsonl"))


def test_parts_land_in_order_with_etags_and_no_authorization(repo, hub, obj):
    t = push(repo, hub, obj, None, remote=f"https://alice:{SECRET}@hub.test/alice/model")
    assert_stored(t, hub, obj[0])
    assert sorted(hub.received) == [1, 2, 3, 4] and all(len(v) == 1 for v in hub.received.values())
    assert [p["partNumber"] for p in hub.completed[0]["parts"]] == [1, 2, 3, 4]
    for kind in ("part", "complete"):
        assert all("Authorization" not in h for h in hub.headers_seen[kind])
    assert hub.headers_seen["complete"][0]["Content-Type"] == "application/vnd.git-lfs+json"
    assert journals(repo) == []   # removed after the completion succeeded


@pytest.mark.parametrize("fault", [500, 503, 408, (429, {"Retry-After": "0"}), "reset"])
def test_part_failures_are_retried_and_bytes_not_counted_twice(repo, hub, obj, fault):
    hub.fail("part", connection_reset() if fault == "reset" else fault, connection_reset() if fault == "reset" else fault)
    t = push(repo, hub, obj)
    assert_stored(t, hub, obj[0])
    assert hub.calls("part") == 4 + 2
    so_far = [p["bytesSoFar"] for p in t.progress]
    assert so_far == sorted(so_far) and so_far[-1] == len(DATA)
    assert sum(p["bytesSinceLast"] for p in t.progress) == len(DATA)


def test_missing_etag_is_a_retriable_failure_of_that_part(repo, hub, obj):
    hub.fail("part", (200, {}))
    t = push(repo, hub, obj)
    assert_stored(t, hub, obj[0])
    assert hub.calls("part") == 5


def test_part_failing_every_attempt_fails_the_object_with_a_full_message(repo, hub, obj):
    hub.fail("part", *[(500, {})] * 20)
    t = push(repo, hub, obj, None, "--parallel", "1")
    [done] = t.completes
    message = done["error"]["message"]
    assert done["error"]["code"] == 500
    assert "HTTP 500" in message and "injected 500" in message       # status and body
    assert "signature=REDACTED" in message and "sig0" not in message  # redacted URL
    assert "attempt 4" in message and "Next:" in message
    assert hub.calls("complete") == 0                                  # never completed on failure
    assert hub.calls("part") == 4                                      # --max-attempts 4, nothing more


def test_completion_503_is_retried_and_complete_only_after_2xx(repo, hub, obj):
    hub.fail("complete", 503, connection_reset())
    t = push(repo, hub, obj)
    assert_stored(t, hub, obj[0])
    assert hub.calls("complete") == 3


def test_completion_400_fails_with_the_server_message_and_keeps_the_journal(repo, hub, obj):
    hub.fail("complete", *[400] * 3)
    t = push(repo, hub, obj)
    [done] = t.completes
    assert done["error"]["code"] == 400 and "injected 400" in done["error"]["message"]
    assert hub.calls("complete") == 1     # a 4xx is not retried
    assert len(journals(repo)) == 1       # confirmed parts stay for the next push


@pytest.mark.parametrize("mutate", [
    lambda a: a["header"].update(chunk_size="abc"),
    lambda a: a["header"].update(chunk_size="0"),
    lambda a: a["header"].pop("00003"),
    lambda a: a["header"].update({"00005": a["header"]["00001"]}),
    lambda a: a["header"].update({"00002": "/relative/part"}),
    lambda a: a.update(href="ftp://hub.test/complete"),
])
def test_bad_actions_are_rejected_before_anything_is_sent(repo, hub, obj, mutate):
    action = hub.action()
    mutate(action)
    t = push(repo, hub, obj, action)
    [done] = t.completes
    assert "nothing was sent" in done["error"]["message"]
    assert hub.headers_seen == {}


def test_part_keys_are_sorted_as_numbers_not_strings(repo, rsps, tmp_path):
    data = b"0123456789" * 12   # 12 parts of 10 bytes: "10" < "9" as strings
    hub = FakeHub(rsps, data, 10)
    oid, path = make_object(tmp_path, data)
    action = hub.action()
    action["header"] = {"chunk_size": "10", **{str(n): u for n, u in
                        ((int(k), v) for k, v in action["header"].items() if k != "chunk_size")}}
    t = drive([init_line(), upload_line(oid, len(data), path, action)], tmp_path / "l.jsonl")
    assert t.completes == [{"event": "complete", "oid": oid}] and hub.stored


def test_expired_part_urls_are_refreshed_and_the_same_upload_continues(repo, hub, obj):
    oid, _ = obj
    stale = hub.action()
    hub.received[1] = [DATA[:CHUNK]]            # part 1 already reached the server earlier
    hub.expire()                                 # ...and every URL handed to git-lfs has expired
    t = push(repo, hub, obj, stale, remote=f"https://alice:{SECRET}@hub.test/alice/model")
    assert_stored(t, hub, oid)
    batch = hub.headers_seen["batch"]
    assert len(batch) == 1 and batch[0]["Authorization"].startswith("Basic ")
    assert all("Authorization" not in h for h in hub.headers_seen["part"])
    assert SECRET not in t.stderr and SECRET not in (repo / "agent.jsonl").read_text()


def test_url_deadline_passed_refreshes_before_sending(repo, hub, obj):
    stale = hub.action(expires_at="2001-01-01T00:00:00Z")
    hub.expire()
    t = push(repo, hub, obj, stale)
    assert_stored(t, hub, obj[0])
    assert hub.calls("batch") == 1
    assert hub.calls("part") == 4   # no request went out with the dead URLs


def test_new_upload_id_starts_over_cleanly(repo, hub, obj):
    oid, path = obj
    stale = hub.action()
    jdir = state_dir(repo, "uploads")
    jdir.mkdir(parents=True)
    (jdir / f"{oid}.0000000000000000.jsonl").write_text('{"oid": "x"}\n')   # an older upload's journal
    hub.expire(new_upload_id="up-2")
    t = push(repo, hub, obj, stale)
    assert_stored(t, hub, oid)
    assert journals(repo) == []


def test_already_stored_object_found_while_refreshing_completes(repo, hub, obj):
    stale = hub.action()
    hub.expire()
    hub.stored = True
    t = push(repo, hub, obj, stale)
    assert t.completes == [{"event": "complete", "oid": obj[0]}]
    assert hub.calls("part") <= 4 and hub.calls("complete") == 0   # at most one stale try per part


def test_refresh_without_credentials_fails_with_next_step(repo, hub, obj):
    stale = hub.action()
    hub.expire()
    hub.fail("batch", 401)
    t = push(repo, hub, obj, stale)
    [done] = t.completes
    assert "HTTP 401" in done["error"]["message"] and "git hf doctor" in done["error"]["message"]


def test_resume_sends_only_parts_missing_from_the_journal(repo, hub, obj):
    hub.broken_parts = {3}
    first = push(repo, hub, obj, None, "--parallel", "1", "--max-attempts", "1")
    message = first.completes[0]["error"]["message"]
    assert "the 2 parts already stored are kept" in message and len(journals(repo)) == 1
    hub.broken_parts = set()
    hub.headers_seen.clear()

    second = push(repo, hub, obj)

    assert_stored(second, hub, obj[0])
    assert hub.calls("part") == 2                           # only parts 3 and 4 went again
    assert second.progress[0]["bytesSoFar"] == 2 * CHUNK    # resumed bytes reported at once
    assert journals(repo) == []


def test_basic_action_is_one_retried_put_with_the_action_headers(repo, hub, obj):
    hub.fail("basic", 502)
    t = push(repo, hub, obj, hub.basic_action())
    assert_stored(t, hub, obj[0])
    assert hub.calls("basic") == 2
    assert hub.headers_seen["basic"][1]["Content-Type"] == "application/octet-stream"
    assert int(hub.headers_seen["basic"][1]["Content-Length"]) == len(DATA)


def test_expired_basic_url_is_refreshed(repo, hub, obj):
    hub.batch_transfer = "basic"
    stale = hub.basic_action()
    hub.expire()
    t = push(repo, hub, obj, stale)
    assert_stored(t, hub, obj[0])
    assert hub.calls("batch") == 1


def test_object_file_of_wrong_size_fails_without_sending(repo, hub, obj):
    oid, path = obj
    t = drive([init_line(), upload_line(oid, len(DATA) + 1, path, hub.action())], repo / "l.jsonl")
    assert "git lfs fsck" in t.completes[0]["error"]["message"]
    assert hub.headers_seen == {}
    assert path.read_bytes() == DATA   # the object file is never touched


def test_one_failed_object_does_not_stop_the_next(repo, hub, obj):
    oid, path = obj
    bad = upload_line("a" * 64, 5, repo / "missing", hub.action())
    t = drive([init_line(), bad, upload_line(oid, len(DATA), path, hub.action())], repo / "l.jsonl")
    assert [c["oid"] for c in t.completes] == ["a" * 64, oid]
    assert "error" in t.completes[0] and "error" not in t.completes[1]


def test_json_log_has_one_line_per_exchange_without_secrets(repo, hub, obj):
    hub.fail("part", 500)
    push(repo, hub, obj, None, "--verbose")
    events = [json.loads(line) for line in (repo / "agent.jsonl").read_text().splitlines()]
    http = [e for e in events if e["event"] == "http"]
    assert len(http) == 5 + 1
    for e in http:
        assert {"ts", "kind", "status", "attempt", "bytes", "elapsed_ms", "url"} <= e.keys()
        assert "sig0" not in e["url"]
    assert [e["status"] for e in http if e["kind"] == "part"].count(500) == 1
    assert any(e["attempt"] == 2 for e in http)
    assert "response_headers" in http[0]


def test_null_action_standalone_mode_asks_the_batch_api_itself(repo, hub, obj):
    oid, path = obj
    t = drive([init_line(), upload_line(oid, len(DATA), path, None)], repo / "l.jsonl")
    assert_stored(t, hub, oid)
    assert hub.calls("batch") == 1 and hub.calls("part") == 4


def test_expired_completion_url_is_refreshed_and_completion_retried(repo, hub, obj):
    hub.fail("complete", (403, {}))
    t = push(repo, hub, obj)
    assert_stored(t, hub, obj[0])
    assert hub.calls("batch") == 1 and hub.calls("complete") == 2
    assert hub.calls("part") == 4   # same upload id: parts are not sent again


class _StampedOut(io.StringIO):
    """stdout that remembers when each line was written."""

    def __init__(self):
        super().__init__()
        self.stamps = []

    def write(self, text):
        self.stamps.append((time.monotonic(), text))
        return super().write(text)


def test_first_progress_event_comes_while_the_first_part_is_still_uploading(repo, rsps):
    data = b"x" * (3 << 20)
    hub = FakeHub(rsps, data, 1 << 20)
    oid, path = make_object(repo, data)
    original = hub._part

    def slow_server(request):
        answer = original(request)   # reads the body (the agent reports progress meanwhile)
        time.sleep(1.5)              # ...then takes its time to answer
        return answer

    rsps.remove("PUT", re.compile(rf"{STORE}/part/.*"))
    rsps.add_callback("PUT", re.compile(rf"{STORE}/part/.*"), callback=slow_server)
    stdout = _StampedOut()
    lines = [init_line(), upload_line(oid, len(data), path, hub.action()), '{"event":"terminate"}']
    start = time.monotonic()
    run(io.StringIO("\n".join(lines) + "\n"), stdout, ["--log", str(repo / "l.jsonl")], stderr=io.StringIO())
    progress = [(t, json.loads(line)) for t, line in stdout.stamps if '"progress"' in line]
    assert progress[0][0] - start < 1.0 and progress[0][1]["bytesSoFar"] > 0
    assert progress[-1][1]["bytesSoFar"] == len(data)


def test_unwritable_journal_fails_the_object_with_the_fix(repo, hub, obj):
    (repo / ".git" / "lfs").mkdir(parents=True, exist_ok=True)
    (repo / ".git" / "lfs" / "git-hf-agent").write_text("a file where the journal directory should be")
    t = push(repo, hub, obj)
    [done] = t.completes
    assert "resume journal" in done["error"]["message"] and hub.calls("complete") == 0


def test_refresh_uses_the_named_remote_and_git_credential_fill(repo, hub, obj):
    helper_secret = "hf_fromCredentialHelper0123456789"
    git("init", "-q", cwd=repo)
    git("remote", "add", "upstream", "https://hub.test/alice/model", cwd=repo)
    git("config", "credential.helper", f"!f() {{ echo username=hf_user; echo password={helper_secret}; }}; f", cwd=repo)
    stale = hub.action()
    hub.expire()
    t = push(repo, hub, obj, stale, remote="upstream")
    assert_stored(t, hub, obj[0])
    [batch] = hub.headers_seen["batch"]
    assert base64.b64decode(batch["Authorization"].split()[1]).decode() == f"hf_user:{helper_secret}"
    assert helper_secret not in t.stderr and helper_secret not in (repo / "agent.jsonl").read_text()


@pytest.mark.parametrize("where", ["git config", ".lfsconfig"])
def test_lfs_url_overrides_the_remote(repo, hub, obj, where):
    git("init", "-q", cwd=repo)
    git("remote", "add", "origin", "https://elsewhere.test/nothing/here", cwd=repo)
    lfs_url = "https://hub.test/alice/model.git/info/lfs"
    if where == "git config":
        git("config", "lfs.url", lfs_url, cwd=repo)
    else:
        (repo / ".lfsconfig").write_text(f"[lfs]\n\turl = {lfs_url}\n")
    stale = hub.action()
    hub.expire()
    t = push(repo, hub, obj, stale, remote="origin")
    assert_stored(t, hub, obj[0])


def test_urls_expiring_mid_upload_resend_no_stored_part(repo, hub, obj):
    hub.expire_after = 2
    t = push(repo, hub, obj, None, "--parallel", "1")
    assert_stored(t, hub, obj[0])
    assert {n: len(bodies) for n, bodies in hub.received.items()} == {1: 1, 2: 1, 3: 1, 4: 1}
    assert hub.calls("batch") == 1


def test_upload_gone_on_the_server_starts_over_by_itself(repo, hub, obj):
    hub.fail("complete", (404, {}))          # e.g. the server aborted the upload before completion
    hub.upload_id_after_refresh = "up-2"
    t = push(repo, hub, obj)
    assert_stored(t, hub, obj[0])
    assert hub.calls("batch") == 1
    assert hub.completed[-1]["parts"] and hub.upload_id == "up-2"
    assert sum(p["bytesSinceLast"] for p in t.progress) == len(DATA)   # progress never counts twice


def test_parts_recorded_by_an_earlier_run_but_lost_by_the_server_are_sent_again(repo, hub, obj):
    oid, path = obj
    stale = Journal.open(journal_dir_for(str(path)), oid, hub.upload_id, len(DATA), CHUNK, 4)
    stale.record(1, '"etag-the-server-forgot"')
    stale.record(2, '"another"')
    stale.close()
    t = push(repo, hub, obj)
    assert_stored(t, hub, oid)
    assert hub.calls("complete") == 2                       # refused once, then accepted
    assert sorted(hub.received) == [1, 2, 3, 4]
    assert journals(repo) == []
    assert [e["parts_done"] for e in t.log if e["event"] == "part_done"] == [3, 4, 3, 4]   # 1, 2 counted again


def test_journals_of_pruned_objects_and_weeks_old_journals_are_swept_fresh_ones_kept(repo, hub, obj):
    """Resume state cannot grow without bound: a journal whose object left the local store (git lfs prune)
    or that nobody touched for weeks is removed; another object's recent journal (2 h old) is kept."""
    other_oid, _ = make_object(repo, b"another object, still in the store")
    jdir = state_dir(repo, "uploads")
    jdir.mkdir(parents=True, exist_ok=True)
    pruned = jdir / f"{'e' * 64}.0000000000000000.jsonl"
    kept = jdir / f"{other_oid}.0000000000000000.jsonl"
    stale = jdir / f"{other_oid}.1111111111111111.jsonl"
    for path, age in ((pruned, 60), (kept, 7200), (stale, (STALE_DAYS + 1) * 86400)):
        path.write_text('{"oid": "x"}\n')
        os.utime(path, (time.time() - age, time.time() - age))

    assert_stored(push(repo, hub, obj), hub, obj[0])

    assert journals(repo) == [kept]
