"""Hypothesis properties: progress is exact and monotonic, attempts are bounded, stdin cannot crash the loop."""

from __future__ import annotations

import io
import json
import tempfile
from pathlib import Path

import requests
import responses
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from git_hf_agent.agent.http import HttpFailure, Transport
from git_hf_agent.agent.log import Log
from git_hf_agent.agent.main import run
from git_hf_agent.agent.progress import Progress
from git_hf_agent.agent.retry import Policy
from git_hf_agent.agent.upload import MAX_REFRESHES
from tests.agent.fakehub import FakeHub, connection_reset, init_line, make_object, upload_line

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@st.composite
def slice_reports(draw):
    """A size split into slices, and an arbitrary interleaving of (slice, position) reports incl. retries."""
    sizes = draw(st.lists(st.integers(1, 5000), min_size=1, max_size=8))
    reports = draw(st.lists(st.tuples(st.integers(0, len(sizes) - 1), st.floats(0, 1)), max_size=60))
    return sizes, [(i, int(sizes[i] * frac)) for i, frac in reports]


@FAST
@given(slice_reports(), st.booleans())
def test_progress_is_monotonic_never_above_size_and_ends_at_size(data, restart_midway):
    sizes, reports = data
    events = []
    clock = iter(range(10**6))
    progress = Progress(sum(sizes), lambda so_far, since: events.append((so_far, since)), interval=3,
                        clock=lambda: next(clock))
    for n, (key, position) in enumerate(reports):
        if restart_midway and n == len(reports) // 2:
            progress.restart()
        progress.advance(key, position)
    progress.finish()
    so_far = [e[0] for e in events]
    assert so_far == sorted(so_far)
    assert all(0 <= s <= sum(sizes) for s in so_far)
    assert so_far[-1] == sum(sizes)
    assert sum(e[1] for e in events) == sum(sizes)   # re-sent bytes never counted twice


@FAST
@given(max_attempts=st.integers(1, 6), failures=st.lists(st.sampled_from([500, 503, 429, 408, "reset"]), max_size=8))
def test_attempts_never_exceed_the_maximum(max_attempts, failures):
    url = "https://storage.test/p"
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        for f in failures:
            rsps.add("PUT", url, body=requests.ConnectionError("reset")) if f == "reset" else rsps.add("PUT", url, status=f)
        rsps.add("PUT", url, status=200, headers={"ETag": '"e"'})
        transport = Transport(Log(None, stderr=io.StringIO()), parallel=1, timeout=1)
        try:
            Policy(max_attempts=max_attempts, backoff=0).call(lambda n: transport.request("part", "PUT", url, attempt=n))
            succeeded = True
        except HttpFailure as failure:
            succeeded = False
            assert failure.attempt == max_attempts
        assert len(rsps.calls) == min(len(failures) + 1, max_attempts)
        assert succeeded == (len(failures) < max_attempts)


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
_requests = st.fixed_dictionaries(
    {"event": st.sampled_from(["init", "upload", "download", "progress", "terminate!", "complete"])},
    optional={"oid": st.sampled_from(["a" * 64, "A" * 64, "", "zz"]) | _json_values,
              "size": st.integers(-5, 10**12) | _json_values, "path": st.text(max_size=30) | _json_values,
              "operation": st.sampled_from(["upload", "download", "x"]), "remote": _json_values,
              "action": _json_values | st.fixed_dictionaries({"href": st.text(max_size=30), "header": _json_values})},
)
_lines = st.lists(st.text(max_size=40) | _requests.map(json.dumps) | _json_values.map(json.dumps), max_size=12)


@FAST
@given(_lines)
def test_random_and_malformed_stdin_never_crashes_and_stdout_stays_json(tmp_path, lines):
    stdin = io.StringIO("\n".join(line.replace("\n", " ") for line in lines) + "\n")
    stdout = io.StringIO()
    with responses.RequestsMock(assert_all_requests_are_fired=False):   # no request may leave the machine
        code = run(stdin, stdout, ["--max-attempts", "1", "--backoff", "0", "--log", str(tmp_path / "l.jsonl")],
                   stderr=io.StringIO())
    assert code == 0
    for line in stdout.getvalue().splitlines():
        assert isinstance(json.loads(line), dict)


def test_progress_is_rate_limited_to_a_few_events_per_second():
    now = [0.0]
    events = []
    progress = Progress(10_000, lambda so_far, since: events.append(now[0]), clock=lambda: now[0])
    for position in range(1, 10_001):   # one byte every millisecond for 10 s
        now[0] = position / 1000
        progress.advance("part", position)
    progress.finish()
    assert events[0] == 0.001              # the first bytes are reported at once
    assert len(events) <= 10 / 0.25 + 2    # then at most 4 per second


_FAULTS = st.sampled_from([500, 503, 429, 408, (200, {}), "reset", (403, {}), (404, {})])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(part_faults=st.lists(_FAULTS, max_size=10), complete_faults=st.lists(st.sampled_from([500, 503, "reset"]), max_size=3),
       parallel=st.integers(1, 4), max_attempts=st.integers(1, 4))
def test_any_fault_sequence_ends_in_one_clean_answer_with_exact_progress(
        tmp_path, part_faults, complete_faults, parallel, max_attempts):
    data = bytes(range(256)) * 30           # 7680 bytes, 4 parts of 2000
    with tempfile.TemporaryDirectory(dir=tmp_path) as repo, \
            responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        hub = FakeHub(rsps, data, 2000)
        hub.fail("part", *[connection_reset() if f == "reset" else f for f in part_faults])
        hub.fail("complete", *[connection_reset() if f == "reset" else f for f in complete_faults])
        oid, path = make_object(Path(repo), data)
        lines = [init_line(), upload_line(oid, len(data), path, hub.action()), '{"event":"terminate"}']
        stdout = io.StringIO()
        argv = ["--parallel", str(parallel), "--max-attempts", str(max_attempts), "--backoff", "0",
                "--log", str(Path(repo) / "l.jsonl")]
        assert run(io.StringIO("\n".join(lines) + "\n"), stdout, argv, stderr=io.StringIO()) == 0
    out = [json.loads(line) for line in stdout.getvalue().splitlines()]
    assert out[0] == {}
    completes = [m for m in out if m.get("event") == "complete"]
    assert len(completes) == 1 and out[-1] is completes[0]
    so_far = [m["bytesSoFar"] for m in out if m.get("event") == "progress"]
    assert so_far == sorted(so_far) and all(0 <= s <= len(data) for s in so_far)
    if "error" in completes[0]:   # a failure is reported only when the object is not stored
        assert not hub.stored and "Next:" in completes[0]["error"]["message"]
    else:                         # success only after the server stored it, progress ends at the size
        assert hub.stored and so_far[-1] == len(data)
    # attempts stay bounded: per part, max_attempts per URL generation, at most 1 + MAX_REFRESHES generations
    assert hub.calls("part") <= hub.nparts * max_attempts * (1 + MAX_REFRESHES)
