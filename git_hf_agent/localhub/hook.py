"""``pre-receive`` hook of every local-Hub repo: reject pushes the Hugging Face Hub rejects.

Run by ``git receive-pack`` (through the shell hook storage installs) with the
pushed ref updates on stdin. Rejects (exit 1, message shown as ``remote:``):
non-LFS blobs over 10 MiB, binary non-LFS blobs (the API's binary rule,
:func:`hubrules.is_binary` of the first 512 bytes; unless ``git hf serve
--allow-binary``), and LFS pointers whose object the server does not hold
(``LOCALHUB_LFS_OBJECTS``). New objects are still in git's quarantine, which the
environment of the hook makes visible to the git commands below.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from git_hf_agent.localhub.config import MAX_REGULAR_BLOB
from git_hf_agent.lfspointer import MAX_POINTER_SIZE as POINTER_MAX
from git_hf_agent.lfspointer import parse as parse_pointer
from git_hf_agent.localhub.gitrepo import ZERO, GitRepo
from git_hf_agent.localhub.hubrules import SAMPLE_SIZE, is_binary
from git_hf_agent.localhub.storage import held_size
from git_hf_agent.units import format_size

MAX_SHOWN = 20


def new_blobs(repo: GitRepo, updates: list[tuple[str, ...]]) -> dict[str, str]:
    """blob id -> one path, for objects reachable from the pushed tips and not from existing refs."""
    tips = [new for _, new, _ in updates if new != ZERO]
    if not tips:
        return {}
    out = repo.git("rev-list", "--objects", *tips, "--not", "--all").decode(errors="surrogateescape")
    paths = {}
    for line in out.splitlines():
        oid, _, path = line.partition(" ")
        if path:
            paths.setdefault(oid, path)
    return paths


def problems(repo: GitRepo, paths: dict[str, str], objects: Path, reject_binary: bool) -> list[str]:
    """One message per blob the Hub would reject."""
    found, sizes = [], {}
    ids = "".join(f"{oid}\n" for oid in paths).encode()
    checked = repo.git("cat-file", "--batch-check=%(objectname) %(objecttype) %(objectsize)", input=ids)
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
        else:
            sizes[oid] = int(size)
    for oid, head in repo.heads(list(sizes), max(SAMPLE_SIZE, POINTER_MAX)).items():
        pointer = parse_pointer(head) if sizes[oid] <= POINTER_MAX else None
        if pointer is not None:
            found += _missing_object(paths[oid], pointer.oid, pointer.size, objects)
        elif reject_binary and is_binary(head[:SAMPLE_SIZE]):
            found.append(
                f"{paths[oid]} is a binary file not in Git LFS; the Hub rejects binary files outside LFS. "
                f"Fix: `git lfs track \"{paths[oid]}\"` (or use `git hf commit`), amend the commit, then push again."
            )
    return found


def _missing_object(path: str, oid: str, size: int, objects: Path) -> list[str]:
    if held_size(Path("."), objects, oid) == size:  # this repo holds it (the hook runs in the bare repo)
        return []
    return [f"{path} is an LFS pointer to {oid} ({format_size(size)}) but the Hub does not hold that object. "
            "Fix: upload it with `git lfs push --all origin` (check `git lfs env` shows the Hub's LFS endpoint), "
            "then push again."]


def main() -> int:
    updates = [tuple(line.split()) for line in sys.stdin.read().splitlines() if line.strip()]
    objects = Path(os.environ.get("LOCALHUB_LFS_OBJECTS", "."))
    repo = GitRepo(Path("."))  # receive-pack runs hooks in the repo, quarantine visible via the environment
    reject_binary = os.environ.get("LOCALHUB_REJECT_BINARY", "1") == "1"
    found = problems(repo, new_blobs(repo, updates), objects, reject_binary)
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
