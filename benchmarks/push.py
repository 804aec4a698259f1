"""Push benchmark: git-hf-agent vs huggingface_hub's ``hf lfs-multipart-upload`` vs git-lfs ``basic``.

Every contender pushes the same commit with real ``git push`` to a fresh
``git hf serve`` started with the same options (only the client differs), in
alternating order. Prints one table per scenario: MB/s, ratio to our agent,
agent peak RSS (sum over the agent processes alive at once, and the largest
single process), agent CPU seconds, client CPU seconds (git + git-lfs + agents),
and the bytes the server received (``/_local/stats``); then the "curl ceiling"
(parallel ``curl -T`` of the same parts) and PASS/FAIL for issue 5's targets.

    .venv/bin/python benchmarks/push.py                 # full run (< 25 min on 2 cores)
    .venv/bin/python benchmarks/push.py --quick         # small sizes, a smoke test
    .venv/bin/python benchmarks/push.py --scenarios big-capped,big-uncapped --contenders ours,hf

MB are 10^6 bytes, MiB/GiB powers of 1024. Needs ``./install.sh --dev`` (psutil)
and curl; installs the pinned huggingface_hub into ``benchmarks/.work/hf-venv``.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent)]  # the checkout: git_hf_agent and tests.support

import _contenders  # noqa: E402
from _ceiling import curl_ceiling  # noqa: E402
from _content import LfsFile, build_repo, stored_ok  # noqa: E402
from _measure import TransferClock, run_measured  # noqa: E402
from _report import machine_description, print_report  # noqa: E402

from git_hf_agent.agent.main import DEFAULT_PARALLEL  # noqa: E402
from git_hf_agent.localhub.process import ServeProcess  # noqa: E402
from git_hf_agent.units import parse_size  # noqa: E402
from tests.support import _DROP, TOKEN, USER, authed, create_repo, git, hermetic_env  # noqa: E402

GiB, MiB = 1024**3, 1024**2
CONTENT = {
    "full": {"big": [("big.bin", 6 * GiB)], "many": [(f"file-{i:02d}.bin", 300 * MiB) for i in range(20)],
             "chaos": [("chaos.bin", 256 * MiB)]},
    "quick": {"big": [("big.bin", 768 * MiB)], "many": [(f"file-{i:02d}.bin", 96 * MiB) for i in range(8)],
              "chaos": [("chaos.bin", 128 * MiB)]},
}
# Same for every contender and scenario: files above this go multipart for both agents.
THRESHOLD = {"full": "100MiB", "quick": "32MiB"}
SCENARIOS = {  # name: (content, capped, measure the curl ceiling)
    "big-capped": ("big", True, False),
    "many-capped": ("many", True, False),
    "big-uncapped": ("big", False, True),
    "many-uncapped": ("many", False, False),
    "chaos": ("chaos", False, False),
}
# The chaos scenario: one push per fault and multipart contender, default client options. Each rule
# fires once (":1:1"), the kind of blip a long push meets; a stall outlasts our agent's 60 s timeout.
CHAOS_FAULTS = ("part:500:1:1", "part:reset:1:1", "part:429:1:1", "part:no-etag:1:1", "complete:503:1:1",
                "part:stall:1:1")
STALL_SECONDS = "75"


@dataclass
class Row:
    """One measured run (a contender, or the curl ceiling, in one scenario)."""

    scenario: str
    contender: str
    ok: bool
    seconds: float
    bytes: int
    transfer_s: float = 0.0
    agent_rss_sum: int = 0
    agent_rss_one: int = 0
    agent_cpu_s: float = 0.0
    agent_procs: int = 0
    client_cpu_s: float = 0.0
    server_bytes: int = 0
    note: str = ""
    fault: str = ""

    @property
    def mbps(self) -> float:
        return self.bytes / self.seconds / 1e6 if self.ok and self.seconds else 0.0

    @property
    def transfer_mbps(self) -> float:
        return self.bytes / self.transfer_s / 1e6 if self.ok and self.transfer_s else 0.0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (768 MiB, 8 x 96 MiB): a smoke test")
    ap.add_argument("--scenarios", default=",".join(SCENARIOS), help=f"comma list of {', '.join(SCENARIOS)}")
    ap.add_argument("--contenders", default="ours,hf,basic", help="comma list of ours, hf, basic")
    ap.add_argument("--work-dir", type=Path, default=HERE / ".work", help="scratch space (default benchmarks/.work)")
    ap.add_argument("--parallel", type=int, default=DEFAULT_PARALLEL,
                    help=f"our agent's --parallel (parts in flight; default: the agent's own, {DEFAULT_PARALLEL})")
    ap.add_argument("--conn-rate", default="25MB", help="per-connection cap of the capped scenarios (default 25MB)")
    ap.add_argument("--chunk-size", default=None, help="server --chunk-size for every run (default: server's)")
    ap.add_argument("--rounds", type=int, default=1, help="repeat every run this many times (median reported)")
    ap.add_argument("--no-ceiling", action="store_true", help="skip the parallel curl ceiling")
    ap.add_argument("--hub-dir", type=Path, default=None,
                    help="where the local Hub keeps its state (default: the work dir; e.g. a tmpfs to take "
                         "the disk out of the measurement: needs about 2.2 x the largest push in free memory)")
    ap.add_argument("--timeout", type=float, default=1200, help="give up on one push after this many seconds")
    return ap.parse_args(argv)


class Bench:
    """Owns the work dir, the environment, the content repos and the runs."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.size_set = "quick" if args.quick else "full"
        self.work = args.work_dir.resolve()
        self.work.mkdir(parents=True, exist_ok=True)
        self._lock = _exclusive(self.work / ".lock")
        base = {k: v for k, v in os.environ.items() if k not in _DROP}
        self.env = {**base, **hermetic_env(self.work)}
        self.repos: dict[str, tuple[Path, list[LfsFile]]] = {}
        names = args.contenders.split(",")
        makers = {"ours": lambda: _contenders.ours(args.parallel), "hf": lambda: _contenders.hf(self.work),
                  "basic": _contenders.basic}
        self.contenders = [makers[n]() for n in names]
        self.rows: list[Row] = []
        self.hub_root = (args.hub_dir or self.work).resolve() / f"hub-{os.getpid()}"

    def server_args(self, capped: bool, fault: str = "") -> list[str]:
        # The content repo is built once and pushed to a fresh Hub per run: repos without the Hub's
        # initial commit take that history as is (the transfer measured is the same either way).
        args = ["--empty-repos", "--multipart-threshold", THRESHOLD[self.size_set]]
        if fault:
            args += ["--fault", fault, "--stall-seconds", STALL_SECONDS]
        if self.args.chunk_size:
            args += ["--chunk-size", self.args.chunk_size]
        if capped:
            args += ["--conn-rate", self.args.conn_rate]
        return args

    def content(self, kind: str) -> tuple[Path, list[LfsFile]]:
        if kind not in self.repos:
            files = CONTENT[self.size_set][kind]
            print(f"[setup] {kind} repo ({len(files)} x {files[0][1] / MiB:.0f} MiB)", flush=True)
            repo = self.work / f"repo-{self.size_set}-{kind}"
            self.repos[kind] = (repo, build_repo(repo, files, stamp=f"bench-{kind}", env=self.env))
        return self.repos[kind]

    def fresh_hub(self, capped: bool, fault: str = "") -> ServeProcess:
        root = self.hub_root
        shutil.rmtree(root, ignore_errors=True)
        return ServeProcess(*self.server_args(capped, fault), root=root, tokens={USER: TOKEN},
                            log_path=self.work / "serve.log")

    def push(self, scenario: str, contender: _contenders.Contender, fault: str = "") -> Row:
        kind, capped, _ = SCENARIOS[scenario]
        repo, objects = self.content(kind)
        total = sum(o.size for o in objects)
        if not contender.supports([o.size for o in objects]):
            return Row(scenario, contender.name, False, 0, total, note="n/a: object > 5 GiB needs multipart")
        with self.fresh_hub(capped, fault) as hub:
            url = create_repo(hub.url, f"{USER}/bench-{kind}")
            git("remote", "remove", "origin", cwd=repo, env=self.env, check=False)
            git("remote", "add", "origin", authed(url), cwd=repo, env=self.env)
            contender.register(repo, self.env)
            with TransferClock(hub.stats, total) as clock:
                measured = run_measured(["git", "push", "-q", "origin", "main"], cwd=repo, env=contender.env(self.env),
                                        match=contender.match, timeout=self.args.timeout)
            stats = hub.stats()
        bad = [o.name for o in objects if not stored_ok(hub.root, o)]
        ok = measured.returncode == 0 and not bad
        note = "" if ok else _failure_note(measured.returncode, measured.stderr, bad)
        s = measured.sampler
        return Row(scenario, contender.name, ok, measured.wall_s, total, clock.seconds or 0.0, s.peak_rss_sum,
                   s.peak_rss_one, s.cpu_s, s.processes, measured.client_cpu_s,
                   sum(stats.get("bytes_received", {}).values()), note, fault)

    def ceiling(self, scenario: str) -> Row:
        kind, capped, _ = SCENARIOS[scenario]
        _, objects = self.content(kind)
        total = sum(o.size for o in objects)
        with self.fresh_hub(capped) as hub:
            url = create_repo(hub.url, f"{USER}/bench-{kind}")
            try:
                seconds, transfer, cpu = curl_ceiling(f"{url}.git/info/lfs", USER, TOKEN, objects,
                                                      self.args.parallel, self.work / "slices")
                ok, note = all(stored_ok(hub.root, o) for o in objects), ""
            except Exception as exc:  # report, keep benchmarking the rest
                seconds, transfer, cpu, ok, note = 0.0, 0.0, 0.0, False, f"curl ceiling failed: {exc}"[:200]
            stats = hub.stats()
        return Row(scenario, f"curl x{self.args.parallel}", ok, seconds, total, transfer, client_cpu_s=cpu,
                   server_bytes=sum(stats.get("bytes_received", {}).values()), note=note)

    def plan(self) -> list[tuple[str, str | None, str]]:
        """(scenario, contender name or None for the curl ceiling, fault), contenders alternating."""
        runs = []
        names = [c.name for c in self.contenders]
        multipart = [n for n in names if n != "basic"]
        for rnd in range(self.args.rounds):
            for i, scenario in enumerate(self.args.scenarios.split(",")):
                if scenario == "chaos":
                    for j, fault in enumerate(CHAOS_FAULTS):
                        shift = (i + j + rnd) % max(1, len(multipart))
                        runs += [(scenario, n, fault) for n in multipart[shift:] + multipart[:shift]]
                    continue
                shift = (i + rnd) % len(names)
                runs += [(scenario, n, "") for n in names[shift:] + names[:shift]]
                if SCENARIOS[scenario][2] and not self.args.no_ceiling:
                    runs.append((scenario, None, ""))
        return runs

    def described(self) -> dict[str, str]:
        """Scenario name -> its files and the server options every contender got."""
        out = {}
        for name, (kind, capped, _) in SCENARIOS.items():
            files = CONTENT[self.size_set][kind]
            fault = "ENDPOINT:KIND:1:1" if name == "chaos" else ""
            out[name] = (f"{len(files)} x {files[0][1] / MiB:,.0f} MiB; "
                         f"`git hf serve {' '.join(self.server_args(capped, fault))}`")
        return out

    def run(self) -> None:
        by_name = {c.name: c for c in self.contenders}
        runs = self.plan()
        for n, (scenario, name, fault) in enumerate(runs, 1):
            label = (name or "curl ceiling") + (f" with --fault {fault}" if fault else "")
            print(f"[run {n}/{len(runs)}] {scenario}: {label} ...", end=" ", flush=True)
            row = self.ceiling(scenario) if name is None else self.push(scenario, by_name[name], fault)
            self.rows.append(row)
            status = f"{row.mbps:.1f} MB/s in {row.seconds:.1f} s" if row.ok else f"FAILED {row.note}"
            print(status, flush=True)


def _exclusive(path: Path):
    """Hold an exclusive lock on ``path`` for the process's life: two benchmarks at once would
    share the work dir and the two cores, and measure each other."""
    fh = open(path, "a+")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.seek(0)
        sys.exit(f"another benchmark (pid {fh.read().strip() or '?'}) is running in {path.parent}; "
                 "wait for it to finish: two at once measure each other")
    fh.seek(0)
    fh.truncate()
    fh.write(str(os.getpid()))
    fh.flush()
    return fh


def _failure_note(code: int, stderr: str, bad: list[str]) -> str:
    lines = [ln for ln in stderr.strip().splitlines() if ln.strip()]
    missing = f"; server copy missing or different: {', '.join(bad[:3])}" + (" ..." if len(bad) > 3 else "")
    # " / " joins the lines: the note lands in a Markdown table cell, where "|" would split it.
    return (f"exit {code}: " + " / ".join(lines[-3:])[:300] + (missing if bad and code == 0 else "")).strip()


def median_rows(rows: list[Row]) -> list[Row]:
    """One row per (scenario, contender): the run with the median MB/s (all rounds kept in JSON)."""
    groups: dict[tuple[str, str], list[Row]] = {}
    for row in rows:
        groups.setdefault((row.scenario, row.contender, row.fault), []).append(row)
    out = []
    for group in groups.values():
        ranked = sorted(group, key=lambda r: r.mbps)
        pick = ranked[len(ranked) // 2]
        if len(group) > 1:
            pick.note = (pick.note + f" median of {len(group)}: "
                         + ", ".join(f"{r.mbps:.0f}" for r in group)).strip()
        out.append(pick)
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    for scenario in args.scenarios.split(","):
        if scenario not in SCENARIOS:
            sys.exit(f"unknown scenario {scenario!r}; choose from {', '.join(SCENARIOS)}")
    if shutil.which("curl") is None and not args.no_ceiling:
        sys.exit("curl is needed for the ceiling (apt-get install curl), or pass --no-ceiling")
    started = time.time()
    bench = Bench(args)
    machine = machine_description() | {"local Hub state": str(bench.hub_root.parent)}
    try:
        bench.run()
    finally:
        shutil.rmtree(bench.hub_root, ignore_errors=True)
    rows = median_rows(bench.rows)
    cap = parse_size(args.conn_rate)
    print()
    failed = print_report(rows, machine, args, cap, time.time() - started, bench.described())
    out = bench.work / "last-run.json"
    out.write_text(json.dumps({"args": vars(args) | {"work_dir": str(args.work_dir)}, "machine": machine,
                               "runs": [asdict(r) for r in bench.rows]}, indent=1))
    print(f"\n(raw figures: {out})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
