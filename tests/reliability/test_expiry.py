"""Presigned URLs that expire mid-upload are replaced by fresh ones, and the upload goes on.

The server signs URLs for a few seconds (``--url-ttl``; git-lfs itself refuses
actions expiring within 5 s, so the TTL must exceed that) and throttles each
connection to 1 MB/s, so the upload outlives its first URLs and the agent must
ask the batch API for fresh ones. With ``--upload-reuse keep`` the server hands
back the same upload: nothing already received is sent again. With ``new`` it
starts a new upload on every batch: the parts already stored cannot be used, so
the agent starts over in the new upload and says what that costs.
"""

from __future__ import annotations

import pytest

from tests.reliability.chaos import CHUNK, MiB, assert_each_part_once, assert_pushed, setup

pytestmark = [pytest.mark.e2e, pytest.mark.reliability, pytest.mark.timeout(240)]


def test_urls_expiring_mid_upload_are_refreshed(start_hub, tmp_path):
    ch = setup(start_hub, tmp_path, "--url-ttl", "8", "--conn-rate", "1MB", "--upload-reuse", "keep",
               agent_args=("--parallel", "2"))
    stats = assert_pushed(ch, ch.push())
    assert_each_part_once(ch, stats)
    assert stats["requests"]["batch"] >= 2, "no second batch call: the agent never fetched fresh URLs"
    assert any(e.get("kind") == "batch" for e in ch.log_events()), "the agent's log shows no batch refresh"
    assert any(e["event"] == "url_refresh" for e in ch.log_events())
    assert not any(e["event"] == "restart" for e in ch.log_events())


def test_urls_expiring_on_a_server_with_a_new_upload_per_batch_start_over_and_say_so(start_hub, tmp_path):
    """6 MiB at 2 x 1 MB/s takes 3 s; one stalled part (``--timeout 3``) pushes the first try past
    the 6 s TTL. The fresh batch answer is a new upload: the file starts over there and lands."""
    ch = setup(start_hub, tmp_path, "--url-ttl", "6", "--conn-rate", "1MB", "--upload-reuse", "new",
               "--stall-seconds", "30", "--fault", "part:stall:1:1", agent_args=("--parallel", "2"), size=6 * MiB)
    assert_pushed(ch, ch.push())
    events = ch.log_events()
    restarts = [e for e in events if e["event"] == "restart"]
    assert restarts, "the agent never started over although the server handed out a new upload"
    assert all("new upload" in r["reason"] and r["bytes_resent"] == r["parts_resent"] * CHUNK for r in restarts)
    starts = [e for e in events if e["event"] == "object_start"]
    assert len(starts) == len(restarts) + 1 and starts[-1]["parts_done"] == 0
