"""`git hf init` download keys and what `git hf doctor` says about them (no server needed)."""

from __future__ import annotations

import subprocess

from tests.download.helpers import GIT_HF
from tests.support import git

ENDPOINT = "https://hub.example.org"


def hf(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([GIT_HF, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def line_of(out: str, name: str) -> str:
    return next(line for line in out.splitlines() if f" {name} " in line)


def test_global_init_routes_downloads_only_and_doctor_explains_it(tmp_path):
    assert hf("init", "--global", "--endpoint", ENDPOINT, cwd=tmp_path).returncode == 0
    get = lambda key: git("config", "--global", "--get-all", key, check=False).stdout.split()
    assert get("lfs.customtransfer.multipart.direction") == ["both"]
    assert get("url.https://git-hf-download@hub.example.org/.insteadof") == ["https://hub.example.org/"]
    assert get("url.https://hub.example.org/.pushinsteadof") == ["https://hub.example.org/"]
    assert get("lfs.https://git-hf-download@hub.example.org/.standalonetransferagent") == ["multipart"]
    # git itself: fetches get the download user name, pushes keep the URL as written
    repo = tmp_path / "r"
    git("init", "-q", str(repo))
    git("remote", "add", "origin", f"{ENDPOINT}/alice/m", cwd=repo)
    assert git("ls-remote", "--get-url", "origin", cwd=repo).stdout.strip() == "https://git-hf-download@hub.example.org/alice/m"
    assert "pushurl" not in git("config", "--list", cwd=repo).stdout

    doctor = hf("doctor", "--endpoint", ENDPOINT, cwd=repo)
    assert "ok" in line_of(doctor.stdout, "downloads") and "parallel ranges" in doctor.stdout

    off = hf("init", "--global", "--endpoint", ENDPOINT, "--no-downloads", cwd=tmp_path)
    assert off.returncode == 0 and off.stdout.count("remove") == 3
    assert get("lfs.customtransfer.multipart.direction") == ["upload"]
    assert get("lfs.https://git-hf-download@hub.example.org/.standalonetransferagent") == []
    assert "skip" in line_of(hf("doctor", "--endpoint", ENDPOINT, cwd=repo).stdout, "downloads")


def test_user_aliases_for_the_host_are_kept(tmp_path):
    git("config", "--global", "--add", "url.https://git-hf-download@hub.example.org/.insteadof", "https://mirror.example.org/")
    assert hf("init", "--global", "--endpoint", ENDPOINT, cwd=tmp_path).returncode == 0
    assert hf("init", "--global", "--endpoint", ENDPOINT, "--no-downloads", cwd=tmp_path).returncode == 0
    kept = git("config", "--global", "--get-all", "url.https://git-hf-download@hub.example.org/.insteadof").stdout.split()
    assert kept == ["https://mirror.example.org/"]
