"""Run ``git hf serve`` as a child process: used by the demo, the tests and the benchmarks.

The server prints its base URL as the first stdout line (flushed); this wrapper
waits for it, exposes ``url`` and ``stats()``, and stops the process on exit.
Kept dependency-free (urllib only) so any caller can import it cheaply.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import urllib.request
from pathlib import Path


class ServeProcess:
    """A local Hub in a child process; a context manager that stops it on exit.

    ``args`` are extra ``git hf serve`` options (``--fault``, ``--chunk-size`` ...);
    ``tokens`` maps user names to tokens (passed as ``--token NAME:TOKEN``).
    """

    def __init__(
        self,
        *args: str,
        root: str | os.PathLike | None = None,
        tokens: dict[str, str] | None = None,
        env: dict[str, str] | None = None,
        log_path: str | os.PathLike | None = None,
        start_timeout: float = 30.0,
    ) -> None:
        self.root = Path(root) if root else Path(tempfile.mkdtemp(prefix="localhub-"))
        self.tokens = dict(tokens or {})
        cmd = [sys.executable, "-m", "git_hf_agent", "serve", "--root", str(self.root), "--port", "0"]
        for user, tok in self.tokens.items():
            cmd += ["--token", f"{user}:{tok}"]
        cmd += list(args)
        self.log_path = Path(log_path) if log_path else self.root / "serve.log"
        self.root.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=self._log, stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
        )
        self.url = self._read_url(start_timeout)

    def _read_url(self, timeout: float) -> str:
        """Wait for the first stdout line (the base URL) or fail with the server's log."""
        box: list[bytes] = []
        reader = threading.Thread(target=lambda: box.append(self.proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout)
        line = box[0].decode().strip() if box else ""
        if not line.startswith("http"):
            self.stop()
            log = self.log_path.read_text(errors="replace")[-4000:]
            raise RuntimeError(f"git hf serve did not start (first line {line!r}); log:\n{log}")
        # Keep draining stdout so the server never blocks on a full pipe.
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()
        return line.rstrip("/")

    def stats(self) -> dict:
        """The server's counters from ``GET /_local/stats``."""
        with urllib.request.urlopen(f"{self.url}/_local/stats", timeout=10) as resp:
            return json.load(resp)

    def stop(self) -> None:
        """Terminate the server (SIGTERM, then SIGKILL after 10 s)."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()

    def __enter__(self) -> "ServeProcess":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
