"""Measure git-hf-agent start-up: from process start to the ``{}`` reply to ``init``.

git-lfs starts up to ``lfs.concurrenttransfers`` agent processes per push and
waits for each one's ``{}``, so this latency is paid on every push. Target
(issue 3): <= 150 ms. The agent answers before importing requests/tenacity.

Usage: ``.venv/bin/python benchmarks/agent_startup.py [--runs 30] [--agent PATH]``.
Prints the median, 90th percentile and maximum, the bare interpreter's start-up
for comparison, and PASS/FAIL against the target (median).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

INIT = json.dumps({"event": "init", "operation": "upload", "remote": "origin",
                   "concurrent": True, "concurrenttransfers": 8}) + "\n"
TARGET_MS = 150.0


def agent_path() -> str:
    local = os.path.join(os.path.dirname(sys.executable), "git-hf-agent")
    return local if os.path.exists(local) else (shutil.which("git-hf-agent") or "git-hf-agent")


def time_to_reply(cmd: list[str], cwd: str) -> float:
    """Milliseconds from spawning ``cmd`` to reading its first stdout line after sending init."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    proc.stdin.write(INIT.encode())
    proc.stdin.flush()
    line = proc.stdout.readline()
    elapsed = (time.perf_counter() - start) * 1000
    proc.stdin.write(b'{"event":"terminate"}\n')
    proc.stdin.close()
    proc.wait(timeout=30)
    if json.loads(line) != {}:
        raise SystemExit(f"unexpected init reply: {line!r}")
    return elapsed


def time_bare_python() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return (time.perf_counter() - start) * 1000


def summary(samples: list[float]) -> str:
    ordered = sorted(samples)
    p90 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]
    return f"median {statistics.median(ordered):6.1f} ms   p90 {p90:6.1f} ms   max {ordered[-1]:6.1f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--agent", default=agent_path())
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="agent-startup-") as repo:
        subprocess.run(["git", "init", "-q", repo], check=True)
        log = os.path.join(repo, "agent.jsonl")
        time_to_reply([args.agent, "--log", log], repo)   # warm the page cache
        agent = [time_to_reply([args.agent, "--log", log], repo) for _ in range(args.runs)]
    bare = [time_bare_python() for _ in range(max(5, args.runs // 3))]
    median = statistics.median(agent)
    print(f"git-hf-agent start-up to {{}} ({args.runs} runs, {os.cpu_count()} CPUs): {summary(agent)}")
    print(f"bare `python -c pass` for comparison:          {summary(bare)}")
    verdict = "PASS" if median <= TARGET_MS else "FAIL"
    print(f"target <= {TARGET_MS:.0f} ms (median): {verdict}")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
