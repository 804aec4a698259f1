"""Benchmark: how fast ``git hf serve`` sinks multipart part PUTs on loopback.

The local Hub must never be the bottleneck of a push benchmark (issue 2: >= 400 MB/s
on a 2-core machine). This starts a local Hub, asks the batch API for a multipart
upload of one large (fake) object, then PUTs its parts from several client
threads with ``http.client`` (one keep-alive connection per thread, the part body
sent from a zero-filled in-memory buffer, so the client costs little CPU) and
prints the sink rate. The server does all real work: receive, MD5 for the ETag,
write to disk, record. The upload is then completed (the content is zeros, whose sha256 the script
computes first), so the second figure includes the server's sha256 check.

    .venv/bin/python benchmarks/server_sink.py [--size 4GiB] [--chunk-size 64MiB] [--threads 4] [--root /dev/shm]
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import shutil
import sys
import tempfile
import threading
import time
import urllib.request

import psutil
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from git_hf_agent.localhub.process import ServeProcess  # noqa: E402
from git_hf_agent.units import format_size, parse_size  # noqa: E402

TOKEN = "hf_benchmarkToken0123456789"


def batch(base: str, oid: str, size: int) -> dict:
    body = {"operation": "upload", "transfers": ["basic", "multipart"], "objects": [{"oid": oid, "size": size}]}
    req = urllib.request.Request(f"{base}/bench/sink.git/info/lfs/objects/batch", data=json.dumps(body).encode(),
                                 method="POST", headers={"Authorization": f"Bearer {TOKEN}",
                                                         "Content-Type": "application/vnd.git-lfs+json"})
    with urllib.request.urlopen(req) as resp:
        return json.load(resp)["objects"][0]["actions"]["upload"]


def zero_oid(size: int, zeros: memoryview) -> str:
    """sha256 of ``size`` zero bytes (the content the senders upload), so the upload can be completed."""
    digest, left = hashlib.sha256(), size
    while left:
        digest.update(zeros[: min(left, len(zeros))])
        left -= min(left, len(zeros))
    return digest.hexdigest()


def sender(urls: list[str], lock: threading.Lock, body: memoryview, size: int, chunk: int, errors: list,
           etags: dict) -> None:
    conn = None
    while True:
        with lock:
            if not urls:
                break
            number, url = urls.pop(0)
        part = body[: min(chunk, size - (number - 1) * chunk)]
        u = urlsplit(url)
        try:
            if conn is None:
                conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
            conn.request("PUT", f"{u.path}?{u.query}", body=part, headers={"Content-Length": str(len(part))})
            resp = conn.getresponse()
            resp.read()
            if resp.status != 200 or not resp.getheader("ETag"):
                errors.append(f"part {number}: HTTP {resp.status}")
            etags[number] = resp.getheader("ETag")
        except OSError as exc:
            errors.append(f"part {number}: {exc}")
            conn = None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", default="4GiB", help="bytes sent in total (default 4GiB)")
    ap.add_argument("--chunk-size", default="64MiB", help="part size (default 64MiB)")
    ap.add_argument("--threads", type=int, default=4, help="concurrent client connections (default 4)")
    ap.add_argument("--root", help="server state directory (default: a temp dir); /dev/shm takes the disk out")
    args = ap.parse_args()
    size, chunk = parse_size(args.size), parse_size(args.chunk_size)
    root = Path(tempfile.mkdtemp(prefix="server-sink-", dir=args.root))
    try:
        return run(root, size, chunk, args.threads)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def run(root: Path, size: int, chunk: int, threads_n: int) -> int:
    body = memoryview(bytes(chunk))
    oid = zero_oid(size, body)
    args = ("--chunk-size", str(chunk), "--multipart-threshold", "1")
    with ServeProcess(*args, root=root, tokens={"bench": TOKEN}) as hub:
        req = urllib.request.Request(f"{hub.url}/api/repos/create", data=b'{"name": "sink"}', method="POST",
                                     headers={"Authorization": f"Bearer {TOKEN}"})
        urllib.request.urlopen(req).read()
        action = batch(hub.url, oid, size)
        urls = sorted((int(k), v) for k, v in action["header"].items() if k.isdigit())
        lock, errors, etags = threading.Lock(), [], {}
        threads = [threading.Thread(target=sender, args=(urls, lock, body, size, chunk, errors, etags))
                   for _ in range(threads_n)]
        server = psutil.Process(hub.proc.pid)
        cpu_before = sum(server.cpu_times()[:2])
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
        stats = hub.stats()
        parts = [{"partNumber": n, "etag": etags[n]} for n in sorted(etags)]
        req = urllib.request.Request(action["href"], data=json.dumps({"oid": oid, "parts": parts}).encode(),
                                     method="POST", headers={"Content-Type": "application/vnd.git-lfs+json"})
        with urllib.request.urlopen(req, timeout=3600) as resp:
            resp.read()
        stored = time.perf_counter() - started
        cpu = sum(server.cpu_times()[:2]) - cpu_before
        rss = server.memory_info().rss
    received = stats["part_bytes"].get(oid, 0)
    print(f"server_sink: root {root}")
    print(f"server_sink: {format_size(received)} in {stats['part_puts']} part PUTs of {format_size(chunk)}, "
          f"{threads_n} connections, {elapsed:.2f} s -> {received / elapsed / 1e6:.0f} MB/s"
          f" (cores: {os.cpu_count()})")
    print(f"server_sink: completion answered {stored - elapsed:.2f} s later: object stored and verified "
          f"{stored:.2f} s after the first byte -> {received / stored / 1e6:.0f} MB/s end to end")
    print(f"server_sink: server CPU {cpu:.2f} core-seconds = {cpu / (received / 1e9):.2f} core-s per GB "
          f"-> {received / cpu / 1e6:.0f} MB/s per fully used core; load average {os.getloadavg()[0]:.1f}")
    print(f"server_sink: server RSS after the run {format_size(rss)} (bodies are streamed, never held whole)")
    for e in errors[:5]:
        print("error:", e)
    return 1 if errors or received != size else 0


if __name__ == "__main__":
    sys.exit(main())
