"""`git hf push` and `git hf verify` end to end against `git hf serve` with real git + git-lfs."""

from __future__ import annotations

import json

import pytest

from git_hf_agent.lfspointer import parse
from tests.cli_content.helpers import hf, hub_clone, hub_env, stored_object
from tests.support import authed, git, sparse_file

pytestmark = pytest.mark.e2e


def pointer_oid(repo, path):
    return parse(git("cat-file", "blob", f"HEAD:{path}", cwd=repo).stdout.encode()).oid


def verify_json(repo, env, ok):
    proc = hf("verify", "--json", cwd=repo, env=env, check=ok)
    return json.loads(proc.stdout), proc


@pytest.fixture
def pushed(start_hub, tmp_path):
    """A clone with two LFS files (one multipart) and a text file, pushed with `git hf push`."""
    hub = start_hub("--multipart-threshold", "4MiB", "--chunk-size", "1MiB")
    repo = hub_clone(hub, tmp_path)
    sparse_file(repo / "model.safetensors", 6 * 1024**2 + 3, stamp=b"model")
    (repo / "small.bin").write_bytes(b"\0small")
    (repo / "README.md").write_text("# m\n")
    hf("commit", "-m", "files", cwd=repo, env=hub_env(hub))
    proc = hf("push", cwd=repo, env=hub_env(hub))
    return hub, repo, proc


def test_push_checks_pushes_and_verifies(pushed):
    hub, repo, proc = pushed
    assert "[1/3] check: ok" in proc.stderr
    # The upload shown is the agent's own view; git-lfs 3.3 prints its meter's final line only
    # when an update reached it while unpaused, so that line is not asserted.
    assert "[2/3] git push" in proc.stderr and "the agent stored 2 objects (6.0 MiB)" in proc.stderr
    assert "[3/3] verify: ok: 2 LFS files" in proc.stderr
    stats = hub.stats()
    assert stats["part_puts"] == 7 and stats["completions"] == 1  # 6 MiB + 3 bytes in 1 MiB parts
    assert stored_object(hub, pointer_oid(repo, "model.safetensors")).stat().st_size == 6 * 1024**2 + 3
    assert git("ls-remote", "origin", "main", cwd=repo).stdout.split()[0] == git("rev-parse", "HEAD", cwd=repo).stdout.strip()


def test_verify_reports_every_file(pushed):
    hub, repo, _ = pushed
    report, _ = verify_json(repo, hub_env(hub), ok=True)
    assert report["summary"] == {"ok": 2} and report["revision"] == "main"
    assert sorted(f["path"] for f in report["files"]) == ["model.safetensors", "small.bin"]
    proc = hf("verify", cwd=repo, env=hub_env(hub))
    assert "verified 2 of 2 LFS files" in proc.stdout and "model.safetensors" in proc.stdout


def test_verify_catches_an_object_missing_from_storage(pushed):
    hub, repo, _ = pushed
    stored_object(hub, pointer_oid(repo, "small.bin")).unlink()
    report, proc = verify_json(repo, hub_env(hub), ok=False)
    assert {f["path"]: f["status"] for f in report["files"]} == {"model.safetensors": "ok", "small.bin": "missing"}
    assert "1 of 2 LFS files are not verified" in proc.stderr and "small.bin (missing)" in proc.stderr
    assert "git lfs push --all origin main" in proc.stderr
    # The fix it prints works: git-lfs uploads the object again, then verify passes.
    git("lfs", "push", "--all", "origin", "main", cwd=repo, env=hub_env(hub))
    verify_json(repo, hub_env(hub), ok=True)


def test_verify_catches_a_size_mismatch_in_storage(pushed):
    hub, repo, _ = pushed
    obj = stored_object(hub, pointer_oid(repo, "model.safetensors"))
    obj.chmod(0o644)
    with open(obj, "r+b") as fh:
        fh.truncate(1024)
    report, proc = verify_json(repo, hub_env(hub), ok=False)
    bad = [f for f in report["files"] if f["status"] != "ok"]
    assert [(f["path"], f["status"]) for f in bad] == [("model.safetensors", "mismatch")]
    assert "the Hub stores 1024 bytes" in bad[0]["detail"]


def test_verify_catches_a_tree_mismatch_and_an_unpushed_file(pushed):
    hub, repo, _ = pushed
    sparse_file(repo / "model.safetensors", 5 * 1024**2, stamp=b"v2")
    (repo / "extra.bin").write_bytes(b"\0extra")
    hf("commit", "-m", "v2", cwd=repo, env=hub_env(hub))
    report, proc = verify_json(repo, hub_env(hub), ok=False)
    status = {f["path"]: f["status"] for f in report["files"]}
    assert status == {"model.safetensors": "mismatch", "small.bin": "ok", "extra.bin": "absent"}
    assert "git hf push" in proc.stderr
    proc = hf("verify", "origin/main", cwd=repo, env=hub_env(hub))  # what is pushed is fine
    assert "verified 2 of 2 LFS files" in proc.stdout and "alice/m@main" in proc.stdout


def test_verify_without_lfs_files(hub, tmp_path):
    repo = hub_clone(hub, tmp_path)
    (repo / "a.txt").write_text("a\n")
    hf("commit", cwd=repo, env=hub_env(hub))
    assert "no LFS files in HEAD: nothing to verify" in hf("verify", cwd=repo, env=hub_env(hub)).stdout


def test_push_create_makes_the_repo_then_pushes(hub, tmp_path):
    repo = tmp_path / "fresh"
    git("init", "-q", "-b", "main", str(repo))
    hf("init", "--endpoint", hub.url, cwd=repo, env=hub_env(hub))
    git("remote", "add", "origin", f"{hub.url}/datasets/alice/new-data", cwd=repo)
    sparse_file(repo / "train.parquet", 2 * 1024**2, stamp=b"parquet")
    hf("commit", "-m", "data", cwd=repo, env=hub_env(hub))
    failed = hf("push", cwd=repo, env=hub_env(hub), check=False)
    assert "step 2/3 (git push)" in failed.stderr
    proc = hf("push", "--create", cwd=repo, env=hub_env(hub))
    assert "datasets/alice/new-data" in proc.stderr and "[3/3] verify: ok: 1 LFS file (2.0 MiB)" in proc.stderr
    assert (hub.root / "repos" / "datasets" / "alice" / "new-data.git").is_dir()
    hf("push", "--create", cwd=repo, env=hub_env(hub))  # exists now: still fine, nothing new to send


def test_push_create_never_sends_the_token_to_another_host(hub, tmp_path):
    repo = tmp_path / "elsewhere"
    git("init", "-q", "-b", "main", str(repo))
    git("remote", "add", "origin", f"{hub.url}/alice/x", cwd=repo)
    (repo / "a.txt").write_text("a\n")
    hf("commit", cwd=repo)
    proc = hf("push", "--create", cwd=repo, env={"HF_TOKEN": "hf_someoneElsesHubToken123", "HF_ENDPOINT": "https://huggingface.co"},
              check=False)
    assert "is not the configured Hub" in proc.stderr and "HF_ENDPOINT=" in proc.stderr
    assert hub.stats()["requests"].get("api", 0) == 0


def test_push_stops_at_check_and_sends_nothing(hub, tmp_path):
    repo = hub_clone(hub, tmp_path)
    before = git("ls-remote", "origin", cwd=repo).stdout
    (repo / "raw.dat").write_bytes(b"\0raw")  # no LFS rule matches *.dat: plain git add keeps it in git
    git("add", "raw.dat", cwd=repo)
    git("commit", "-q", "-m", "raw", cwd=repo)
    proc = hf("push", cwd=repo, env=hub_env(hub), check=False)
    assert "push failed at step 1/3 (check)" in proc.stderr and "nothing was pushed" in proc.stderr
    assert "raw.dat: binary file stored in git" in proc.stdout
    assert git("ls-remote", "origin", cwd=repo).stdout == before


def test_push_without_credentials_names_git_push(hub, tmp_path):
    repo = hub_clone(hub, tmp_path)
    (repo / "a.txt").write_text("a\n")
    hf("commit", cwd=repo, env=hub_env(hub))
    proc = hf("push", cwd=repo, env={"HF_TOKEN": "hf_wrongToken000000000000"}, check=False)
    assert "push failed at step 2/3 (git push)" in proc.stderr
    assert "hf_wrongToken" not in proc.stderr + proc.stdout


def test_verify_with_credentials_in_the_url_and_no_token(pushed, monkeypatch):
    hub, repo, _ = pushed
    git("remote", "set-url", "origin", authed(f"{hub.url}/alice/m"), cwd=repo)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    report, _ = verify_json(repo, {"HF_ENDPOINT": hub.url}, ok=True)
    assert report["summary"] == {"ok": 2}


def test_verify_of_a_revision_the_hub_lacks(pushed):
    hub, repo, _ = pushed
    proc = hf("verify", "--revision", "no-such-branch", cwd=repo, env=hub_env(hub), check=False)
    assert "not found" in proc.stderr and "fix:" in proc.stderr
