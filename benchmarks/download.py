"""Download benchmark: plain ``git clone`` through git-hf-agent vs git-lfs ``basic``, ``hf download``, hf_transfer.

Content is pushed once to a local Hub (``git hf serve``); every contender then
downloads the same objects from a Hub restarted on the same state with the
scenario's options (``--conn-rate`` for the capped runs, ``--latency-ms`` for the
small files), in alternating order:

- ``ours``: plain ``git clone`` after ``git hf init --global --endpoint <hub>``
  (LFS objects through git-hf-agent's parallel ranged GETs, default options);
- ``hfclone``: ``git hf clone URL DIR`` (the agent's engine in-process, objects put in
  place without git-lfs's second hash, copied into the work tree by the kernel and
  recorded in git's index);
- ``basic``: plain ``git clone`` with git-lfs alone (no init);
- ``hf``: ``hf download REPO --local-dir DIR`` from huggingface_hub 2.4 with Xet off;
- ``hf_transfer``: ``hf_transfer.download`` (PyPI ``hf-transfer``) of each object's
  LFS download URL with as many connections as our agent (``--parallel``) and the
  same range size, objects 8 at a time as git-lfs runs 8 agent processes;
- ``hf_transfer_checked``: the same, each object's sha256 then checked by its worker
  (hf_transfer checks nothing; our agent and git-lfs check every object).

Objects are dense (a random 1 MiB block repeated, plus a stamp): every byte is
written by every contender. A git clone does more than the others: git-lfs
hashes each object again and checks it out into the work tree; the "agent s"
column gives our agent's own time per object for that reason.

Plus the small-files case: 2,000 LFS files of 4 KiB with ``--latency-ms 50``,
``git push`` and ``git clone``, ours vs basic.

    .venv/bin/python benchmarks/download.py                       # everything (~30 min on 2 idle cores)
    .venv/bin/python benchmarks/download.py --quick               # small sizes, a smoke test
    .venv/bin/python benchmarks/download.py --scenarios big-capped --contenders ours,hf_transfer

The pushed content stays in ``<work dir>/dl-hub`` for the next run (``--clean``
removes it). Benchmark-only packages (huggingface_hub 2.4.0, hf-transfer) go into
``benchmarks/.work/dl-venv``; the project's own dependencies are not touched.
MB are 10^6 bytes, MiB/GiB powers of 1024.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

from _measure import run_measured  # noqa: E402
from _report import machine_description  # noqa: E402

from git_hf_agent.agent.main import DEFAULT_PARALLEL  # noqa: E402
from git_hf_agent.agent.download import DEFAULT_RANGE_SIZE  # noqa: E402
from git_hf_agent.localhub.process import ServeProcess  # noqa: E402
from git_hf_agent.units import parse_size  # noqa: E402
from tests.support import _DROP, TOKEN, USER, authed, create_repo, git, hermetic_env  # noqa: E402

VENV_BIN = Path(sys.executable).parent

GiB, MiB, KiB = 1024**3, 1024**2, 1024
PINS = ("huggingface_hub==2.4.0", "hf-transfer==0.1.9")
LFS_PROCESSES = 8   # git-lfs's lfs.concurrenttransfers default: objects downloaded at once
CONTENT = {
    "full": {"big": [("big.bin", 6 * GiB)], "many": [(f"f{i:02d}.bin", 300 * MiB) for i in range(20)],
             "small": [(f"s{i:04d}.bin", 4 * KiB) for i in range(2000)]},
    "quick": {"big": [("big.bin", 512 * MiB)], "many": [(f"f{i:02d}.bin", 48 * MiB) for i in range(8)],
              "small": [(f"s{i:04d}.bin", 4 * KiB) for i in range(200)]},
}
SCENARIOS = {  # name: (content, hub options)
    "big-capped": ("big", ["--conn-rate", "{cap}"]),
    "many-capped": ("many", ["--conn-rate", "{cap}"]),
    "big-uncapped": ("big", []),
    "many-uncapped": ("many", []),
    "small-latency": ("small", ["--latency-ms", "50"]),
}
CONTENDERS = ("ours", "hfclone", "basic", "hf", "hf_transfer", "hf_transfer_checked")
BY_OID = ("hf_transfer", "hf_transfer_checked")   # contenders that store objects under their oid


@dataclass
class Row:
    scenario: str
    contender: str
    op: str
    ok: bool
    seconds: float
    bytes: int
    agent_s: float = 0.0          # our agent's own time per object, summed over objects / processes
    objects_s: float = 0.0        # git clone: start until every LFS object is in .git/lfs/objects (before checkout)
    agent_rss_one: int = 0
    agent_cpu_s: float = 0.0
    client_cpu_s: float = 0.0
    note: str = ""

    @property
    def mbps(self) -> float:
        return self.bytes / self.seconds / 1e6 if self.ok and self.seconds else 0.0


def dense_file(path: Path, size: int, seed: str) -> str:
    """Write ``size`` bytes: a 1 MiB pseudo-random block (from ``seed``) repeated; returns the sha256."""
    block = b"".join(hashlib.sha256(f"{seed}/{i}".encode()).digest() for i in range(MiB // 32))
    sha = hashlib.sha256()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        left = size
        while left > 0:
            piece = block[:min(len(block), left)]
            fh.write(piece)
            sha.update(piece)
            left -= len(piece)
    return sha.hexdigest()


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.sizes = "quick" if args.quick else "full"
        self.work = args.work_dir.resolve()
        self.work.mkdir(parents=True, exist_ok=True)
        self.hub_root = self.work / "dl-hub"
        self.port = _free_port()
        self.base_env = {k: v for k, v in os.environ.items() if k not in _DROP}
        self.envs = {name: self._home(name) for name in ("setup", "ours", "basic", "hf")}
        self.venv = ensure_venv(self.work)
        self.rows: list[Row] = []
        self.files: dict[str, list[tuple[str, int, str]]] = {}

    def _home(self, name: str) -> dict:
        env = {**self.base_env, **hermetic_env(self.work / f"home-{name}")}
        env["HF_HUB_DISABLE_XET"] = "1"
        return env

    def hub(self, *extra: str) -> ServeProcess:
        return ServeProcess("--port", str(self.port), *extra, root=self.hub_root, tokens={USER: TOKEN},
                            log_path=self.work / "dl-serve.log")

    # -- setup: content pushed once -------------------------------------------------------
    def setup(self, kinds: set[str]) -> None:
        """Push the content once; a Hub state left by an earlier run with the same content is reused."""
        env = self.envs["setup"]
        git("lfs", "install", "--skip-repo", env=env)
        manifest = self.hub_root / "dl-manifest.json"
        try:
            known = json.loads(manifest.read_text())
        except (OSError, ValueError):
            known, _ = {}, shutil.rmtree(self.hub_root, ignore_errors=True)
        wanted = {k: CONTENT[self.sizes][k] for k in kinds}
        todo = [k for k in sorted(kinds) if known.get(k, {}).get("files") != [list(f) for f in wanted[k]]]
        if todo:
            with self.hub("--multipart-threshold", "100MiB") as hub:
                for kind in todo:
                    repo_name = f"dl-{kind}-{time.time_ns()}"
                    known[kind] = {"files": [list(f) for f in wanted[kind]], "repo": repo_name,
                                   "oids": self._push(hub, kind, repo_name, env)}
                    manifest.write_text(json.dumps(known))
        self.files = {k: [tuple(f) for f in known[k]["oids"]] for k in kinds}
        self.repo_names = {k: known[k].get("repo", f"dl-{k}") for k in kinds}
        for name in ("ours", "basic"):
            git("lfs", "install", "--skip-repo", env=self.envs[name])
        endpoint = f"http://127.0.0.1:{self.port}"
        init = subprocess.run([str(VENV_BIN / "git-hf"), "init", "--global", "--endpoint", endpoint],
                              env=self.envs["ours"], capture_output=True, text=True)
        if init.returncode != 0:
            sys.exit(f"git hf init --global failed: {init.stderr}")

    def _push(self, hub: ServeProcess, kind: str, repo_name: str, env: dict) -> list[tuple[str, int, str]]:
        files = CONTENT[self.sizes][kind]
        print(f"[setup] pushing {kind}: {len(files)} x {files[0][1] / MiB:,.2f} MiB", flush=True)
        url = create_repo(hub.url, f"{USER}/{repo_name}")
        repo = self.work / f"dl-src-{kind}"
        shutil.rmtree(repo, ignore_errors=True)
        git("clone", "-q", authed(url), str(repo), env=env)
        git("config", "lfs.customtransfer.multipart.path", str(VENV_BIN / "git-hf-agent"), cwd=repo, env=env)
        git("config", "lfs.customtransfer.multipart.direction", "upload", cwd=repo, env=env)
        git("lfs", "track", "*.bin", cwd=repo, env=env)
        out = []
        for name, size in files:
            oid = dense_file(repo / name, size, f"{kind}/{name}")
            out.append((name, size, oid))
        git("add", "-A", cwd=repo, env=env, timeout=3600)
        git("commit", "-q", "-m", kind, cwd=repo, env=env)
        git("push", "-q", "origin", "main", cwd=repo, env=env, timeout=3600)
        shutil.rmtree(repo, ignore_errors=True)   # the Hub keeps the objects; the source is not needed again
        return out

    # -- the contenders -------------------------------------------------------------------
    def run_one(self, scenario: str, contender: str) -> Row:
        kind, opts = SCENARIOS[scenario]
        files = self.files[kind]
        total = sum(size for _, size, _ in files)
        dest = self.work / "dl-dest"
        shutil.rmtree(dest, ignore_errors=True)
        opts = [o.format(cap=self.args.conn_rate) for o in opts]
        with self.hub(*opts) as hub:
            url = f"{hub.url}/{USER}/{self.repo_names[kind]}"
            if contender in ("ours", "basic", "hfclone"):
                row = self._clone(scenario, contender, url, dest, total, hub.url)
            elif contender == "hf":
                row = self._measure(scenario, contender, "download",
                                    [str(self.venv / "hf"), "download", f"{USER}/{self.repo_names[kind]}", "--local-dir", str(dest)],
                                    {**self.envs["hf"], "HF_ENDPOINT": hub.url, "HF_TOKEN": TOKEN,
                                     "HF_HUB_ENABLE_HF_TRANSFER": "0"}, total, match=None)
            else:
                row = self._hf_transfer(scenario, contender, hub, kind, dest, total)
        by_oid = contender in BY_OID
        bad = [name for name, _, oid in files if not _same(dest / "objects" / oid if by_oid else dest / name, oid)]
        if bad and row.ok:
            row.ok, row.note = False, f"wrong or missing content: {', '.join(bad[:3])}"
        shutil.rmtree(dest, ignore_errors=True)
        return row

    def _clone(self, scenario: str, contender: str, url: str, dest: Path, total: int, endpoint: str) -> Row:
        kind = SCENARIOS[scenario][0]
        watch = ObjectsWatch([dest / ".git" / "lfs" / "objects" / oid[:2] / oid[2:4] / oid for _, _, oid in self.files[kind]])
        cmd = ["git", "clone", "-q", url, str(dest)]
        if contender == "hfclone":
            cmd = [str(VENV_BIN / "git-hf"), "clone", url, str(dest), "--endpoint", endpoint]
        with watch:
            row = self._measure(scenario, contender, "clone", cmd, self.envs["ours" if contender == "hfclone" else contender],
                                total, match={"ours": _agent_match, "hfclone": _hfclone_match}.get(contender))
        row.objects_s = watch.seconds or 0.0
        if contender in ("ours", "hfclone"):
            row.agent_s = _agent_seconds(dest)
            log = dest / ".git" / "lfs" / "logs" / "git-hf-agent.jsonl"
            if log.exists():   # kept for a look after the run (the clone itself is removed)
                shutil.copy(log, self.work / f"dl-agent-{scenario}.jsonl")
        return row

    def _measure(self, scenario, contender, op, cmd, env, total, match, cwd=None) -> Row:
        m = run_measured(cmd, cwd=cwd or self.work, env=env, match=match, timeout=self.args.timeout)
        s = m.sampler
        note = "" if m.returncode == 0 else f"exit {m.returncode}: " + " / ".join(m.stderr.strip().splitlines()[-3:])[:300]
        if m.returncode != 0:
            (self.work / f"dl-stderr-{scenario}-{contender}.txt").write_text(m.stderr)
        return Row(scenario, contender, op, m.returncode == 0, m.wall_s, total, agent_rss_one=s.peak_rss_one if s else 0,
                   agent_cpu_s=s.cpu_s if s else 0.0, client_cpu_s=m.client_cpu_s, note=note)

    def _hf_transfer(self, scenario: str, contender: str, hub: ServeProcess, kind: str, dest: Path, total: int) -> Row:
        objects = [{"oid": oid, "size": size} for _, size, oid in self.files[kind]]
        spec = dest.parent / "dl-hf-transfer.json"
        spec.write_text(json.dumps({"batch": f"{hub.url}/{USER}/{self.repo_names[kind]}.git/info/lfs/objects/batch",
                                    "objects": objects, "dest": str(dest / "objects"),
                                    "connections": self.args.parallel, "chunk": DEFAULT_RANGE_SIZE,
                                    "processes": LFS_PROCESSES, "verify": contender == "hf_transfer_checked"}))
        return self._measure(scenario, contender, "download",
                             [str(self.venv / "python"), str(HERE / "_hf_transfer_get.py"), str(spec)],
                             self.envs["hf"], total, match=None)

    def push_small(self, contender: str) -> Row:
        """The small-files push: a fresh repo per run on a Hub with 50 ms latency."""
        files = CONTENT[self.sizes]["small"]
        total = sum(size for _, size in files)
        env = self.envs[contender]
        with self.hub("--latency-ms", "50") as hub:
            url = create_repo(hub.url, f"{USER}/push-{contender}-{time.time_ns()}")
            repo = self.work / "dl-push-small"
            shutil.rmtree(repo, ignore_errors=True)
            git("clone", "-q", authed(url), str(repo), env=env)
            git("lfs", "track", "*.bin", cwd=repo, env=env)
            for name, size in files:
                dense_file(repo / name, size, f"push-{contender}-{time.time_ns()}/{name}")
            git("add", "-A", cwd=repo, env=env, timeout=3600)
            git("commit", "-q", "-m", "small", cwd=repo, env=env)
            row = self._measure("small-latency", contender, "push", ["git", "push", "-q", "origin", "main"], env,
                                total, match=_agent_match if contender == "ours" else None, cwd=repo)
            stored = hub.stats()["objects_stored"]
        if stored < len(files) and row.ok:
            row.ok, row.note = False, f"server stored {stored} of {len(files)} objects"
        shutil.rmtree(repo, ignore_errors=True)
        return row

    def plan(self) -> list[tuple[str, str]]:
        runs = []
        names = self.args.contenders.split(",")
        for rnd in range(self.args.rounds):
            for i, scenario in enumerate(self.args.scenarios.split(",")):
                who = [n for n in names if n in ("ours", "basic", "hfclone")] if scenario == "small-latency" else names
                shift = (i + rnd) % len(who)
                runs += [(scenario, n) for n in who[shift:] + who[:shift]]
        return runs

    def run(self) -> None:
        runs = self.plan()
        for n, (scenario, name) in enumerate(runs, 1):
            ops = [("push", lambda: self.push_small(name))] if scenario == "small-latency" and name != "hfclone" else []
            ops.append(("download", lambda: self.run_one(scenario, name)))
            for op, fn in ops:
                print(f"[run {n}/{len(runs)}] {scenario}: {name} {op} ...", end=" ", flush=True)
                row = fn()
                self.rows.append(row)
                print(f"{row.mbps:.1f} MB/s in {row.seconds:.1f} s" if row.ok else f"FAILED {row.note}", flush=True)


class ObjectsWatch:
    """Seconds from entering until every path in ``paths`` exists (polled every 50 ms)."""

    def __init__(self, paths: list[Path]) -> None:
        self.paths, self.seconds = paths, None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> "ObjectsWatch":
        self._start = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        left = list(self.paths)
        while left and not self._stop.is_set():
            left = [p for p in left if not p.exists()]
            if not left:
                self.seconds = time.monotonic() - self._start
                return
            self._stop.wait(0.05)


def _agent_match(cmd: list[str]) -> bool:
    return any(part.endswith("git-hf-agent") for part in cmd[:2])


def _hfclone_match(cmd: list[str]) -> bool:
    return len(cmd) > 2 and any(part.endswith("git-hf") for part in cmd[:2]) and "clone" in cmd[:3]


def _same(path: Path, oid: str) -> bool:
    try:
        digest = hashlib.sha256()
        with open(path, "rb") as fh:
            while block := fh.read(8 << 20):
                digest.update(block)
        return digest.hexdigest() == oid
    except OSError:
        return False


def _agent_seconds(repo: Path) -> float:
    """Sum of our agent's per-object times from its log (wall time inside the agent)."""
    log = repo / ".git" / "lfs" / "logs" / "git-hf-agent.jsonl"
    total = 0.0
    if log.exists():
        for line in log.read_text().splitlines():
            event = json.loads(line)
            if event.get("event") == "object" and event.get("result") == "downloaded":
                total += event.get("elapsed_ms", 0) / 1000
    return total


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_venv(work: Path) -> Path:
    """``benchmarks/.work/dl-venv`` with the pinned benchmark-only packages; its bin directory."""
    venv = work / "dl-venv"
    py = venv / "bin" / "python"
    check = [str(py), "-c", "import huggingface_hub as h, hf_transfer, sys; sys.exit(h.__version__ != '2.4.0')"]
    if py.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return venv / "bin"
    print(f"[setup] installing {' '.join(PINS)} into {venv}", flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    pip = subprocess.run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", *PINS],
                         capture_output=True, text=True)
    if pip.returncode != 0:
        sys.exit(f"could not install {PINS} into {venv}:\n{pip.stderr[-2000:]}")
    return venv / "bin"


def report(rows: list[Row], args, started: float) -> None:
    machine = machine_description()
    print(f"\n## Download run ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(started))}, "
          f"{(time.time() - started) / 60:.1f} min)\n")
    print("Machine: " + "; ".join(f"{k} {v}" for k, v in machine.items()) + "\n")
    cap = parse_size(args.conn_rate)
    for scenario in dict.fromkeys(r.scenario for r in rows):
        kind, opts = SCENARIOS[scenario]
        files = CONTENT["quick" if args.quick else "full"][kind]
        shown = " ".join(o.format(cap=args.conn_rate) for o in opts) or "(no cap)"
        print(f"#### {scenario}: {len(files)} x {files[0][1] / MiB:,.2f} MiB; `git hf serve {shown}`\n")
        print("| contender | op | MB/s | x ours | s | objects in place s (MB/s) | agent s (in-agent) | peak RSS one agent "
              "| agent CPU s | client CPU s | CPU s / GiB | result |")
        print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
        for r in [r for r in rows if r.scenario == scenario]:
            ours = next((o for o in rows if o.scenario == scenario and o.op == r.op and o.contender == "ours"), None)
            ratio = f"{r.mbps / ours.mbps:.3f}" if ours and ours.mbps and r.ok else "-"
            cpu = r.agent_cpu_s if r.contender == "ours" else r.client_cpu_s
            per_gib = f"{cpu / (r.bytes / GiB):.2f}" if r.ok and r.bytes else "-"
            placed = f"{r.objects_s:.1f} ({r.bytes / r.objects_s / 1e6:.1f})" if r.objects_s else "-"
            result = "ok (sha256 checked)" if r.ok else r.note
            if r.contender == "ours":
                print(f"| {r.contender} | {r.op} | {r.mbps:.1f} | {ratio} | {r.seconds:.1f} | {placed} | {r.agent_s:.1f} | "
                      f"{r.agent_rss_one / 1e6:.0f} MB | {r.agent_cpu_s:.1f} | {r.client_cpu_s:.1f} | {per_gib} | {result} |")
            else:
                engine = f"{r.agent_s:.1f}" if r.agent_s else "-"   # hfclone: the engine ran inside git hf
                rss = f"{r.agent_rss_one / 1e6:.0f} MB (git hf)" if r.agent_rss_one else "-"
                print(f"| {r.contender} | {r.op} | {r.mbps:.1f} | {ratio} | {r.seconds:.1f} | {placed} | {engine} | {rss} | - | "
                      f"{r.client_cpu_s:.1f} | {per_gib} | {result} |")
        print()
    print("Targets (issue 11); 'ours' is plain git clone, 'hfclone' is git hf clone:")
    ceiling = args.parallel * cap / 1e6
    for who in ("ours", "hfclone"):
        _target(rows, "big-capped", lambda o, b: o.mbps >= 8 * b.mbps, "basic", f"{who} >= 8x git-lfs basic", who=who)
        big = next((r for r in rows if r.scenario == "big-capped" and r.contender == who and r.ok), None)
        if big:
            inside = big.bytes / big.agent_s / 1e6 if big.agent_s else 0.0
            print(f"- big-capped: {who} {big.mbps:.1f} MB/s wall, {inside:.1f} MB/s in the engine; ceiling "
                  f"{args.parallel} x {cap / 1e6:.0f} = {ceiling:.0f} MB/s: {'PASS' if big.mbps >= 0.9 * ceiling else 'FAIL'} "
                  f"wall >= 0.9 of ceiling ({big.mbps / ceiling:.3f}); in the engine {inside / ceiling:.3f}")
        for scenario in ("big-capped", "big-uncapped", "many-capped", "many-uncapped"):
            for peer in BY_OID:
                _target(rows, scenario, lambda o, t: o.mbps >= 0.9 * t.mbps, peer, f"{who} >= 0.9x {peer}", who=who)
    _plain_clone_floor(rows, ceiling * 1e6)
    for op in ("push", "clone"):
        for who in ("ours", "hfclone"):
            _target(rows, "small-latency", lambda o, b: o.seconds <= 1.2 * b.seconds, "basic",
                    f"{op}: {who} no slower than 1.2x basic", op=op, who=who)


def _plain_clone_floor(rows, ceiling_bps: float) -> None:
    """The fastest plain ``git clone`` could be at the ceiling, from the measured work git and git-lfs add.

    Outside the agent a clone spends ``objects_s - agent_s`` (git's own clone, git-lfs's
    second sha256 of each object, its rename) and ``seconds - objects_s`` (git's checkout
    through the smudge filter); no transfer agent can shorten either.
    """
    ours = next((r for r in rows if r.scenario == "big-capped" and r.contender == "ours" and r.ok and r.agent_s), None)
    basic = next((r for r in rows if r.scenario == "big-capped" and r.contender == "basic" and r.ok), None)
    if not (ours and basic and ours.objects_s):
        return
    transfer = ours.bytes / ceiling_bps
    lfs_after, checkout = ours.objects_s - ours.agent_s, ours.seconds - ours.objects_s
    floor = transfer + lfs_after + checkout
    print(f"- big-capped: plain git clone's floor: {transfer:.1f} s transfer at the full ceiling + {lfs_after:.1f} s "
          f"git and git-lfs outside the agent (their clone, git-lfs's second sha256) + {checkout:.1f} s git checkout "
          f"= {floor:.1f} s: at most {basic.seconds / floor:.1f}x git-lfs basic ({basic.seconds:.1f} s) "
          f"with this git-lfs, whatever the agent does")


def _target(rows, scenario, ok, other, text, op=None, who="ours") -> None:
    ours = next((r for r in rows if r.scenario == scenario and r.contender == who and r.ok and (op is None or r.op == op)), None)
    them = next((r for r in rows if r.scenario == scenario and r.contender == other and r.ok and (op is None or r.op == op)), None)
    if ours and them:
        print(f"- {scenario}: {'PASS' if ok(ours, them) else 'FAIL'} {text} "
              f"({who} {ours.mbps:.1f} MB/s in {ours.seconds:.1f} s, {other} {them.mbps:.1f} MB/s in {them.seconds:.1f} s)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--scenarios", default=",".join(SCENARIOS))
    ap.add_argument("--contenders", default=",".join(CONTENDERS))
    ap.add_argument("--conn-rate", default="25MB")
    ap.add_argument("--parallel", type=int, default=DEFAULT_PARALLEL, help="our --parallel and hf_transfer's max_files")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=1200)
    ap.add_argument("--work-dir", type=Path, default=HERE / ".work")
    ap.add_argument("--clean", action="store_true",
                    help="remove the Hub state at the end (default: kept in <work-dir>/dl-hub for the next run)")
    args = ap.parse_args(argv)
    started = time.time()
    bench = Bench(args)
    bench.setup({SCENARIOS[s][0] for s in args.scenarios.split(",")})
    try:
        bench.run()
    finally:
        if args.clean:
            shutil.rmtree(bench.hub_root, ignore_errors=True)
    report(bench.rows, args, started)
    out = bench.work / "download-last-run.json"
    out.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()},
                               "runs": [asdict(r) for r in bench.rows]}, indent=1))
    print(f"\n(raw figures: {out})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
