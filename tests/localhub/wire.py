"""HTTP helpers for the local Hub's tests: LFS batch calls and presigned-URL requests with ``requests``."""

from __future__ import annotations

import hashlib

import requests

from tests.support import TOKEN

LFS = {"Accept": "application/vnd.git-lfs+json", "Content-Type": "application/vnd.git-lfs+json"}


def oid(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def batch(base: str, repo: str, objects: list[tuple[str, int]], operation: str = "upload",
          transfers=("basic", "multipart"), token: str | None = TOKEN) -> requests.Response:
    """POST the LFS batch API of ``repo`` (``alice/x`` or ``datasets/alice/x``)."""
    headers = dict(LFS)
    if token:
        headers["Authorization"] = f"Bearer {token}"
    body = {"operation": operation, "transfers": list(transfers),
            "objects": [{"oid": o, "size": s} for o, s in objects], "hash_algo": "sha256"}
    return requests.post(f"{base}/{repo}.git/info/lfs/objects/batch", json=body, headers=headers, timeout=30)


def upload_action(base: str, repo: str, data: bytes, **kw) -> dict:
    """The upload action the server hands out for ``data`` (asserting the batch call succeeded)."""
    resp = batch(base, repo, [(oid(data), len(data))], **kw)
    assert resp.status_code == 200, resp.text
    return resp.json()["objects"][0]["actions"]["upload"]


def part_urls(action: dict) -> list[str]:
    keys = sorted((k for k in action["header"] if k.isdigit()), key=int)
    return [action["header"][k] for k in keys]


def put_parts(action: dict, data: bytes) -> list[dict]:
    """PUT every part of ``data``; return the completion payload's parts."""
    chunk = int(action["header"]["chunk_size"])
    parts = []
    for n, url in enumerate(part_urls(action), 1):
        resp = requests.put(url, data=data[(n - 1) * chunk:n * chunk], timeout=30)
        assert resp.status_code == 200, resp.text
        parts.append({"partNumber": n, "etag": resp.headers["ETag"]})
    return parts


def complete(action: dict, data: bytes, parts: list[dict]) -> requests.Response:
    return requests.post(action["href"], json={"oid": oid(data), "parts": parts}, headers=LFS, timeout=30)


def stored_download_href(base: str, repo: str, data: bytes) -> str:
    """Upload ``data`` with a single PUT and return the download href a batch hands out for it."""
    action = upload_action(base, repo, data)
    assert requests.put(action["href"], data=data, timeout=30).status_code == 200
    resp = batch(base, repo, [(oid(data), len(data))], operation="download")
    assert resp.status_code == 200, resp.text
    return resp.json()["objects"][0]["actions"]["download"]["href"]


def raw_get(url: str, headers: dict[str, str] | None = None, timeout: float = 30) -> tuple[bytes, bytes, str]:
    """GET over a bare socket: (response head, every body byte received until the server closed, how it ended).

    ``how`` is ``"eof"`` (clean close), ``"reset"`` or ``"timeout"``; unlike an HTTP client
    this shows exactly what a faulted server sent.
    """
    import socket
    from urllib.parse import urlsplit

    url_parts = urlsplit(url)
    lines = [f"GET {url_parts.path}?{url_parts.query} HTTP/1.1", f"Host: {url_parts.netloc}", "Connection: close",
             *(f"{k}: {v}" for k, v in (headers or {}).items())]
    received, how = b"", "eof"
    with socket.create_connection((url_parts.hostname, url_parts.port), timeout=timeout) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        try:
            while chunk := sock.recv(1 << 16):
                received += chunk
        except ConnectionResetError:
            how = "reset"
        except TimeoutError:
            how = "timeout"
    head, _, body = received.partition(b"\r\n\r\n")
    return head, body, how


def commit_lfs_files(work, url: str, files: dict[str, bytes]) -> None:
    """A new work repo at ``work`` on the Hub repo's initial commit, with ``files`` committed as LFS (``*.bin``).

    git-lfs filters go into the hermetic global config; lock verification is off (the Hub has no locks API).
    """
    from tests.support import authed, git, start_from_hub

    git("lfs", "install", "--skip-repo")
    git("init", "-q", "-b", "main", str(work))
    start_from_hub(work, url)
    git("lfs", "track", "*.bin", cwd=work)
    for endpoint in (authed(url), url):
        git("config", f"lfs.{endpoint}.git/info/lfs.locksverify", "false", cwd=work)
    for name, data in files.items():
        (work / name).write_bytes(data)
    git("add", ".", cwd=work)
    git("commit", "-qm", "LFS files", cwd=work)
