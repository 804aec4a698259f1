"""The "curl ceiling": what parallel ``curl -T`` PUTs of the same parts reach on the same server.

It asks the LFS batch API for multipart actions exactly as git-lfs would, cuts
each part into its own sparse slice file (curl uploads whole files), then PUTs
every part with ``curl`` processes, ``parallel`` at a time, and POSTs the
completion. The timed span is first PUT to completion answered: the transfer
work an agent does, without git's own overhead, so it is a fair upper bound for
an agent doing the same number of parts in flight.
"""

from __future__ import annotations

import base64
import json
import subprocess
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from _content import LfsFile
from _measure import _children_cpu

_BLOCK = 1 << 20
_ZERO = bytes(_BLOCK)


def batch(lfs_url: str, user: str, token: str, objects: list[LfsFile]) -> dict:
    """POST an upload batch offering basic and multipart; returns the response JSON."""
    body = json.dumps({
        "operation": "upload", "transfers": ["basic", "multipart"], "hash_algo": "sha256",
        "ref": {"name": "refs/heads/main"},
        "objects": [{"oid": o.oid, "size": o.size} for o in objects],
    }).encode()
    req = urllib.request.Request(f"{lfs_url}/objects/batch", data=body, method="POST")
    for key in ("Accept", "Content-Type"):
        req.add_header(key, "application/vnd.git-lfs+json")
    req.add_header("Authorization", "Basic " + base64.b64encode(f"{user}:{token}".encode()).decode())
    with urllib.request.urlopen(req, timeout=60) as resp:
        return json.load(resp)


def sparse_slice(src: Path, dst: Path, offset: int, length: int) -> None:
    """Copy ``length`` bytes of ``src`` from ``offset`` into ``dst``, leaving zero blocks as holes."""
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        fin.seek(offset)
        left = length
        while left:
            block = fin.read(min(_BLOCK, left))
            if block == _ZERO[: len(block)]:
                fout.seek(len(block), 1)
            else:
                fout.write(block)
            left -= len(block)
        fout.truncate(length)


def _curl_put(url: str, path: Path) -> str:
    """PUT ``path`` with curl (no ``Expect: 100-continue`` wait); returns the ETag."""
    out = subprocess.run(
        ["curl", "-sS", "--fail", "-T", str(path), "-H", "Expect:", "-D", "-", "-o", "/dev/null", url],
        capture_output=True, text=True, check=True,
    ).stdout
    for line in out.splitlines():
        if line.lower().startswith("etag:"):
            return line.split(":", 1)[1].strip()
    raise RuntimeError(f"no ETag in part response: {out[:300]}")


def _complete(href: str, oid: str, etags: list[str]) -> None:
    body = json.dumps({"oid": oid, "parts": [{"partNumber": i + 1, "etag": e} for i, e in enumerate(etags)]})
    req = urllib.request.Request(href, data=body.encode(), method="POST")
    for key in ("Accept", "Content-Type"):
        req.add_header(key, "application/vnd.git-lfs+json")
    with urllib.request.urlopen(req, timeout=600) as resp:
        resp.read()


def curl_ceiling(lfs_url: str, user: str, token: str, objects: list[LfsFile], parallel: int,
                 scratch: Path) -> tuple[float, float, float]:
    """Upload ``objects`` with parallel curl PUTs; returns (seconds, seconds of the PUTs alone, CPU seconds)."""
    answer = batch(lfs_url, user, token, objects)
    if answer.get("transfer") != "multipart":
        raise RuntimeError(f"server did not offer multipart: {answer.get('transfer')!r}")
    scratch.mkdir(parents=True, exist_ok=True)
    jobs: list[tuple[str, int, str, Path]] = []
    completions = {}
    by_oid = {o.oid: o for o in objects}
    for item in answer["objects"]:
        obj = by_oid[item["oid"]]
        upload = item["actions"]["upload"]
        chunk = int(upload["header"]["chunk_size"])
        keys = sorted((k for k in upload["header"] if k.isdigit()), key=int)
        for number, key in enumerate(keys, 1):
            part = scratch / f"{obj.oid[:12]}.{number:05d}"
            offset = (number - 1) * chunk
            sparse_slice(obj.content, part, offset, min(chunk, obj.size - offset))
            jobs.append((obj.oid, number, upload["header"][key], part))
        completions[obj.oid] = (upload["href"], len(keys))
    etags: dict[tuple[str, int], str] = {}
    cpu0 = _children_cpu()
    start = time.monotonic()
    with ThreadPoolExecutor(parallel) as pool:
        for (oid, number, _, _), etag in zip(jobs, pool.map(lambda j: _curl_put(j[2], j[3]), jobs)):
            etags[(oid, number)] = etag
    transfer = time.monotonic() - start
    for oid, (href, count) in completions.items():
        _complete(href, oid, [etags[(oid, n)] for n in range(1, count + 1)])
    elapsed = time.monotonic() - start
    cpu = _children_cpu() - cpu0
    for _, _, _, part in jobs:
        part.unlink()
    return elapsed, transfer, cpu
