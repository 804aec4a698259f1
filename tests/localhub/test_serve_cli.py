"""``git hf serve`` as a command: first line, clean stop, temp root removal, option errors."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import requests

from tests.localhub.wire import batch
from tests.support import create_repo


def _start(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "git_hf_agent", "serve", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_default_root_is_temporary_and_removed_on_sigterm():
    proc = _start("--token", "alice:hf_cliTestToken1234")
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        create_repo(url, "alice/x", token="hf_cliTestToken1234")
        stats = requests.get(f"{url}/_local/stats", timeout=10).json()
        assert stats["requests"]["api"] == 1
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0
    root = Path(err.split("serving ")[1].split(" at ")[0])
    assert not root.exists()
    # It said so at start: where the root is, that it is temporary and deleted on exit, and how to keep it.
    assert f"the root {root} is temporary" in err and "deleted when this server stops" in err and "--root" in err
    assert "hf_cliTestToken1234" not in err


def test_explicit_root_is_kept(tmp_path):
    proc = _start("--root", str(tmp_path / "state"), "--token", "alice:hf_cliTestToken1234")
    try:
        url = proc.stdout.readline().strip()
        create_repo(url, "alice/x", token="hf_cliTestToken1234")
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    assert (tmp_path / "state" / "repos" / "models" / "alice" / "x.git" / "HEAD").is_file()
    assert "temporary" not in err


def test_public_url_is_written_into_hrefs(start_hub):
    hub = start_hub("--public-url", "https://hub.example.test/")
    create_repo(hub.url, "alice/x")
    action = batch(hub.url, "alice/x", [("a" * 64, 10)]).json()["objects"][0]["actions"]
    assert action["upload"]["href"].startswith("https://hub.example.test/_lfs/objects/")
    assert action["verify"]["href"].startswith("https://hub.example.test/alice/x.git/info/lfs/objects/verify?")


def test_bad_options_fail_with_the_fix_and_leave_no_temporary_root(tmp_path):
    temp = tmp_path / "tmp"
    temp.mkdir()
    for args, words in ((["--fault", "part:boom:1"], "kind must be one of"),
                        (["--fault", "part:500:2"], "RATE must be within"),
                        (["--chunk-size", "lots"], "not a size"),
                        (["--token", "no-colon"], "NAME:TOKEN")):
        proc = subprocess.run([sys.executable, "-m", "git_hf_agent", "serve", *args], capture_output=True,
                              text=True, timeout=30, env={**os.environ, "TMPDIR": str(temp)})
        assert proc.returncode != 0 and words in proc.stderr, (args, proc.stderr)
        assert proc.stdout == ""
        assert list(temp.iterdir()) == [], args


def test_sizes_accept_suffixes(start_hub):
    hub = start_hub("--chunk-size", "1MiB", "--multipart-threshold", "1.5MiB")
    create_repo(hub.url, "alice/x")
    body = batch(hub.url, "alice/x", [("a" * 64, 2 * 1024 * 1024)]).json()
    assert body["objects"][0]["actions"]["upload"]["header"]["chunk_size"] == str(1024 * 1024)


def test_hrefs_follow_the_host_the_client_used(start_hub):
    hub = start_hub()
    port = hub.url.rsplit(":", 1)[1]
    via_localhost = f"http://localhost:{port}"
    create_repo(via_localhost, "alice/x")
    action = batch(via_localhost, "alice/x", [("a" * 64, 10)]).json()["objects"][0]["actions"]
    assert action["upload"]["href"].startswith(f"{via_localhost}/_lfs/objects/")


def test_the_base_url_lists_the_repos(hub):
    create_repo(hub.url, "alice/x")
    create_repo(hub.url, "alice/d", "dataset")
    page = requests.get(hub.url + "/", timeout=10).text
    assert f"{hub.url}/alice/x\n" in page and f"{hub.url}/datasets/alice/d\n" in page
