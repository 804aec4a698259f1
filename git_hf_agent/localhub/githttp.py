"""Git smart HTTP through ``git http-backend`` (CGI), with the Hub's access rules.

The request body (plain, chunked or gzip-encoded) is streamed to the CGI's stdin;
its output is relayed as a chunked response. ``REMOTE_USER`` is set only for a
token allowed to write, which is what enables ``git-receive-pack``. Pushes are
checked by git's fsck (``receive.fsckObjects``) and by the ``pre-receive`` hook
every repo gets (:mod:`hook`).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import git_hf_agent
from git_hf_agent.localhub.server import Exchange, HttpError, Route, route

_PKG_PARENT = str(Path(git_hf_agent.__file__).resolve().parents[1])
_KEEP_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "GIT_CONFIG_NOSYSTEM", "GIT_EXEC_PATH")


def smart_http(ex: Exchange, type: str | None, ns: str, name: str, rest: str) -> None:
    repo = ex.repo(type, ns, name)
    service = ex.query.get("service", "") if rest == "info/refs" else rest
    ex.check_access(repo, write=service == "git-receive-pack")
    storage = ex.hub.storage
    env = {k: os.environ[k] for k in _KEEP_ENV if k in os.environ}
    env.update({
        "GIT_PROJECT_ROOT": str(storage.repos / f"{repo.type}s"),
        "GIT_HTTP_EXPORT_ALL": "1",
        "GIT_HTTP_MAX_REQUEST_BUFFER": "200M",
        "PATH_INFO": f"/{repo.namespace}/{repo.name}.git/{rest}",
        "REQUEST_METHOD": ex.command,
        "QUERY_STRING": ex.path.partition("?")[2],
        "CONTENT_TYPE": ex.headers.get("Content-Type", ""),
        "REMOTE_ADDR": ex.client_address[0],
        "LOCALHUB_PYTHON": sys.executable,
        "LOCALHUB_LFS_OBJECTS": str(storage.objects),
        "LOCALHUB_REJECT_BINARY": "0" if ex.hub.config.allow_binary else "1",
        "PYTHONPATH": _PKG_PARENT,
        # Pushed objects are checked like GitHub does: a tree naming `.git` (any case) or a malformed object is
        # refused before anything lands (the commit API refuses those paths too: hubrules.check_repo_path).
        "GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "receive.fsckObjects", "GIT_CONFIG_VALUE_0": "true",
    })
    if ex.user and ex.can_write(repo.namespace):
        env["REMOTE_USER"] = ex.user
    if "chunked" not in ex.headers.get("Transfer-Encoding", "").lower() and ex.headers.get("Content-Length"):
        env["CONTENT_LENGTH"] = ex.headers["Content-Length"]
    for header, var in (("Content-Encoding", "HTTP_CONTENT_ENCODING"), ("Git-Protocol", "HTTP_GIT_PROTOCOL")):
        if ex.headers.get(header):
            env[var] = ex.headers[header]
    _run_cgi(ex, env)


def _run_cgi(ex: Exchange, env: dict[str, str]) -> None:
    proc = subprocess.Popen(["git", "http-backend"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)
    errors: list[bytes] = []
    drainer = threading.Thread(target=lambda: errors.append(proc.stderr.read()), daemon=True)
    drainer.start()
    try:
        # http-backend reads the whole request before answering beyond its headers (a few
        # bytes that fit the pipe), so feeding stdin first and reading stdout next cannot deadlock.
        _feed(ex, proc)
        status, headers = _cgi_headers(proc.stdout)
        if status is None:
            proc.wait()
            drainer.join(5)
            message = b"".join(errors).decode(errors="replace").strip()
            raise HttpError(500, f"git http-backend failed: {message[-500:]}")
        if status >= 400:  # http-backend's own refusals carry the Hub's error headers too
            headers.setdefault("X-Error-Message", f"git http-backend refused the request ({status})")
            headers.setdefault("X-Error-Code", "NotFound" if status == 404 else "BadRequest")
        ex.start(status, headers, None)
        while data := proc.stdout.read1(256 * 1024):
            ex.write_chunk(data)
        ex.write_chunk(b"")
    finally:
        if proc.poll() is None:
            proc.stdout.close()
            proc.kill()
        proc.wait()


def _feed(ex: Exchange, proc: subprocess.Popen) -> None:
    """Copy the request body to the CGI; keep reading (and dropping) it if the CGI stops early."""
    sink = proc.stdin
    for block in ex.body_blocks():
        if sink is None:
            continue
        try:
            sink.write(block)
        except BrokenPipeError:
            sink = None
    try:
        proc.stdin.close()
    except BrokenPipeError:
        pass


def _cgi_headers(stdout) -> tuple[int | None, dict[str, str]]:
    status, headers = None, {}
    while True:
        line = stdout.readline(65536)
        if not line:
            return None, headers
        line = line.rstrip(b"\r\n").decode("latin-1")
        if not line:
            return status or 200, headers
        key, _, value = line.partition(":")
        if key.lower() == "status":
            status = int(value.strip().split()[0])
        else:
            headers[key.strip()] = value.strip()


def routes() -> list[Route]:
    pattern = r"/{repo}(?:\.git)?/(?P<rest>info/refs|git-upload-pack|git-receive-pack|HEAD|objects/[0-9a-zA-Z/._-]+)"
    return [route("GET|POST", pattern, "git", smart_http)]
