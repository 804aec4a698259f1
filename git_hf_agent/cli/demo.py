"""``git hf demo [--size 6GiB] [--keep]``: the whole round trip on an embedded local Hub, end to end.

Starts ``git hf serve`` (with a throwaway token), creates a repo, clones it with
``git hf clone``, writes a sparse file of ``--size`` (a few random bytes make its
oid unique), runs ``git hf commit`` and ``git hf push`` (git-lfs progress shown,
verify included), checks the object on the server's disk, and prints a summary
with figures from the server's ``/_local/stats``. This is the README's main
command, so it must work on a fresh machine: every child runs with a private
``GIT_CONFIG_GLOBAL`` (the user's global config is never read or written), an
explicit identity, ``HF_ENDPOINT``/``HF_TOKEN`` pointing at the local Hub, and no
terminal prompts. Everything lives in one temp directory, removed unless ``--keep``.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click

from git_hf_agent.errors import HfError
from git_hf_agent.gitrepo import GitRepo, git_lfs_version
from git_hf_agent.hubconf import RepoId
from git_hf_agent.redact import redact_text
from git_hf_agent.units import format_size, parse_size

REPO = RepoId("demo", "huge-file")
USER = "demo"
# Objects above this go through the multipart agent on the demo Hub (the real Hub's threshold is not public).
MULTIPART_THRESHOLD = "10MiB"
DISK_FACTOR = 3  # git-lfs's copy in .git/lfs/objects + the Hub's parts + the assembled object


def _identity() -> dict[str, str]:
    """The user's git identity when configured (read, never written), else a demo one."""
    def get(key: str) -> str:
        proc = subprocess.run(["git", "config", "--get", key], capture_output=True, text=True)
        return proc.stdout.strip() if proc.returncode == 0 else ""
    name, email = get("user.name") or "git hf demo", get("user.email") or "demo@localhost"
    return {f"GIT_{who}_{what}": value for who in ("AUTHOR", "COMMITTER")
            for what, value in (("NAME", name), ("EMAIL", email))}


def demo_env(work: Path, hub_url: str, token: str) -> dict[str, str]:
    """Environment for every child: sealed git config, the local Hub, the demo token, no prompts."""
    gitconfig = work / "gitconfig"
    gitconfig.touch()
    venv_bin = os.path.dirname(sys.executable)
    env = {k: v for k, v in os.environ.items() if k not in ("HUGGING_FACE_HUB_TOKEN", "HF_TOKEN_PATH", "GIT_DIR", "GIT_WORK_TREE")}
    env.update(_identity())
    env.update({
        "GIT_CONFIG_GLOBAL": str(gitconfig), "GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0",
        "HF_ENDPOINT": hub_url, "HF_TOKEN": token, "HF_HUB_DISABLE_XET": "1", "HF_HUB_DISABLE_TELEMETRY": "1",
        "PATH": venv_bin + os.pathsep + env.get("PATH", ""),
    })
    return env


def _git_hf(args: list[str], env: dict[str, str], cwd: Path, step: str) -> float:
    """Run ``git hf ARGS`` in a child with its output shown; return seconds taken; HfError naming ``step``."""
    click.secho(f"==> git hf {' '.join(args)}", bold=True, err=True)
    start = time.monotonic()
    code = subprocess.run([sys.executable, "-m", "git_hf_agent", *args], cwd=cwd, env=env).returncode
    if code != 0:
        raise HfError(f"demo failed at `{step}` (exit {code}; its message is above)",
                      "run `git hf doctor`; re-run the demo with --keep to inspect the repo and the Hub's log")
    return time.monotonic() - start


def _write_sparse(path: Path, size: int) -> None:
    """A sparse file of ``size`` bytes with random stamps at the start, middle and end (unique oid)."""
    stamp = secrets.token_bytes(32)
    with open(path, "wb") as fh:
        fh.truncate(size)
        for offset in sorted({0, max(0, size // 2 - 16), max(0, size - len(stamp))}):
            fh.seek(offset)
            fh.write(stamp[: max(0, min(len(stamp), size - offset))])


def _check_disk(work: Path, size: int) -> None:
    free = shutil.disk_usage(work).free
    if free < DISK_FACTOR * size + 256 * 1024**2:
        raise HfError(f"the demo needs about {format_size(DISK_FACTOR * size)} free in {work} "
                      f"(git-lfs's copy, the Hub's parts and the stored object); {format_size(free)} is free",
                      "pass a smaller --size, or point TMPDIR to a bigger disk")


def _summary(hub, clone: Path, name: str, size: int, push_seconds: float) -> list[str]:
    """The closing figures: sizes and speed from our timing, parts and bytes from the Hub's own stats."""
    repo = GitRepo(clone)
    files, _ = repo.tree_files(repo.commit("HEAD"))
    pointer = next(repo.pointer(b.oid) for b in files if b.path == name)
    stored = hub.root / "lfs" / "objects" / pointer.oid[:2] / pointer.oid[2:4] / pointer.oid
    on_disk = stored.stat().st_size if stored.exists() else None
    stats = hub.stats()
    received = stats.get("bytes_received", {})
    parts = stats.get("part_puts", 0)
    leaked = sum(stats.get("auth_headers_seen", {}).get(k, 0) for k in ("part", "basic", "complete"))
    rate = size / push_seconds / 1e6 if push_seconds > 0 else 0.0
    transfer = (f"multipart, {parts} part upload{'s' * (parts != 1)}, {format_size(received.get('part', 0))} received"
                if parts else f"single PUT, {format_size(received.get('basic', 0))} received")
    verified = on_disk == size
    return [
        f"file      {name}: {format_size(size)} ({size} bytes), LFS oid sha256:{pointer.oid[:16]}…",
        f"push      {push_seconds:.1f} s, {rate:.0f} MB/s (check + git push + verify)",
        f"transfer  {transfer}; completions {stats.get('completions', 0)}, objects stored {stats.get('objects_stored', 0)}",
        f"security  Authorization headers sent to presigned URLs: {leaked}",
        f"verified  {'yes' if verified else 'NO'}: Hub tree and LFS storage checked by `git hf verify`; "
        f"server copy {format_size(on_disk) if on_disk is not None else 'missing'} (sha256 checked at completion)",
    ]


def _run_demo(work: Path, size: int) -> list[str]:
    from git_hf_agent import hubapi
    from git_hf_agent.localhub.process import ServeProcess

    token = "hf_" + secrets.token_hex(20)
    click.secho(f"==> starting the local Hub in {work / 'hub'}", bold=True, err=True)
    try:
        server = ServeProcess("--multipart-threshold", MULTIPART_THRESHOLD, root=work / "hub", tokens={USER: token})
    except RuntimeError as exc:
        raise HfError(f"the local Hub did not start: {redact_text(str(exc), token)}",
                      "run `git hf serve` to see why (a broken install: re-run ./install.sh)") from None
    with server as hub:
        try:
            env = demo_env(work, hub.url, token)
            click.echo(f"    local Hub at {hub.url}", err=True)
            hubapi.create_repo(REPO, endpoint=hub.url, token=token, exist_ok=True)
            click.echo(f"    created {REPO.repo_id}", err=True)
            clone = work / REPO.name
            _git_hf(["clone", "--lazy", REPO.repo_id, str(clone)], env, work, "git hf clone")
            name = f"model-{format_size(size).replace(' ', '').replace('.0', '')}.bin"
            _write_sparse(clone / name, size)
            click.echo(f"    wrote {name}: {format_size(size)} (sparse)", err=True)
            _git_hf(["commit", "-m", f"Add {name} (git hf demo)"], env, clone, "git hf commit")
            seconds = _git_hf(["push"], env, clone, "git hf push")
            return _summary(hub, clone, name, size, seconds)
        except BaseException:
            log = hub.log_path.read_text(errors="replace")[-2000:] if hub.log_path.exists() else ""
            if log:
                click.echo(f"--- last lines of the local Hub's log ---\n{redact_text(log, token)}", err=True)
            raise


@click.command("demo")
@click.option("--size", default="6GiB", show_default=True, help="Size of the file to push (sparse; e.g. 200MiB, 6GiB).")
@click.option("--keep", is_flag=True, help="Keep the repo and the Hub's storage, and print where they are.")
def cli(size: str, keep: bool) -> None:
    """Push a huge file to an embedded local Hub and verify it, end to end."""
    try:
        nbytes = parse_size(size)
    except ValueError as exc:
        raise HfError(str(exc), "pass e.g. --size 6GiB") from None
    if nbytes < 1:
        raise HfError("--size must be at least 1 byte", "pass e.g. --size 6GiB")
    if git_lfs_version() is None:
        raise HfError("git-lfs is not installed", "run ./install.sh (or `apt-get install git-lfs`), then retry")
    work = Path(tempfile.mkdtemp(prefix="git-hf-demo-"))
    try:
        _check_disk(work, nbytes)
        lines = _run_demo(work, nbytes)
    finally:
        if keep:
            click.echo(f"kept: repo {work / REPO.name}, Hub storage {work / 'hub'} "
                       f"(serve it again: `git hf serve --root {work / 'hub'}`)", err=True)
        else:
            shutil.rmtree(work, ignore_errors=True)
    click.secho("git hf demo: pushed and verified" if lines[-1].startswith("verified  yes") else "git hf demo: NOT verified",
                bold=True)
    for line in lines:
        click.echo(f"  {line}")
    if not lines[-1].startswith("verified  yes"):
        raise HfError("the object on the local Hub does not match the pushed file", "re-run with --keep and inspect the Hub's log")
