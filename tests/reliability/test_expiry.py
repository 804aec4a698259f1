"""Presigned URLs that expire mid-upload are replaced by fresh ones, and the upload continues.

The server signs part URLs for ``--url-ttl 8`` seconds (git-lfs itself refuses
actions expiring within 5 s, so the TTL must exceed that) and throttles each
connection to 1 MB/s, so with two parts in flight the 24 MiB upload takes about
13 s: parts started after 8 s meet an expired URL (403) unless the agent asked
the batch API for fresh ones first. The server keeps the upload id, so nothing
already received is sent again.
"""

from __future__ import annotations

import pytest

from tests.reliability.chaos import assert_each_part_once, assert_pushed, setup

pytestmark = [pytest.mark.e2e, pytest.mark.reliability, pytest.mark.timeout(240)]


def test_urls_expiring_mid_upload_are_refreshed(start_hub, tmp_path):
    ch = setup(start_hub, tmp_path, "--url-ttl", "8", "--conn-rate", "1MB", agent_args=("--parallel", "2"))
    stats = assert_pushed(ch, ch.push())
    assert_each_part_once(ch, stats)
    assert stats["requests"]["batch"] >= 2, "no second batch call: the agent never fetched fresh URLs"
    assert any(e.get("kind") == "batch" for e in ch.log_events()), "the agent's log shows no batch refresh"
