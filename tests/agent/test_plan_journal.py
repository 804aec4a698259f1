"""Pure pieces: the action planner (validation, part layout, expiry) and the resume journal on disk."""

from __future__ import annotations

import pytest

from git_hf_agent.agent.journal import Journal, journal_dir_for
from git_hf_agent.agent.plan import ActionError, BasicPlan, MultipartPlan, expiry, plan_action

URL = "https://s.test/p?uploadId=U1&partNumber="


def multipart(size, chunk, keys):
    header = {"chunk_size": str(chunk), **{k: URL + k for k in keys}}
    return {"href": "https://hub.test/complete?uploadId=U1", "header": header}


def test_parts_cover_the_file_exactly_with_a_short_last_part():
    plan = plan_action(multipart(25, 10, ["00003", "00001", "00002"]), 25)
    assert isinstance(plan, MultipartPlan) and plan.upload_id == "U1"
    assert [(p.number, p.offset, p.length) for p in plan.parts] == [(1, 0, 10), (2, 10, 10), (3, 20, 5)]
    assert plan.parts[2].url.endswith("00003")


@pytest.mark.parametrize(("size", "keys", "needle"), [
    (25, ["1", "2"], "expected parts 1..3"),
    (25, ["1", "2", "3", "4"], "expected parts 1..3"),
    (25, ["0", "1", "2"], "expected parts 1..3"),
    (25, ["1", "01", "2"], "repeat"),
])
def test_wrong_part_sets_are_rejected(size, keys, needle):
    with pytest.raises(ActionError, match=needle):
        plan_action(multipart(size, 10, keys), size)


def test_extra_header_keys_go_with_the_completion_and_basic_keeps_its_headers():
    action = multipart(5, 10, ["1"])
    action["header"]["X-Extra"] = "v"
    assert plan_action(action, 5).headers == {"X-Extra": "v"}
    basic = plan_action({"href": "https://s.test/put", "header": {"Content-Type": "x"}}, 5)
    assert isinstance(basic, BasicPlan) and basic.headers == {"Content-Type": "x"}


def test_expiry_takes_the_earlier_limit_and_year_one_means_never():
    assert expiry({"expires_at": "0001-01-01T00:00:00Z"}, now=1000) is None
    assert expiry({"expires_in": 60, "expires_at": "0001-01-01T00:00:00Z"}, now=1000) == 1060
    assert expiry({"expires_in": 3600, "expires_at": "1970-01-01T00:10:00Z"}, now=0) == 600
    assert expiry({"expires_at": "garbage", "expires_in": "x"}, now=0) is None


def test_journal_survives_a_torn_last_line_and_ignores_another_upload(tmp_path):
    j = Journal.open(tmp_path, "a" * 64, "U1", 30, 10, 3)
    j.record(1, '"e1"')
    j.record(3, '"e3"')
    j.close()
    with open(j.path, "a") as fh:
        fh.write('{"part": 2, "et')              # kill -9 in the middle of a write
    assert Journal.open(tmp_path, "a" * 64, "U1", 30, 10, 3).done == {1: '"e1"', 3: '"e3"'}
    assert Journal.open(tmp_path, "a" * 64, "U1", 30, 5, 6).done == {}     # other chunk size
    assert Journal.open(tmp_path, "a" * 64, "U2", 30, 10, 3).done == {}    # other upload id


def test_journal_lives_next_to_the_lfs_objects_outside_lfs_tmp(tmp_path):
    """Beside ``objects/`` of whatever storage git-lfs uses (lfs.storage too), never in lfs/tmp (pruned hourly)."""
    for storage in (tmp_path / ".git" / "lfs", tmp_path / "elsewhere" / "lfs-store"):
        obj = storage / "objects" / "ab" / "cd" / ("abcd" + "0" * 60)
        assert journal_dir_for(str(obj)) == storage / "git-hf-agent" / "uploads"


def test_journal_made_wider_by_an_older_version_becomes_private_and_keeps_fresh_urls(tmp_path):
    action = multipart(25, 10, ["00001", "00002", "00003"])
    first = Journal.open(tmp_path, "a" * 64, "U1", 25, 10, 3, action, 1000.0, "https://hub.test/r.git/info/lfs")
    first.record(1, '"e1"')
    first.close()
    first.path.chmod(0o644)
    fresh = {**action, "href": action["href"] + "&signature=new"}

    again = Journal.open(tmp_path, "a" * 64, "U1", 25, 10, 3, fresh, 2000.0, "https://hub.test/r.git/info/lfs")
    again.record(2, '"e2"')

    assert first.path.stat().st_mode & 0o777 == 0o600
    [saved] = Journal.saved(tmp_path, "a" * 64, 25)
    assert saved.done == {1: '"e1"', 2: '"e2"'} and saved.action == fresh and saved.deadline == 2000.0
