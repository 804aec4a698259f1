"""Run by benchmarks/download.py inside its dl-venv: fetch LFS objects with ``hf_transfer.download``.

Reads a JSON spec (batch URL, objects, destination, connections, chunk size,
processes), asks the LFS batch API for the download URLs as git-lfs would, then
downloads the objects ``processes`` at a time, each with ``hf_transfer.download``
using ``connections`` parallel ranges of ``chunk`` bytes (files named by oid).
"""

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
    oid, href, headers, dest, connections, chunk = job
    hf_transfer.download(href, os.path.join(dest, oid), max_files=connections, chunk_size=chunk,
                         parallel_failures=3, max_retries=5, headers=headers or None)


def main():
    spec = json.load(open(sys.argv[1]))
    os.makedirs(spec["dest"], exist_ok=True)
    jobs = [(oid, href, headers, spec["dest"], spec["connections"], spec["chunk"]) for oid, href, headers in hrefs(spec)]
    with ProcessPoolExecutor(max_workers=min(spec["processes"], len(jobs))) as pool:
        list(pool.map(get, jobs))


if __name__ == "__main__":
    main()
