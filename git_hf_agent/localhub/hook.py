"""``pre-receive`` hook of every local-Hub repo: reject pushes the Hugging Face Hub rejects.

Run by ``git receive-pack`` (through the shell hook storage installs) with the
pushed ref updates on stdin. Rejects (exit 1, message shown as ``remote:``):
non-LFS blobs over 10 MiB, and LFS pointers whose object the server does not hold
(``LOCALHUB_LFS_OBJECTS``). New objects are still in git's quarantine, which the
environment of the hook makes visible to the git commands below.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from git_hf_agent.localhub.config import MAX_REGULAR_BLOB
from git_hf_agent.units import format_size

ZERO = "0" * 40
POINTER_MAX = 1024  # git-lfs pointers are < 200 bytes; anything above 1 KiB is content
_POINTER = re.compile(rb"^version https://git-lfs\.github\.com/spec/v1\noid sha256:([0-9a-f]{64})\nsize (\d+)\n")
MAX_SHOWN = 20


def new_blobs(updates: list[tuple[str, str, str]]) -> dict[str, str]:
    """blob id -> one path, for blobs reachable from the pushed tips and not from existing refs."""
    tips = [new for _, new, _ in updates if new != ZERO]
    if not tips:
        return {}
    out = subprocess.run(["git", "rev-list", "--objects", *tips, "--not", "--all"],
                         capture_output=True, text=True, check=True).stdout
    paths = {}
    for line in out.splitlines():
        oid, _, path = line.partition(" ")
        if path:
            paths.setdefault(oid, path)
    return paths


def _batch(args: list[str], ids: list[str]) -> bytes:
    return subprocess.run(["git", "cat-file", *args], input="".join(f"{i}\n" for i in ids).encode(),
                          capture_output=True, check=True).stdout


def problems(paths: dict[str, str], objects: Path) -> list[str]:
    """One message per blob the Hub would reject."""
    found, small = [], []
    checked = _batch(["--batch-check=%(objectname) %(objecttype) %(objectsize)"], list(paths))
    for line in checked.decode().splitlines():
        oid, kind, size = line.split()
        if kind != "blob":
            continue
        if int(size) > MAX_REGULAR_BLOB:
            found.append(
                f"{paths[oid]} is {format_size(int(size))} and not in Git LFS; the Hub rejects files over "
                f"10 MiB that are not LFS. Fix: `git lfs track \"{paths[oid]}\"` (or use `git hf commit`, which "
                "does it for you), amend the commit so the file becomes an LFS pointer, then push again."
            )
        elif int(size) <= POINTER_MAX:
            small.append(oid)
    if small:
        found += _missing_objects(small, paths, objects)
    return found


def _missing_objects(ids: list[str], paths: dict[str, str], objects: Path) -> list[str]:
    data = _batch(["--batch"], ids)
    found, pos = [], 0
    while pos < len(data):
        header_end = data.index(b"\n", pos)
        oid, _, size = data[pos:header_end].decode().split()
        body = data[header_end + 1: header_end + 1 + int(size)]
        pos = header_end + 1 + int(size) + 1
        m = _POINTER.match(body)
        if m is None:
            continue
        lfs_oid, lfs_size = m.group(1).decode(), int(m.group(2))
        stored = objects / lfs_oid[0:2] / lfs_oid[2:4] / lfs_oid
        if not stored.is_file() or stored.stat().st_size != lfs_size:
            found.append(
                f"{paths[oid]} is an LFS pointer to {lfs_oid} ({format_size(lfs_size)}) but the Hub does not hold "
                "that object. Fix: upload it with `git lfs push --all origin` (check `git lfs env` shows the Hub's "
                "LFS endpoint), then push again."
            )
    return found


def main() -> int:
    updates = [tuple(line.split()) for line in sys.stdin.read().splitlines() if line.strip()]
    objects = Path(os.environ.get("LOCALHUB_LFS_OBJECTS", "."))
    found = problems(new_blobs(updates), objects)
    if not found:
        return 0
    sys.stderr.write("Your push was rejected by the Hub's checks:\n")
    for message in found[:MAX_SHOWN]:
        sys.stderr.write(f"  - {message}\n")
    if len(found) > MAX_SHOWN:
        sys.stderr.write(f"  ... and {len(found) - MAX_SHOWN} more\n")
    return 1


if __name__ == "__main__":
    sys.exit(main())
