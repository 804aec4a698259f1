"""The three ways a ``git push`` can move LFS objects, each registered as its users would.

- ``ours``: git-hf-agent, registered per the project's contract
  (``lfs.customtransfer.multipart.path|args|concurrent|direction``).
- ``hf``: huggingface_hub's ``hf lfs-multipart-upload``, from a pinned
  huggingface_hub installed into its own venv, registered by running its own
  ``hf lfs-enable-largefiles`` (``path=hf``, ``args=lfs-multipart-upload``; ``hf``
  resolved on PATH as for its users).
- ``basic``: plain git-lfs, no custom transfer (single PUT per object, so only for
  objects the server accepts through ``basic``: <= 5 GiB).

Every contender pushes to an identically configured server; only the client
side differs.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from tests.support import git

HF_PIN = "huggingface_hub==2.4.0"
MAX_BASIC = 5 * 1024**3
VENV_BIN = Path(sys.executable).parent


def ensure_hf_venv(work: Path) -> Path:
    """A venv under ``work`` with the pinned huggingface_hub; returns its bin directory."""
    venv = work / "hf-venv"
    py = venv / "bin" / "python"
    version = HF_PIN.split("==")[1]
    check = [str(py), "-c", f"import huggingface_hub as h, sys; sys.exit(h.__version__ != {version!r})"]
    if py.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return venv / "bin"
    print(f"[setup] installing {HF_PIN} into {venv}", flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    pip = subprocess.run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", HF_PIN],
                         capture_output=True, text=True)
    if pip.returncode != 0:
        sys.exit(f"could not install {HF_PIN} into {venv}:\n{pip.stderr[-2000:]}")
    subprocess.run(check, check=True)
    return venv / "bin"


def _unregister(repo: Path, env: dict) -> None:
    git("config", "--remove-section", "lfs.customtransfer.multipart", cwd=repo, env=env, check=False)


@dataclass(frozen=True)
class Contender:
    """One client configuration: how to register it, its PATH, and how to spot its processes."""

    name: str
    title: str
    register: Callable[[Path, dict], None]
    path_prefix: Path | None
    match: Callable[[list[str]], bool]
    max_object: int | None = None

    def env(self, base: dict) -> dict:
        if self.path_prefix is None:
            return dict(base)
        return {**base, "PATH": f"{self.path_prefix}{os.pathsep}{base['PATH']}"}

    def supports(self, sizes: list[int]) -> bool:
        return self.max_object is None or max(sizes) <= self.max_object


def ours(parallel: int) -> Contender:
    agent = VENV_BIN / "git-hf-agent"

    def register(repo: Path, env: dict) -> None:
        _unregister(repo, env)
        for key, value in (("path", str(agent)), ("args", f"--parallel {parallel}"),
                           ("concurrent", "true"), ("direction", "upload")):
            git("config", f"lfs.customtransfer.multipart.{key}", value, cwd=repo, env=env)

    return Contender("ours", f"git-hf-agent --parallel {parallel}", register, None,
                     lambda cmd: any(part.endswith("git-hf-agent") for part in cmd[:2]))


def hf(work: Path) -> Contender:
    bin_dir = ensure_hf_venv(work)

    def register(repo: Path, env: dict) -> None:
        _unregister(repo, env)
        subprocess.run([str(bin_dir / "hf"), "lfs-enable-largefiles", str(repo)], check=True,
                       env=env, capture_output=True)

    return Contender("hf", f"hf lfs-multipart-upload ({HF_PIN})", register, bin_dir,
                     lambda cmd: "lfs-multipart-upload" in cmd)


def basic() -> Contender:
    # The transfer runs inside git-lfs itself, so its process is "the agent".
    return Contender("basic", "git-lfs basic (no custom transfer)", _unregister, None,
                     lambda cmd: bool(cmd) and cmd[0].endswith("git-lfs") and "pre-push" in cmd,
                     max_object=MAX_BASIC)
