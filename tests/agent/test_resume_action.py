"""Resume at the wire when the server hands out a new upload on every batch (issue 10, item 1).

The first push fails on a broken part, leaving a journal with the confirmed parts
and the upload's own URLs. Then the server offers a *new* upload for the object:
the agent continues the journaled upload while its URLs are valid (sending only
the missing parts), takes the new one when they expired or are refused, and says
what that costs.
"""

from __future__ import annotations

import json
import stat
import time

import pytest
import responses
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.agent.realgit import state_dir
from tests.agent.fakehub import CHUNK, DATA, REMOTE, FakeHub, drive, init_line, make_object, upload_line



def push(repo, hub, obj, *args, action=None, remote=REMOTE):
    """One agent run (its own log file, so each transcript's events are that run's only)."""
    oid, path = obj
    log = repo / f"agent-{time.monotonic_ns()}.jsonl"
    return drive([init_line(remote), upload_line(oid, len(DATA), path, action or hub.action())], log,
                 "--parallel", "1", *args)


def journals(repo):
    return list(state_dir(repo, "uploads").glob("*.jsonl"))


def first_push_stops_after_two_parts(repo, hub, obj):
    """Parts 1 and 2 confirmed in upload up-1, part 3 broken: the object fails, the journal stays."""
    hub.broken_parts = {3}
    first = push(repo, hub, obj, "--max-attempts", "1")
    assert "error" in first.completes[0]
    hub.broken_parts = set()
    hub.headers_seen.clear()
    return first


def events(t, name):
    return [e for e in t.log if e["event"] == name]


def test_journal_is_private_and_holds_the_action(repo, hub, obj):
    first_push_stops_after_two_parts(repo, hub, obj)
    [journal] = journals(repo)
    assert stat.S_IMODE(journal.stat().st_mode) == 0o600
    assert stat.S_IMODE(journal.parent.stat().st_mode) == 0o700
    header = json.loads(journal.read_text().splitlines()[0])
    assert header["upload_id"] == "up-1" and header["action"]["href"].startswith("https://hub.test/api/complete")
    assert header["action"]["header"]["00003"].endswith("signature=sig0")
    assert header["deadline"] > time.time() + 3000          # expires_in 3600 from the batch


def test_new_upload_offered_while_journaled_urls_are_valid_continues_the_journaled_one(repo, hub, obj):
    first_push_stops_after_two_parts(repo, hub, obj)
    hub.new_upload("up-2")                                   # every batch now starts a new upload

    t = push(repo, hub, obj)

    assert t.completes == [{"event": "complete", "oid": obj[0]}] and hub.stored
    assert {n: len(b) for n, b in hub.uploads["up-1"].items()} == {1: 1, 2: 1, 3: 1, 4: 1}
    assert hub.uploads["up-2"] == {}                          # the offered upload was not used
    assert hub.calls("part") == 2 and hub.calls("batch") == 0
    assert "continuing the upload of an earlier push" in t.stderr
    [start] = events(t, "object_start")
    assert (start["resumed"], start["parts_done"], start["bytes_done"]) == ("journaled_upload", 2, 2 * CHUNK)
    assert t.progress[0]["bytesSoFar"] == 2 * CHUNK and t.progress[-1]["bytesSoFar"] == len(DATA)
    assert journals(repo) == []


def test_journaled_urls_expired_take_the_new_upload_and_say_what_is_sent_again(repo, hub, obj):
    hub.expires_in = 6                                        # the first push's URLs live 6 s
    first_push_stops_after_two_parts(repo, hub, obj)
    time.sleep(1.5)                                           # within 5 s of expiring: not worth continuing
    hub.expires_in = 3600
    hub.new_upload("up-2")

    t = push(repo, hub, obj)

    assert t.completes == [{"event": "complete", "oid": obj[0]}] and hub.stored
    assert sorted(hub.uploads["up-2"]) == [1, 2, 3, 4] and hub.calls("part") == 4
    assert "cannot be continued (its URLs expired at" in t.stderr
    assert "5.9 KiB in 2 parts already stored must be sent again" in t.stderr
    [restart] = events(t, "restart")
    assert (restart["parts_resent"], restart["bytes_resent"]) == (2, 2 * CHUNK)
    assert journals(repo) == []


def test_journaled_upload_refused_by_the_storage_falls_back_to_the_offered_one(repo, hub, obj):
    first_push_stops_after_two_parts(repo, hub, obj)
    hub.expire(new_upload_id="up-2")      # the server dropped up-1 and its URLs: 403 although not yet expired

    t = push(repo, hub, obj)

    assert t.completes == [{"event": "complete", "oid": obj[0]}] and hub.stored
    assert sorted(hub.uploads["up-2"]) == [1, 2, 3, 4]
    assert hub.calls("batch") == 0                            # the action git-lfs offered was used as is
    assert hub.calls("part") == 1 + 4                         # one refused try of part 3, then all four
    assert "is no longer accepted" in t.stderr and "in 2 parts already stored must be sent again" in t.stderr
    [restart] = events(t, "restart")
    assert restart["bytes_resent"] == 2 * CHUNK
    assert sum(p["bytesSinceLast"] for p in t.progress) == len(DATA)


def test_same_upload_handed_back_uses_the_fresh_urls_and_keeps_them(repo, hub, obj):
    first_push_stops_after_two_parts(repo, hub, obj)
    hub.expire()                                              # same upload id, new signatures
    hub.broken_parts = {4}
    second = push(repo, hub, obj, "--max-attempts", "1")
    assert "error" in second.completes[0]
    [journal] = journals(repo)
    header = json.loads(journal.read_text().splitlines()[0])
    assert header["action"]["header"]["00004"].endswith("signature=sig1")   # the fresh URLs are journaled
    assert events(second, "object_start")[0]["resumed"] == "same_upload"
    assert hub.calls("part") == 2                                            # part 3 ok, part 4 broken


def test_journal_of_an_older_version_without_urls_is_not_continued(repo, hub, obj):
    first_push_stops_after_two_parts(repo, hub, obj)
    [journal] = journals(repo)
    lines = journal.read_text().splitlines()
    header = json.loads(lines[0])
    del header["action"], header["deadline"]
    journal.write_text("\n".join([json.dumps(header), *lines[1:]]) + "\n")
    hub.new_upload("up-2")

    t = push(repo, hub, obj)

    assert hub.stored and sorted(hub.uploads["up-2"]) == [1, 2, 3, 4]
    assert "has no upload URLs" in t.stderr


def test_journaled_upload_to_another_repo_is_neither_continued_nor_deleted(repo, hub, obj):
    """The same file pushed to a second repo must land there, not complete the first repo's upload."""
    first_push_stops_after_two_parts(repo, hub, obj)
    [theirs] = journals(repo)
    assert json.loads(theirs.read_text().splitlines()[0])["endpoint"] == f"{REMOTE}.git/info/lfs"
    hub.new_upload("up-2")

    t = push(repo, hub, obj, remote="https://hub.test/alice/other-model")

    assert t.completes == [{"event": "complete", "oid": obj[0]}]
    assert sorted(hub.uploads["up-2"]) == [1, 2, 3, 4] and sorted(hub.uploads["up-1"]) == [1, 2]
    assert "continuing" not in t.stderr
    assert theirs.exists()    # the first repo's push can still be resumed


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(nparts=st.integers(2, 7), broken=st.data(), server=st.sampled_from(["keep", "new", "dropped"]))
def test_any_stop_point_and_server_behaviour_ends_stored_sending_each_missing_part_once(
        tmp_path_factory, nparts, broken, server):
    """Property: wherever the first push stopped and whatever the server does with upload ids, the second
    push stores the object, sends only the missing parts (all of them if the server dropped the upload), and
    git's progress is monotonic and ends at the size."""
    data = bytes(range(256)) * (nparts * 4)          # nparts parts of 256 * 4 bytes
    chunk = 1024
    stop_at = broken.draw(st.integers(1, nparts))     # the first push fails on this part
    repo = tmp_path_factory.mktemp("repo")
    (repo / ".git").mkdir()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        hub = FakeHub(rsps, data, chunk)
        oid, path = make_object(repo, data)

        def run_once(*args):
            lines = [init_line(), upload_line(oid, len(data), path, hub.action())]
            return drive(lines, repo / f"l{time.monotonic_ns()}.jsonl", "--parallel", "1", *args)

        hub.broken_parts = {stop_at}
        run_once("--max-attempts", "1")
        hub.broken_parts = set()
        hub.headers_seen.clear()
        {"keep": hub.expire, "new": lambda: hub.new_upload("up-2"), "dropped": lambda: hub.expire("up-2")}[server]()
        t = run_once()
    assert t.completes == [{"event": "complete", "oid": oid}] and hub.stored
    confirmed = stop_at - 1
    expected = nparts if server == "dropped" and confirmed else nparts - confirmed
    refused = 1 if server == "dropped" and confirmed else 0          # one try with the dropped upload's URL
    assert hub.calls("part") == expected + refused
    so_far = [p["bytesSoFar"] for p in t.progress]
    assert so_far == sorted(so_far) and so_far[-1] == len(data)
