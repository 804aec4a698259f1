"""What `git hf push` shows: the upload view under injected faults, and the --dry-run plan (real git + git-lfs)."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys

import pytest

from tests.cli_content.helpers import hf, hub_clone, hub_env
from tests.support import git, sparse_file

pytestmark = pytest.mark.e2e
MiB = 1024**2


def two_files(hub, tmp_path):
    """A clone with a 6 MiB multipart file and a small LFS file, committed, nothing pushed."""
    repo = hub_clone(hub, tmp_path)
    sparse_file(repo / "model.safetensors", 6 * MiB, stamp=b"view")
    (repo / "small.bin").write_bytes(b"\0small")
    hf("commit", "-m", "files", cwd=repo, env=hub_env(hub))
    return repo


def test_push_view_names_each_retry_with_its_reason(start_hub, tmp_path):
    hub = start_hub("--multipart-threshold", "4MiB", "--chunk-size", "1MiB", "--fault", "part:503:1:2")
    repo = two_files(hub, tmp_path)
    proc = hf("push", cwd=repo, env=hub_env(hub))
    err = proc.stderr
    retries = re.findall(r"^model\.safetensors: part \d/6: HTTP 503, retry 2/\d+ in \d+\.\d s$", err, re.M)
    assert len(retries) == 2, err
    assert re.search(r"^model\.safetensors: 6\.0 MiB stored as 6 parts in \d+\.\d s", err, re.M), err
    assert re.search(r"\[2/3\] git push: ok in \d+\.\d s; the agent stored 2 objects \(6\.0 MiB\) after 2 retries", err), err
    assert "[3/3] verify: ok: 2 LFS files" in err
    assert not list((repo / ".git" / "git-hf").glob("git-hf-push-*"))  # the events file is removed


def test_verbose_push_raises_the_agents_detail_for_that_push_only(start_hub, tmp_path):
    hub = start_hub("--multipart-threshold", "4MiB", "--chunk-size", "1MiB")
    repo = two_files(hub, tmp_path)
    hf("-v", "push", cwd=repo, env=hub_env(hub))
    log = (repo / ".git" / "lfs" / "logs" / "git-hf-agent.jsonl").read_text()
    assert '"verbose":true' in log.replace(" ", "")
    assert "GIT_HF_AGENT_VERBOSE" not in git("config", "--list", cwd=repo).stdout


def test_dry_run_prints_the_plan_and_sends_nothing(start_hub, tmp_path):
    hub = start_hub("--multipart-threshold", "4MiB", "--chunk-size", "1MiB")
    repo = two_files(hub, tmp_path)
    before = git("ls-remote", "origin", cwd=repo).stdout
    # small.bin is already on the Hub (uploaded by hand); the plan must say so.
    git("lfs", "push", "--object-id", "origin",
        git("lfs", "ls-files", "-l", "-I", "small.bin", cwd=repo).stdout.split()[0], cwd=repo, env=hub_env(hub))
    stats = hub.stats()

    proc = hf("push", "--dry-run", cwd=repo, env=hub_env(hub))

    out = proc.stdout
    assert re.search(r"6\.0 MiB  model\.safetensors: multipart, 6 parts of 1\.0 MiB", out), out
    assert re.search(r"6 B  small\.bin: already on the Hub", out), out
    assert "2 LFS files: 1 to send (6.0 MiB, 6 uploads), 1 already on the Hub" in out
    assert "0 errors, 0 warnings: ready to push" in out and "dry run: nothing was sent" in out
    after = hub.stats()
    assert after["part_puts"] == stats["part_puts"] and after["completions"] == stats["completions"]
    assert git("ls-remote", "origin", cwd=repo).stdout == before


def test_dry_run_exits_like_check_on_an_error(hub, tmp_path):
    repo = hub_clone(hub, tmp_path)
    (repo / "raw.dat").write_bytes(b"\0raw")
    git("add", "raw.dat", cwd=repo)
    git("commit", "-q", "-m", "raw", cwd=repo)
    proc = hf("push", "--dry-run", cwd=repo, env=hub_env(hub), check=False)
    assert proc.returncode == 1 and "raw.dat: binary file stored in git" in proc.stdout
    assert "the push would stop at the check" in proc.stdout


def test_dry_run_for_a_repo_that_does_not_exist_yet(hub, tmp_path):
    repo = tmp_path / "fresh"
    git("init", "-q", "-b", "main", str(repo))
    hf("init", "--endpoint", hub.url, cwd=repo, env=hub_env(hub))
    git("remote", "add", "origin", f"{hub.url}/alice/not-yet", cwd=repo)
    sparse_file(repo / "w.safetensors", 2 * MiB, stamp=b"w")
    hf("commit", "-m", "w", cwd=repo, env=hub_env(hub))
    proc = hf("push", "--dry-run", "--create", cwd=repo, env=hub_env(hub))
    assert "alice/not-yet (http" in proc.stdout and "does not exist yet; --create would create it" in proc.stdout
    assert "2.0 MiB  w.safetensors: send (no answer from the Hub about it)" in proc.stdout
    assert not (hub.root / "repos" / "models" / "alice" / "not-yet.git").exists()


def test_on_a_terminal_the_view_is_one_block_redrawn_in_place(start_hub, tmp_path):
    hub = start_hub("--multipart-threshold", "4MiB", "--chunk-size", "1MiB", "--conn-rate", "2MiB",
                    "--fault", "part:503:1:1")
    repo = two_files(hub, tmp_path)
    main, child = pty.openpty()  # stderr is a terminal, as in a user's shell
    proc = subprocess.Popen([sys.executable, "-m", "git_hf_agent", "push"], cwd=repo, env={**os.environ, **hub_env(hub)},
                            stdout=subprocess.PIPE, stderr=child)
    os.close(child)
    chunks = []
    while True:
        try:
            data = os.read(main, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    assert proc.wait(timeout=300) == 0
    os.close(main)
    screen = b"".join(chunks).decode(errors="replace")
    assert "\x1b[1F\x1b[J" in screen  # the block is erased and redrawn, not appended
    assert re.search(r"model\.safetensors: [\d.]+ [KM]iB of 6\.0 MiB \(\d+%\)", screen), screen
    assert re.search(r"part \d/6: HTTP 503, retry 2/\d+ in", screen) and "[3/3] verify: ok" in screen


def test_a_failed_upload_is_shown_with_the_agents_message_and_its_log(start_hub, tmp_path):
    hub = start_hub("--multipart-threshold", "4MiB", "--chunk-size", "1MiB", "--fault", "part:500:1")
    repo = two_files(hub, tmp_path)
    git("config", "lfs.customtransfer.multipart.args", "--max-attempts 2 --backoff 0.1", cwd=repo)
    proc = hf("push", cwd=repo, env=hub_env(hub), check=False)
    err = proc.stderr
    assert re.search(r"^model\.safetensors: part \d/6: HTTP 500, retry 2/2 in \d+\.\d s$", err, re.M), err
    assert re.search(r"^model\.safetensors: failed: .*HTTP 500", err, re.M), err
    log = repo / ".git" / "lfs" / "logs" / "git-hf-agent.jsonl"
    assert f"the agent's log: {log}" in err and "push failed at step 2/3 (git push)" in err
