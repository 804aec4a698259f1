"""Golden JSON-lines transcripts: what git-lfs reads from the agent for whole conversations.

Each scenario drives :func:`run` with in-memory streams against the wire-level
fake and compares stdout, normalised (temp paths, elapsed times, and runs of
progress events collapsed to their last one, since their count depends on timing),
with ``golden/<name>.jsonl``. ``GOLDEN_UPDATE=1`` rewrites the files; review the diff.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from tests.agent.fakehub import FakeHub, drive, init_line, make_object, upload_line

GOLDEN = Path(__file__).parent / "golden"
DATA = b"golden transcript " * 400   # 7200 bytes, 3 parts of 3000


def normalise(raw: str, tmp: Path) -> list[str]:
    out: list[dict] = []
    for line in raw.splitlines():
        msg = json.loads(line)
        if msg.get("event") == "progress" and out and out[-1].get("event") == "progress":
            out[-1] = msg
            continue
        out.append(msg)
    text = [json.dumps(m, sort_keys=True) for m in out]
    return [re.sub(r"\d+\.\d+s\b", "<t>s", line.replace(str(tmp), "<tmp>")) for line in text]


def scenario_multipart(hub, oid, path):
    return [init_line(), upload_line(oid, len(DATA), path, hub.action())]


def scenario_retry_then_success(hub, oid, path):
    hub.fail("part", 500, 503)
    hub.fail("complete", 502)
    return scenario_multipart(hub, oid, path)


def scenario_part_gives_up(hub, oid, path):
    hub.fail("part", *[(500, {})] * 10)
    return scenario_multipart(hub, oid, path)


def scenario_bad_action_then_good_object(hub, oid, path):
    bad = hub.action()
    bad["header"]["chunk_size"] = "3000.5"
    return [init_line(), upload_line(oid, len(DATA), path, bad), upload_line(oid, len(DATA), path, hub.action())]


def scenario_basic(hub, oid, path):
    return [init_line(), upload_line(oid, len(DATA), path, hub.basic_action())]


def scenario_malformed_input(hub, oid, path):
    return [init_line(), "{", '{"event":"nope","oid":"%s"}' % oid, '{"event":"upload","oid":"%s"}' % oid,
            '{"event":"download","oid":"%s","size":1}' % oid]


SCENARIOS = {name[len("scenario_"):]: fn for name, fn in globals().items() if name.startswith("scenario_")}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_golden_transcript(name, repo, rsps):
    hub = FakeHub(rsps, DATA, 3000)
    oid, path = make_object(repo, DATA)
    transcript = drive(SCENARIOS[name](hub, oid, path), repo / "agent.jsonl", "--parallel", "1")
    got = normalise(transcript.raw, repo)
    golden = GOLDEN / f"{name}.jsonl"
    if os.environ.get("GOLDEN_UPDATE"):
        golden.write_text("\n".join(got) + "\n")
    assert got == golden.read_text().splitlines()
