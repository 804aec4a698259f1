"""Scale figures for `git hf check` and `git hf verify` on 100,000 files (a script, not a test).

Run: .venv/bin/python -m tests.cli_content.scale_100k [N]

Builds (git fast-import) a commit of N distinct LFS pointers in N/1000 folders, puts it
straight into a local Hub's bare repo (a local push around its pre-receive check, so the Hub's git tree has every
path while its LFS storage has none of the objects), then times `git hf check` and
`git hf verify` (which must report all N as missing, in batched requests) and prints the
figures with the Hub's request counts.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from git_hf_agent.lfspointer import Pointer
from git_hf_agent.localhub.process import ServeProcess
from tests.support import TOKEN, USER, create_repo, hermetic_env


def fast_import_stream(n: int) -> bytes:
    out = []
    for i in range(n):
        text = Pointer(hashlib.sha256(str(i).encode()).hexdigest(), 1000 + i).text().encode()
        out.append(b"blob\nmark :%d\ndata %d\n%s\n" % (i + 1, len(text), text))
    out.append(b"commit refs/heads/main\ncommitter s <s@example.com> 0 +0000\ndata 5\nscale\n")
    out.extend(b"M 100644 :%d d%03d/f%06d.bin\n" % (i + 1, i // 1000, i) for i in range(n))
    return b"".join(out)


def timed(cmd: list[str], cwd: Path, env: dict) -> tuple[float, subprocess.CompletedProcess]:
    start = time.monotonic()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    return time.monotonic() - start, proc


def main(n: int) -> None:
    base = Path(tempfile.mkdtemp(prefix="scale-"))
    env = {**hermetic_env(base), "PATH": hermetic_env(base)["PATH"]}
    with ServeProcess("--empty-repos", root=base / "hub", tokens={USER: TOKEN}) as hub:  # history of its own
        env.update(HF_ENDPOINT=hub.url, HF_TOKEN=TOKEN)
        create_repo(hub.url, "alice/scale")
        repo = base / "repo"
        subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True, env=env)
        subprocess.run(["git", "fast-import", "--quiet"], cwd=repo, input=fast_import_stream(n), check=True, env=env)
        subprocess.run(["git", "lfs", "install", "--local"], cwd=repo, check=True, env=env, capture_output=True)
        bare = hub.root / "repos" / "models" / "alice" / "scale.git"
        # Straight into the bare repo, around the Hub's pre-receive check (the objects are not uploaded).
        no_hooks = "--receive-pack=git -c core.hooksPath=/nonexistent receive-pack"
        pushed = subprocess.run(["git", "push", "-q", "--no-verify", no_hooks, str(bare), "main"],
                                cwd=repo, env=env, capture_output=True, text=True)
        assert pushed.returncode == 0, pushed.stderr[-3000:]
        subprocess.run(["git", "remote", "add", "origin", f"{hub.url}/alice/scale"], cwd=repo, check=True, env=env)
        hf = [sys.executable, "-m", "git_hf_agent"]
        seconds, proc = timed([*hf, "check", "--json"], repo, env)
        report = json.loads(proc.stdout)
        print(f"git hf check:  {report['tree_files']} files, {report['files_checked']} checked, {seconds:.2f} s")
        before = hub.stats()["requests"]
        seconds, proc = timed([*hf, "verify", "--json"], repo, env)
        after = hub.stats()["requests"]
        summary = json.loads(proc.stdout)["summary"]
        calls = {k: after.get(k, 0) - before.get(k, 0) for k in ("api", "batch")}
        print(f"git hf verify: {n} pointers, {seconds:.2f} s, exit {proc.returncode}, {summary}, Hub requests {calls}")
    subprocess.run(["rm", "-rf", str(base)])


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
