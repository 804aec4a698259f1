"""The push view as a pure function of agent events, and the stderr sink that shows it."""

from __future__ import annotations

import io

from git_hf_agent.cli.live import Live
from git_hf_agent.cli.pushview import PushView

OID = "a" * 64
MiB = 1024**2


def ev(event: str, t: float, **fields) -> dict:
    return {"ts": f"2026-01-01T00:00:{t:06.3f}+00:00", "pid": 7, "event": event, "oid": OID, "size": 96 * MiB, **fields}


def test_block_shows_path_size_parts_rate_and_eta():
    view = PushView({OID: "model.safetensors"})
    assert view.apply(ev("object_start", 0, transfer="multipart", parts=96, chunk_size=MiB, parts_done=0,
                         bytes_done=0, resumed="none")) == []
    view.apply(ev("progress", 10, bytes_done=32 * MiB, parts=96, parts_done=30, parts_in_flight=4))
    now = view.objects[OID].started + 10
    assert view.block(now) == ["model.safetensors: 32.0 MiB of 96.0 MiB (33%), 3.2 MiB/s, ETA 0:20, "
                               "parts 30/96 done, 4 in flight"]


def test_every_retry_refresh_and_restart_is_a_line_with_its_reason():
    view = PushView({OID: "m.bin"})
    view.apply(ev("object_start", 0, transfer="multipart", parts=96, chunk_size=MiB, bytes_done=0, resumed="none"))
    retry = view.apply(ev("retry", 1, what="part", part=17, parts=96, status=503, error=None, attempt=2,
                          max_attempts=8, delay_s=4.0))
    assert retry == ["m.bin: part 17/96: HTTP 503, retry 2/8 in 4.0 s"]
    given = view.apply(ev("retry", 2, what="part", part=3, line="part 3/96: connection reset, retry 3/8 in 8.0 s"))
    assert given == ["m.bin: part 3/96: connection reset, retry 3/8 in 8.0 s"]
    assert view.apply(ev("url_refresh", 3, reason="part URLs expire in 30 s")) == \
        ["m.bin: upload URLs refreshed (part URLs expire in 30 s)"]
    assert view.apply(ev("restart", 4, reason="the Hub no longer knows the upload", bytes_resent=2 * MiB,
                         parts_resent=2)) == \
        ["m.bin: upload restarted (the Hub no longer knows the upload); 2.0 MiB already sent must go again"]
    view.apply(ev("progress", 6, bytes_done=4 * MiB, parts=96, parts_done=4, parts_in_flight=2))
    assert view.block(view.objects[OID].started + 2) == [
        "m.bin: 4.0 MiB of 96.0 MiB (4%), 2.0 MiB/s, ETA 0:46, parts 4/96 done, 2 in flight"]  # counted from the restart


def test_done_error_resume_and_unknown_objects():
    view = PushView({OID: "m.bin"})
    assert view.apply(ev("object_start", 0, transfer="multipart", parts=96, parts_done=60, bytes_done=60 * MiB,
                         resumed="journaled_upload")) == \
        ["m.bin: resuming the journaled upload: 60.0 MiB of 96.0 MiB (60/96 parts) already stored"]
    assert view.apply(ev("object_done", 8, result="stored", elapsed_s=8.0, bytes_sent=36 * MiB)) == \
        ["m.bin: 96.0 MiB stored as 96 parts in 8.0 s (4.5 MiB/s)"]  # the rate counts only this run's bytes
    assert view.block(100.0) == [] and view.summary() == "the agent stored 1 object (96.0 MiB)"
    other = {**ev("object_error", 9, code=2, message="HTTP 403 from ... (attempt 1, 0.1s)"), "oid": "b" * 64}
    assert view.apply(other) == [f"object {'b' * 12}: failed: HTTP 403 from ... (attempt 1, 0.1s)"]
    assert view.apply({"event": "http", "status": 200}) == [] and view.apply({"event": "mystery", "oid": OID}) == []


def test_plain_output_prints_the_block_at_most_every_interval_and_log_lines_at_once():
    out, now = io.StringIO(), [0.0]
    live = Live(out, tty=False, interval=5.0, clock=lambda: now[0])
    live.update(["a: 10%"])
    now[0] = 1.0
    live.update(["a: 20%"])      # too soon: not printed
    live.log("a: part 1/9: HTTP 500, retry 2/8 in 1.0 s")
    now[0] = 6.0
    live.update(["a: 60%"])
    live.update(["a: 60%"], force=True)  # unchanged: not repeated
    assert out.getvalue().splitlines() == ["a: 10%", "a: part 1/9: HTTP 500, retry 2/8 in 1.0 s", "a: 60%"]
    assert "\x1b" not in out.getvalue()


def test_terminal_output_redraws_one_block_in_place():
    out = io.StringIO()
    live = Live(out, tty=True, clock=lambda: 0.0)
    live.update(["a: 10%", "b: 5%"], force=True)
    live.log("a: retry")
    live.update(["a: 50%"], force=True)
    live.close()
    text = out.getvalue()
    assert text == ("a: 10%\nb: 5%\n" "\x1b[2F\x1b[J" "a: retry\n" "a: 10%\nb: 5%\n"
                    "\x1b[2F\x1b[J" "a: 50%\n" "\x1b[1F\x1b[J")


def test_small_objects_are_counted_not_listed():
    view = PushView()
    for i in range(3):
        oid = f"{i}" * 64
        view.apply({"ts": 1.0, "event": "object_start", "oid": oid, "size": 10, "transfer": "basic", "parts": 1})
        assert view.apply({"ts": 1.5, "event": "object_done", "oid": oid, "size": 10, "result": "stored",
                           "elapsed_s": 0.5}) == []
    assert view.summary() == "the agent stored 3 objects (30 B)"
