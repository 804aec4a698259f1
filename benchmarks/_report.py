"""Print the benchmark's tables (Markdown, pasteable into docs/benchmarks.md) and issue 5's targets."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

MB = 1e6
RSS_TARGET = 64 * MB


def _first_line(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.splitlines()[0].strip()
    except (OSError, IndexError, subprocess.SubprocessError):
        return "?"


def machine_description() -> dict:
    """CPU, memory, OS and tool versions, and the load when the run started."""
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next((ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")), "?")
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    return {
        "cpu": f"{os.cpu_count()} x {cpu}", "memory": f"{mem:.1f} GiB",
        "os": f"{platform.system()} {platform.release()}", "python": sys.version.split()[0],
        "git": _first_line(["git", "--version"]), "git-lfs": _first_line(["git", "lfs", "version"]),
        "curl": _first_line(["curl", "--version"]), "load at start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def _mb(n: float) -> str:
    return f"{n / MB:,.0f} MB" if n else "-"


def _table(rows, ours) -> None:
    print("| contender | MB/s push | x ours | push s | MB/s transfer | x ours | transfer s "
          "| agent peak RSS sum / one process | agent procs | agent CPU s | client CPU s | server received | result |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        ratio = _ratio(r.mbps, ours.mbps if ours else 0)
        tratio = _ratio(r.transfer_mbps, ours.transfer_mbps if ours else 0)
        rss = f"{_mb(r.agent_rss_sum)} / {_mb(r.agent_rss_one)}" if r.agent_procs else "-"
        result = "ok (sha256 verified)" if r.ok else (r.note or "failed")
        print(f"| {r.contender} | {r.mbps:.1f} | {ratio} | {r.seconds:.1f} | {r.transfer_mbps:.1f} | {tratio} "
              f"| {r.transfer_s:.1f} | {rss} | {r.agent_procs or '-'} | {r.agent_cpu_s:.1f} | {r.client_cpu_s:.1f} "
              f"| {_mb(r.server_bytes)} | {result} |")


def _chaos_table(rows) -> None:
    """One line per injected fault: did each contender's push land (sha256 verified), and how long it took."""
    names = list(dict.fromkeys(r.contender for r in rows))
    print("| fault (fires once) | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for fault in dict.fromkeys(r.fault for r in rows):
        cells = []
        for name in names:
            r = next((x for x in rows if x.fault == fault and x.contender == name), None)
            if r is None:
                cells.append("-")
            elif r.ok:
                cells.append(f"ok in {r.seconds:.1f} s (sha256 verified)")
            else:
                cells.append(f"FAILED after {r.seconds:.1f} s: {r.note[:160]}")
        print(f"| `{fault}` | " + " | ".join(cells) + " |")


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if a and b else "-"


def _check(name: str, num, den, factor: float, figure: str) -> tuple[str, bool | None, str]:
    """Target ``num >= factor * den`` on both measures (push wall clock, transfer phase)."""
    if num is None or den is None or not num.ok or not den.ok:
        return name, None, "not measured (or a run failed)"
    results, texts = [], []
    for label, attr in (("push", "mbps"), ("transfer", "transfer_mbps")):
        a = getattr(num, attr)
        b = getattr(den, attr)
        if not a or not b:
            texts.append(f"{label}: not measured")
            continue
        results.append(a >= factor * b)
        texts.append(f"{label}: {a:.1f} / {b:.1f} = {a / b:.3f}{figure} ({'met' if results[-1] else 'missed'})")
    passed = all(results) if results else None
    return name, passed, "; ".join(texts)


class _Const:
    """A fixed figure (the parts x cap ceiling) usable where a Row is expected."""

    ok = True

    def __init__(self, value: float) -> None:
        self.mbps = self.transfer_mbps = value


def _targets(rows, args, cap: int) -> list[tuple[str, bool | None, str]]:
    """(target, passed or None when not measured, figures) for each of issue 5's targets."""
    get = {(r.scenario, r.contender): r for r in rows}
    ours_capped, hf_capped = get.get(("big-capped", "ours")), get.get(("big-capped", "hf"))
    ours_free, curl = get.get(("big-uncapped", "ours")), get.get(("big-uncapped", f"curl x{args.parallel}"))
    ceiling = args.parallel * cap / MB
    out = [
        _check("big-capped: ours >= 8x hf", ours_capped, hf_capped, 8, "x"),
        _check(f"big-capped: ours >= 0.85 x ({args.parallel} parts x {cap / MB:.0f} MB/s = {ceiling:.0f} MB/s)",
               ours_capped, _Const(ceiling), 0.85, ""),
        _check("big-uncapped: ours >= 0.8 x parallel curl", ours_free, curl, 0.8, ""),
    ]
    mine = [r for r in rows if r.contender == "ours" and r.agent_procs]
    if mine:
        one = max(r.agent_rss_one for r in mine)
        total = max(r.agent_rss_sum for r in mine)
        out.append(("agent peak RSS <= 64 MB (per agent process)", one <= RSS_TARGET,
                    f"max one process {one / MB:.1f} MB; max sum over processes alive at once {total / MB:.1f} MB"))
    return out


def print_report(rows, machine: dict, args, cap: int, elapsed: float, described: dict[str, str]) -> bool:
    """Print machine, tables and targets; returns True when a measured target failed."""
    print("## Machine\n")
    for key, value in machine.items():
        print(f"- {key}: {value}")
    print(f"- load at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"- total benchmark time: {elapsed / 60:.1f} min")
    print("\nMB/s push: bytes / wall time of `git push` (what a user waits). MB/s transfer: bytes / time from "
          "the first LFS batch request to the last object byte accepted by the server (/_local/stats polled "
          "every 0.1 s; leaves out git's own work before the batch call and the completion step). "
          "Agent = the transfer processes git-lfs starts (for basic: git-lfs itself). MB = 10^6 bytes.")
    scenarios = list(dict.fromkeys(r.scenario for r in rows))
    for scenario in scenarios:
        group = [r for r in rows if r.scenario == scenario]
        ours = next((r for r in group if r.contender == "ours"), None)
        print(f"\n### {scenario}: {described[scenario]}\n")
        if scenario == "chaos":
            _chaos_table(group)
        else:
            _table(group, ours)
    print("\n## Targets (issue 5)\n")
    failed = False
    for name, passed, figures in _targets(rows, args, cap):
        word = {True: "PASS", False: "FAIL", None: "NOT MEASURED"}[passed]  # PASS = met on both measures
        failed |= passed is False
        print(f"- **{word}** {name}: {figures}")
    return failed
