"""Helpers of the chaos suite: a repo pushing one multipart object through git-hf-agent to a faulty Hub.

Each test starts ``git hf serve`` with small parts (1 MiB) and a low multipart
threshold, so a file of a few tens of MiB is a multipart upload of tens of
parts, registers the agent by hand (the contract's keys, with a short
``--timeout`` and ``--backoff`` so faults cost seconds), commits random bytes
(a misplaced part changes the sha256) and pushes with real ``git push``.
Assertions read the server's ``/_local/stats`` and its object store.
"""

from __future__ import annotations

import hashlib
import json
import random
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from git_hf_agent.localhub.process import ServeProcess
from tests.support import TOKEN, USER, VENV_BIN, create_repo, git, start_from_hub

MiB = 1024 * 1024
CHUNK = MiB
AGENT = Path(VENV_BIN) / "git-hf-agent"
BASE_AGENT_ARGS = ("--timeout", "3", "--backoff", "0.05")


@dataclass
class Chaos:
    """A local Hub, a repo with one committed LFS file, and where the agent logs."""

    hub: ServeProcess
    repo: Path
    data: Path
    oid: str
    size: int
    log: Path

    def push(self, *, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
        """``git push origin main`` (not checked: callers assert on the outcome)."""
        return git("push", "origin", "main", cwd=self.repo, env=env, check=False, timeout=timeout)

    def stats(self) -> dict:
        return self.hub.stats()

    def part_counts(self) -> dict[int, int]:
        """Part number -> how many times the server accepted (2xx) a PUT of it."""
        parts = self.stats().get("parts", {}).get(self.oid, {})
        return {int(k): v for k, v in parts.items()}

    @property
    def nparts(self) -> int:
        return -(-self.size // CHUNK)

    def stored(self) -> Path:
        return self.hub.root / "lfs" / "objects" / self.oid[0:2] / self.oid[2:4] / self.oid

    def log_events(self) -> list[dict]:
        """The agent's JSON-lines log (every line must parse)."""
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.strip()]


def register_agent(repo: Path, lfs_url: str, *args: str) -> None:
    """Register git-hf-agent as the ``multipart`` transfer exactly as the contract says."""
    for key, value in (("path", str(AGENT)), ("args", " ".join(args)), ("concurrent", "true"),
                       ("direction", "upload")):
        git("config", f"lfs.customtransfer.multipart.{key}", value, cwd=repo)
    git("config", f"lfs.{lfs_url}.locksverify", "false", cwd=repo)


def credential_script(path: Path) -> Path:
    """A credential helper answering alice/TOKEN (kept in a file so traces never show the token)."""
    path.write_text(f'#!/bin/sh\n[ "$1" = get ] && printf "username={USER}\\npassword={TOKEN}\\n"\nexit 0\n')
    path.chmod(0o755)
    return path


def setup(start_hub, tmp_path: Path, *serve_args: str, agent_args: tuple[str, ...] = (),
          size: int = 24 * MiB, seed: int = 0, credentials: bool = True) -> Chaos:
    """Start a faulty Hub, create ``alice/chaos``, commit ``size`` random bytes, register the agent."""
    hub = start_hub("--chunk-size", str(CHUNK), "--multipart-threshold", str(4 * MiB), *serve_args)
    url = create_repo(hub.url, f"{USER}/chaos")
    repo = tmp_path / "repo"
    repo.mkdir()
    git("init", "-q", "-b", "main", cwd=repo)
    start_from_hub(repo, url)  # the Hub's initial commit (.gitattributes), as a clone would have
    git("lfs", "install", "--local", cwd=repo)
    log = tmp_path / "agent.jsonl"
    register_agent(repo, f"{url}.git/info/lfs", *BASE_AGENT_ARGS, "--log", str(log), *agent_args)
    if credentials:
        git("config", "credential.helper", str(credential_script(tmp_path / "cred.sh")), cwd=repo)
    git("remote", "add", "origin", url, cwd=repo)
    git("lfs", "track", "*.bin", cwd=repo)
    data = repo / "data.bin"
    data.write_bytes(random.Random(seed).randbytes(size))
    git("add", ".gitattributes", "data.bin", cwd=repo)
    git("commit", "-q", "-m", "chaos", cwd=repo)
    oid = hashlib.sha256(data.read_bytes()).hexdigest()
    return Chaos(hub, repo, data, oid, size, log)


def assert_pushed(ch: Chaos, proc: subprocess.CompletedProcess) -> dict:
    """The push succeeded, the object is byte-identical on the server, no token reached signed URLs.

    Returns the server stats for further assertions.
    """
    assert proc.returncode == 0, f"git push failed:\n{proc.stderr[-3000:]}"
    stored = ch.stored()
    assert stored.is_file(), f"object {ch.oid} not in the server's store"
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == ch.oid, "stored object differs from the local file"
    stats = ch.stats()
    leaked = {k: v for k, v in stats.get("auth_headers_seen", {}).items() if k in ("part", "basic", "complete") and v}
    assert not leaked, f"Authorization header sent to signed URLs: {leaked}"
    assert ch.log.exists(), f"the agent wrote no log at {ch.log}"
    assert TOKEN not in ch.log.read_text(), "token in the agent's JSON log"
    return stats


def assert_each_part_once(ch: Chaos, stats: dict) -> None:
    """Every part was accepted exactly once and no more part bytes were stored than the file has."""
    counts = ch.part_counts()
    assert sorted(counts) == list(range(1, ch.nparts + 1)), f"parts accepted: {sorted(counts)}"
    assert set(counts.values()) == {1}, f"parts accepted more than once: {counts}"
    assert stats["part_bytes"][ch.oid] == ch.size


def wait_for(predicate, timeout: float, what: str, interval: float = 0.05):
    """Poll ``predicate`` until it returns a true value; fail naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
