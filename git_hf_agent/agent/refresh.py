"""Fresh upload actions for one object, fetched by the agent itself when URLs expire.

git-lfs never asks the server again for a failed object, so when presigned
URLs expire (403 from the storage, or ``expires_at``/``expires_in`` passed) the
agent calls the LFS batch API for that oid as git-lfs would:

- endpoint: ``lfs.url``, else ``remote.<remote>.lfsurl`` (from git config or the
  repo's ``.lfsconfig``), else the remote's push
  URL / URL (``remote`` as named in ``init``; it may itself be a URL) plus
  ``.git/info/lfs`` (``/info/lfs`` when it already ends in ``.git``);
- credentials: the user:password embedded in that URL, else ``git credential fill``
  (never prompting). The secret is sent only to the LFS endpoint and is masked
  in every log line.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from git_hf_agent.agent.http import AUTH, LFS_HEADERS, HttpFailure, Transport
from git_hf_agent.agent.retry import Policy


class RefreshError(Exception):
    """Fresh actions could not be obtained; the message says why and what to do."""


@dataclass(frozen=True)
class Fresh:
    """The batch API's answer for one object: a new action, or ``None`` if already stored."""

    action: dict[str, Any] | None


def _git(*args: str, cwd: str | None = None) -> str | None:
    """Output of ``git args`` in the repo the agent runs in, or None on failure / empty output."""
    try:
        out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    value = out.stdout.strip()
    return value if out.returncode == 0 and value else None


def git_config(key: str, cwd: str | None = None) -> str | None:
    """``key`` from git config, else from the repo's ``.lfsconfig`` (git-lfs reads both)."""
    value = _git("config", "--get", key, cwd=cwd)
    if value is None:
        top = _git("rev-parse", "--show-toplevel", cwd=cwd)
        if top and os.path.isfile(os.path.join(top, ".lfsconfig")):
            value = _git("config", "--file", os.path.join(top, ".lfsconfig"), "--get", key, cwd=cwd)
    return value


def lfs_endpoint(remote: str, cwd: str | None = None) -> str:
    """The LFS API root for ``remote`` by git-lfs's rules (see module docstring)."""
    explicit = git_config("lfs.url", cwd) or git_config(f"remote.{remote}.lfsurl", cwd)
    if explicit:
        return explicit.rstrip("/")
    if "://" in remote:
        url = remote
    else:
        url = git_config(f"remote.{remote}.pushurl", cwd) or git_config(f"remote.{remote}.url", cwd)
    if not url or urlsplit(url).scheme not in ("http", "https"):
        raise RefreshError(
            f"cannot find an http(s) LFS endpoint for remote {remote!r}; set `git config lfs.url <remote url>.git/info/lfs`"
        )
    url = url.rstrip("/")
    return f"{url}/info/lfs" if url.endswith(".git") else f"{url}.git/info/lfs"


def split_credentials(url: str) -> tuple[str, tuple[str, str] | None]:
    """``url`` without userinfo, and the (user, password) it carried, if any."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url, None
    userinfo, host = parts.netloc.rsplit("@", 1)
    user, _, password = userinfo.partition(":")
    clean = urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
    return clean, (unquote(user), unquote(password))


def credential_fill(url: str, cwd: str | None = None) -> tuple[str, str] | None:
    """Ask git's credential helpers (no prompt) for ``url``'s host; None when none answers."""
    parts = urlsplit(url)
    query = f"protocol={parts.scheme}\nhost={parts.netloc}\npath={parts.path.lstrip('/')}\n\n"
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "", "SSH_ASKPASS": ""}
    try:
        out = subprocess.run(["git", "credential", "fill"], input=query, cwd=cwd, env=env,
                             capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    fields = dict(line.split("=", 1) for line in out.stdout.splitlines() if "=" in line)
    if fields.get("password"):
        return fields.get("username", ""), fields["password"]
    return None


class BatchClient:
    """One remote's LFS batch API: the endpoint and credentials (each subclass finds them its way) and the call."""

    def __init__(self, transport: Transport, remote: str, cwd: str | None = None) -> None:
        self.transport = transport
        self.remote = remote
        self.cwd = cwd
        self._endpoint: str | None = None
        self._auth: tuple[str, str] | None = None

    def _call(self, url: str, body: bytes, auth: tuple[str, str] | None, oid: str | None, policy: Policy,
              on_retry=None):
        """POST ``body`` to the batch ``url`` with ``auth``, retried per ``policy``; HttpFailure when it fails."""

        def attempt(n: int):
            return self.transport.request("batch", "POST", url, attempt=n, body=body, nbytes=len(body),
                                          headers=LFS_HEADERS, auth=auth, oid=oid)

        return policy.call(attempt, on_retry=on_retry)


class Refresher(BatchClient):
    """Calls the batch API for one oid with the repo's LFS endpoint and credentials."""

    def endpoint_id(self) -> str | None:
        """The LFS endpoint without credentials (which Hub repo an upload belongs to); None if unknown."""
        if not hasattr(self, "_endpoint_id"):
            try:
                self._endpoint_id = split_credentials(lfs_endpoint(self.remote, self.cwd))[0]
            except RefreshError:
                self._endpoint_id = None
        return self._endpoint_id

    def _resolve(self) -> str:
        if self._endpoint is None:
            endpoint, auth = split_credentials(lfs_endpoint(self.remote, self.cwd))
            auth = auth or credential_fill(endpoint, self.cwd)
            if auth:
                self.transport.log.add_secret(auth[1])
            self._endpoint, self._auth = endpoint, auth
        return self._endpoint

    def fetch(self, oid: str, size: int, policy: Policy, on_retry=None) -> Fresh:
        """New actions for ``oid`` (retried per ``policy``, each retry told to ``on_retry``); RefreshError when refused."""
        url = f"{self._resolve()}/objects/batch"
        body = json.dumps({
            "operation": "upload", "transfers": ["multipart", "basic"],
            "objects": [{"oid": oid, "size": size}], "hash_algo": "sha256",
        }).encode()
        try:
            resp = self._call(url, body, self._auth, oid, policy, on_retry)
        except HttpFailure as failure:
            fix = ("check the Hub token (`git hf doctor`; `git hf init` sets up the credential helper)"
                   if failure.category == AUTH else "re-run `git push` later")
            raise RefreshError(f"asking the LFS API for fresh upload URLs failed: {failure.describe()}. Next: {fix}") from failure
        return _pick(resp, oid, url)


def _pick(resp, oid: str, url: str) -> Fresh:
    try:
        data = resp.json()
        objects = data["objects"]
        entry = next(o for o in objects if isinstance(o, dict) and o.get("oid") == oid)
    except (ValueError, KeyError, TypeError, StopIteration):
        raise RefreshError(f"the LFS API at {url} answered without this object ({oid[:12]}); re-run `git push`") from None
    if entry.get("error"):
        err = entry["error"]
        message = err.get("message") if isinstance(err, dict) else err
        raise RefreshError(f"the LFS API refused the object: {message}")
    actions = entry.get("actions")
    if not actions:
        return Fresh(action=None)
    upload = actions.get("upload") if isinstance(actions, dict) else None
    if not isinstance(upload, dict):
        raise RefreshError("the LFS API answered without an upload action; re-run `git push`")
    return Fresh(action=upload)
