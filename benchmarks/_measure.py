"""Measure a client run: wall time, the agent processes' memory and CPU, all children's CPU.

git-lfs starts the transfer agent processes itself, several of them, and they
come and go during a push. :class:`AgentSampler` polls the process tree under
``git push`` every 50 ms, picks the agent processes by command line, and keeps:

- ``peak_rss_sum``: the largest sum of resident memory over the agent processes
  alive at one sample (what the machine had to hold at once);
- ``peak_rss_one``: the largest per-process high-water mark (``VmHWM`` from
  /proc, exact even between samples);
- ``cpu_s``: user+system CPU seconds summed over agent processes (the last
  sample of each process; at most one interval is missed per process).

``client_cpu_s`` of :func:`run_measured` comes from ``RUSAGE_CHILDREN`` and is
exact: git, git-lfs, the agents and anything else the command waited for.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

import psutil

INTERVAL = 0.05


def _hwm_bytes(pid: int) -> int:
    """The kernel's peak resident set size of ``pid`` (VmHWM), 0 when it is gone."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


@dataclass
class AgentSampler:
    """Polls ``root_pid`` and its descendants whose command line ``match`` accepts."""

    root_pid: int
    match: Callable[[list[str]], bool]
    peak_rss_sum: int = 0
    peak_rss_one: int = 0
    _cpu: dict = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    @property
    def cpu_s(self) -> float:
        return sum(self._cpu.values())

    @property
    def processes(self) -> int:
        return len(self._cpu)

    def start(self) -> "AgentSampler":
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join()

    def _loop(self) -> None:
        try:
            root = psutil.Process(self.root_pid)
        except psutil.Error:
            return
        while not self._stop.is_set():
            self.sample(root)
            self._stop.wait(INTERVAL)

    def sample(self, root: psutil.Process) -> None:
        """Take one sample of every matching descendant."""
        total = 0
        try:
            children = root.children(recursive=True)
        except psutil.Error:
            return
        for proc in [root, *children]:   # the root too: `git hf clone` runs the engine in its own process
            try:
                if not self.match(proc.cmdline()):
                    continue
                with proc.oneshot():
                    rss = proc.memory_info().rss
                    times = proc.cpu_times()
            except psutil.Error:
                continue
            total += rss
            self._cpu[proc.pid] = times.user + times.system
            self.peak_rss_one = max(self.peak_rss_one, _hwm_bytes(proc.pid), rss)
        self.peak_rss_sum = max(self.peak_rss_sum, total)


@dataclass
class Measured:
    """What one measured command did."""

    returncode: int
    wall_s: float
    client_cpu_s: float
    stderr: str
    sampler: AgentSampler | None


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_measured(cmd: list[str], *, cwd, env: dict, match: Callable[[list[str]], bool] | None,
                 timeout: float) -> Measured:
    """Run ``cmd`` to completion, sampling the agent processes that ``match`` selects."""
    cpu0 = _children_cpu()
    start = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, text=True, start_new_session=True)
    sampler = AgentSampler(proc.pid, match).start() if match else None
    try:
        _, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # git, git-lfs and the agents: the whole session
        _, stderr = proc.communicate()
        stderr += f"\n[benchmark] killed after {timeout:.0f} s"
    wall = time.monotonic() - start
    if sampler:
        sampler.stop()
    return Measured(proc.returncode, wall, _children_cpu() - cpu0, stderr, sampler)


class TransferClock:
    """The transfer phase as the server sees it, for any client: polled from ``/_local/stats``.

    Starts at the first LFS batch request and stops once the server has accepted
    every byte of the pushed objects (2xx part PUTs plus basic PUTs). It leaves
    out git's own work before the batch call and the completion step (whose cost
    is the server's: the real Hub's storage assembles parts on its side); so it
    isolates what the transfer agent is responsible for.
    """

    def __init__(self, stats: Callable[[], dict], total: int, interval: float = 0.1) -> None:
        self._stats, self._total, self._interval = stats, total, interval
        self.started: float | None = None
        self.done: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> "TransferClock":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def seconds(self) -> float | None:
        return self.done - self.started if self.started and self.done else None

    def _loop(self) -> None:
        while not self._stop.is_set() and self.done is None:
            try:
                stats = self._stats()
            except OSError:
                stats = {}
            now = time.monotonic()
            if self.started is None and stats.get("requests", {}).get("batch", 0) > 0:
                self.started = now - self._interval / 2
            accepted = sum(stats.get("part_bytes", {}).values()) + stats.get("bytes_received", {}).get("basic", 0)
            if self.started is not None and accepted >= self._total:
                self.done = now - self._interval / 2
            self._stop.wait(self._interval)
