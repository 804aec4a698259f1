"""Run by benchmarks/download.py inside its dl-venv: fetch LFS objects with ``hf_transfer.download``.

Reads a JSON spec (batch URL, objects, destination, connections, chunk size,
processes, verify), asks the LFS batch API for the download URLs as git-lfs would,
then downloads the objects ``processes`` at a time, each with ``hf_transfer.download``
using ``connections`` parallel ranges of ``chunk`` bytes (files named by oid). With
``verify``, each worker then reads its object back and checks its sha256, as our agent
and git-lfs do before an object counts as downloaded (hf_transfer itself checks nothing).
"""

import hashlib
import json
import os
import sys
import urllib.request
from concurrent.futures import ProcessPoolExecutor

import hf_transfer


def hrefs(spec):
    body = json.dumps({"operation": "download", "transfers": ["basic"], "objects": spec["objects"]}).encode()
    req = urllib.request.Request(spec["batch"], data=body, method="POST", headers={
        "Accept": "application/vnd.git-lfs+json", "Content-Type": "application/vnd.git-lfs+json"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        answer = json.load(resp)
    return [(o["oid"], o["actions"]["download"]["href"], o["actions"]["download"].get("header") or {})
            for o in answer["objects"]]


def get(job):
    oid, href, headers, dest, connections, chunk, verify = job
    path = os.path.join(dest, oid)
    hf_transfer.download(href, path, max_files=connections, chunk_size=chunk,
                         parallel_failures=3, max_retries=5, headers=headers or None)
    if verify:
        digest = hashlib.sha256()
        with open(path, "rb") as fh:
            while block := fh.read(8 << 20):
                digest.update(block)
        if digest.hexdigest() != oid:
            raise SystemExit(f"{oid}: sha256 mismatch after hf_transfer.download")


def main():
    spec = json.load(open(sys.argv[1]))
    os.makedirs(spec["dest"], exist_ok=True)
    jobs = [(oid, href, headers, spec["dest"], spec["connections"], spec["chunk"], spec.get("verify", False))
            for oid, href, headers in hrefs(spec)]
    with ProcessPoolExecutor(max_workers=min(spec["processes"], len(jobs))) as pool:
        list(pool.map(get, jobs))


if __name__ == "__main__":
    main()
