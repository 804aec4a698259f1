"""Hostile clients against honest uploads: every stored object hashes to its oid, and honest uploads land.

Hostile moves, run in threads while an honest client uploads multipart objects:
replays of the honest client's own part URLs cut off midway (a leaked URL, a
proxy that drops connections) and with wrong lengths; a second user batching the
same objects (same size, size + 1) into the same repo and sending garbage, cut-off
parts and bogus completions. Phase one has only moves that must leave no trace:
every honest completion succeeds on the first try. Phase two adds complete,
wrong replays of the honest part URLs: those may make an honest completion fail
(the honest client then starts again, as the agent does, up to 5 times), but
nothing that does not hash to its oid is ever stored. The server's RSS stays under 100 MB.
"""

from __future__ import annotations

import hashlib
import os
import random
import socket
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import psutil
import pytest
import requests

from tests.localhub.wire import LFS, batch, commit_lfs_files, oid, part_urls
from tests.support import TOKEN, create_repo

pytestmark = pytest.mark.reliability
MiB = 1024 * 1024
CHUNK = 512 * 1024
BOB = "hf_bobTestToken0123456789abcdef"
REPO = "org/shared"
RSS_LIMIT = 100 * MiB


def _cut_off_put(url: str, length: int, sent: int, reset: bool) -> None:
    """PUT promising ``length`` bytes, send ``sent`` of them, then close (FIN) or reset the connection."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        head = (f"PUT {parts.path}?{parts.query} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
                f"Content-Length: {length}\r\n\r\n").encode()
        sock.sendall(head + os.urandom(sent))
        time.sleep(random.random() * 0.05)
        if reset:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")


def _complete(action: dict, digest: str, parts: list[dict]) -> requests.Response:
    return requests.post(action["href"], json={"oid": digest, "parts": parts}, headers=LFS, timeout=60)


class Honest:
    """Uploads objects multipart the way the agent does; starts an object again when its completion is refused."""

    def __init__(self, base: str, objects: list[bytes], leaked: list[str]) -> None:
        self.base, self.objects, self.leaked = base, objects, leaked
        self.attempts: dict[str, int] = {}
        self.landed: list[bytes] = []  # objects whose completion succeeded (at most 5 attempts each)

    def upload(self, data: bytes) -> None:
        digest = oid(data)
        for attempt in range(1, 6):
            self.attempts[digest] = attempt
            action = batch(self.base, REPO, [(digest, len(data))]).json()["objects"][0]["actions"]["upload"]
            urls = part_urls(action)
            self.leaked.extend(urls)
            chunk = int(action["header"]["chunk_size"])
            parts = []
            for n, url in enumerate(urls, 1):
                resp = requests.put(url, data=data[(n - 1) * chunk:n * chunk], timeout=60)
                parts.append({"partNumber": n, "etag": resp.headers.get("ETag", "")})
                time.sleep(0.01)  # leave the hostile threads room between parts
            if _complete(action, digest, parts).status_code == 200:
                self.landed.append(data)
                return

    def run(self) -> None:
        for data in self.objects:
            self.upload(data)


def _hostile(base: str, objects: list[bytes], leaked: list[str], stop: threading.Event, wrong_replays: bool,
             seed: int, failures: list[str]) -> None:
    try:
        _hostile_moves(base, objects, leaked, stop, wrong_replays, seed)
    except AssertionError as exc:  # a hostile request got an answer it must not get
        failures.append(repr(exc))


def _hostile_moves(base: str, objects: list[bytes], leaked: list[str], stop: threading.Event, wrong_replays: bool,
                   seed: int) -> None:
    rng = random.Random(seed)
    while not stop.is_set():
        move = rng.choice(["cut", "cut", "length", "bob", "bob-bigger", "bob-complete"] +
                          (["replay-wrong"] if wrong_replays else []))
        try:
            if move in ("cut", "length", "replay-wrong") and leaked:
                url = rng.choice(leaked[-8:] if rng.random() < 0.8 else leaked)  # mostly the upload in progress
                if move == "cut":
                    _cut_off_put(url, CHUNK, rng.randrange(0, CHUNK), reset=rng.random() < 0.5)
                elif move == "length":
                    resp = requests.put(url, data=os.urandom(rng.choice([1, CHUNK - 1, CHUNK + 1])), timeout=30)
                    assert resp.status_code in (400, 404), (resp.status_code, resp.text)
                else:
                    requests.put(url, data=os.urandom(CHUNK), timeout=30)
            elif move.startswith("bob"):
                data = rng.choice(objects)
                size = len(data) + (1 if move == "bob-bigger" else 0)
                answer = batch(base, REPO, [(oid(data), size)], token=BOB).json()["objects"][0]
                if "actions" not in answer:
                    continue
                action = answer["actions"]["upload"]
                urls = part_urls(action)
                parts = []
                for n, url in enumerate(urls, 1):
                    length = min(CHUNK, size - (n - 1) * CHUNK)
                    if rng.random() < 0.3:
                        _cut_off_put(url, length, rng.randrange(0, length), reset=True)
                    resp = requests.put(url, data=os.urandom(length), timeout=30)
                    parts.append({"partNumber": n, "etag": resp.headers.get("ETag", "")})
                if move == "bob-complete":  # garbage never hashes to the oid (404: another thread discarded it)
                    resp = _complete(action, oid(data), parts)
                    assert resp.status_code in (400, 404), (resp.status_code, resp.text)
        except (requests.RequestException, OSError):
            pass


def _run(hub, objects: list[bytes], wrong_replays: bool) -> Honest:
    leaked: list[str] = []
    honest = Honest(hub.url, objects, leaked)
    stop, failures = threading.Event(), []
    hostile = [threading.Thread(target=_hostile, args=(hub.url, objects, leaked, stop, wrong_replays, seed, failures))
               for seed in range(3)]
    for t in hostile:
        t.start()
    try:
        honest.run()
    finally:
        stop.set()
        for t in hostile:
            t.join(60)
    assert not failures, failures
    return honest


def _assert_store_is_sound(hub, objects: list[bytes]) -> None:
    store = Path(hub.root) / "lfs" / "objects"
    for path in store.rglob("*"):
        if path.is_file():
            with open(path, "rb") as fh:
                assert hashlib.file_digest(fh, "sha256").hexdigest() == path.name, f"{path.name} is corrupt"
    for data in objects:
        down = batch(hub.url, REPO, [(oid(data), len(data))], operation="download").json()["objects"][0]
        assert requests.get(down["actions"]["download"]["href"], timeout=60).content == data
    rss = psutil.Process(hub.proc.pid).memory_info().rss
    assert rss < RSS_LIMIT, f"server RSS {rss / MiB:.0f} MiB"


@pytest.mark.parametrize("reuse", ["new", "keep"])
def test_moves_that_must_leave_no_trace_never_disturb_an_honest_upload(start_hub, reuse):
    hub = start_hub("--chunk-size", str(CHUNK), "--multipart-threshold", "1MiB", "--upload-reuse", reuse,
                    tokens={"alice": TOKEN, "bob": BOB})
    create_repo(hub.url, REPO)
    objects = [os.urandom(3 * MiB + 17 * i) for i in range(1, 7)]
    honest = _run(hub, objects, wrong_replays=False)
    assert set(honest.attempts.values()) == {1} and honest.landed == objects, \
        f"an honest completion was refused: {honest.attempts}"
    _assert_store_is_sound(hub, objects)


def test_wrong_replays_of_part_urls_never_store_a_corrupt_object(start_hub):
    hub = start_hub("--chunk-size", str(CHUNK), "--multipart-threshold", "1MiB", tokens={"alice": TOKEN, "bob": BOB})
    create_repo(hub.url, REPO)
    objects = [os.urandom(4 * MiB + 5 * i) for i in range(1, 5)]
    honest = _run(hub, objects, wrong_replays=True)
    assert honest.landed, "no honest upload landed in 5 attempts each"  # a saboteur holding live URLs may win some
    _assert_store_is_sound(hub, honest.landed)
    assert hub.stats()["objects_stored"] == len(honest.landed)


@pytest.mark.e2e
def test_a_real_git_push_and_clone_land_while_another_user_attacks_the_same_objects(start_hub, tmp_path):
    from tests.support import authed, git

    hub = start_hub("--chunk-size", str(CHUNK), "--multipart-threshold", "1MiB", tokens={"alice": TOKEN, "bob": BOB})
    url = create_repo(hub.url, REPO)
    work, objects = tmp_path / "work", [os.urandom(2 * MiB + i) for i in range(4)]
    commit_lfs_files(work, url, {f"w{i}.bin": data for i, data in enumerate(objects)})
    stop, failures = threading.Event(), []
    hostile = [threading.Thread(target=_hostile, args=(hub.url, objects, [], stop, True, seed, failures))
               for seed in range(2)]
    for t in hostile:
        t.start()
    try:
        time.sleep(1.0)  # bob's uploads of the same objects are in progress when the push starts
        git("push", authed(url), "main", cwd=work)
        clone = tmp_path / "clone"
        git("clone", "-q", authed(url), str(clone))
    finally:
        stop.set()
        for t in hostile:
            t.join(60)
    assert not failures, failures
    for i, data in enumerate(objects):
        assert (clone / f"w{i}.bin").read_bytes() == data
    _assert_store_is_sound(hub, objects)
