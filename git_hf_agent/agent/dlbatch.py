"""Download actions from the LFS batch API, asked by the agent itself (standalone mode).

In standalone mode (``lfs.<url>.standalonetransferagent``, see docs/agent.md
"Downloads") git-lfs skips its batch call and hands the agent ``"action": null``;
the agent then asks the batch API for one object as git-lfs would:

- endpoint (git-lfs ``lfsapi/endpoint_finder.go``, download side): ``lfs.url``,
  else ``remote.<remote>.lfsurl``, else the remote's fetch URL plus
  ``.git/info/lfs``. The push URL is never used for downloads;
- credentials, as git-lfs does, only once the endpoint asks (401, or 403/404 as
  private repos may answer): the password embedded in that URL, else
  ``git credential fill`` (no prompt) for that URL. Public repos so cost no
  credential helper run per agent process. The credentials were issued for that
  host by the user's own configuration, so they go to the batch URL only when it
  is on that same origin (scheme, host, port); download hrefs never get them.

The same call also gives fresh hrefs when a download URL expires (403).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from git_hf_agent import hubconf
from git_hf_agent.agent.http import AUTH, HttpFailure, Transport
from git_hf_agent.agent.refresh import BatchClient, credential_fill, git_config, split_credentials
from git_hf_agent.agent.retry import Policy


class BatchError(Exception):
    """No usable download action; ``message`` says why and what to do. ``missing``: the server lacks the object."""

    def __init__(self, message: str, missing: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.missing = missing


@dataclass(frozen=True)
class Action:
    """Where to GET one object: ``href`` plus exactly the headers the server gave."""

    href: str
    headers: dict[str, str]


def download_endpoint(remote: str, cwd: str | None = None) -> str:
    """The LFS API root git-lfs uses to download from ``remote`` (module docstring)."""
    explicit = git_config("lfs.url", cwd) or git_config(f"remote.{remote}.lfsurl", cwd)
    if explicit:
        return explicit.rstrip("/")
    url = remote if "://" in remote else git_config(f"remote.{remote}.url", cwd)
    if not url or urlsplit(url).scheme not in ("http", "https"):
        raise BatchError(f"cannot find an http(s) LFS endpoint for remote {remote!r}; "
                         "set `git config remote.origin.lfsurl <repo url>.git/info/lfs`")
    url = url.rstrip("/")
    return f"{url}/info/lfs" if url.endswith(".git") else f"{url}.git/info/lfs"


def parse_action(obj: Any) -> Action:
    """Validate a ``download`` action (server input: untrusted); BatchError when unusable."""
    if not isinstance(obj, dict) or not isinstance(obj.get("href"), str):
        raise BatchError("the server's download action has no href")
    href = obj["href"]
    if urlsplit(href).scheme not in ("http", "https"):
        raise BatchError("the server's download href is not an http(s) URL")
    header = obj.get("header") or {}
    if not isinstance(header, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in header.items()):
        raise BatchError("the server's download action has malformed headers")
    return Action(href=href, headers=dict(header))


class DownloadBatch(BatchClient):
    """Asks the batch API for one object's download action, with the repo's endpoint and credentials."""

    def __init__(self, transport: Transport, remote: str, cwd: str | None = None) -> None:
        super().__init__(transport, remote, cwd)
        self._asked = False     # credentials looked up (after the endpoint asked for them)

    def endpoint(self) -> str:
        """The download endpoint (looked up once); BatchError when the repo has none."""
        return self._resolve()

    def _resolve(self) -> str:
        if self._endpoint is None:
            endpoint, auth = split_credentials(download_endpoint(self.remote, self.cwd))
            self._endpoint = endpoint
            if auth and auth[1]:   # a bare user name (no password) is not a credential
                self._use(auth)
        return self._endpoint

    def _use(self, auth: tuple[str, str] | None) -> None:
        self._asked = True
        if auth:
            self.transport.log.add_secret(auth[1])
        self._auth = auth

    def post(self, url: str, body: bytes, policy: Policy, oid: str | None, on_retry=None):
        """POST to the batch API (retried per ``policy``); credentials fetched when the endpoint asks."""
        while True:
            auth = self._auth if hubconf.origin(url) == hubconf.origin(self._endpoint) else None
            try:
                return self._call(url, body, auth, oid, policy, on_retry)
            except HttpFailure as failure:
                if self._asked or failure.status not in (401, 403, 404):
                    raise
                self._use(credential_fill(self._endpoint, self.cwd))
                if self._auth is None:
                    raise

    def action(self, oid: str, size: int, policy: Policy, on_retry=None) -> Action:
        """The download action for ``oid`` (batch retried per ``policy``); BatchError when refused."""
        resp = self._ask([(oid, size)], policy, on_retry)
        return _pick(resp, oid, f"{self._endpoint}/objects/batch")

    def actions(self, objects: list[tuple[str, int]], policy: Policy) -> dict[str, dict]:
        """Raw download actions for several objects in one call (those the server answers usably)."""
        resp = self._ask(objects, policy, None)
        found = {}
        try:
            entries = resp.json()["objects"]
        except (ValueError, KeyError, TypeError):
            return found
        for entry in entries if isinstance(entries, list) else []:
            actions = entry.get("actions") if isinstance(entry, dict) else None
            download = actions.get("download") if isinstance(actions, dict) else None
            if isinstance(entry.get("oid"), str) and isinstance(download, dict) and not entry.get("error"):
                found[entry["oid"]] = download
        return found

    def _ask(self, objects: list[tuple[str, int]], policy: Policy, on_retry):
        url = f"{self._resolve()}/objects/batch"
        body = json.dumps({"operation": "download", "transfers": ["basic"], "hash_algo": "sha256",
                           "objects": [{"oid": oid, "size": size} for oid, size in objects]}).encode()
        try:
            return self.post(url, body, policy, objects[0][0] if len(objects) == 1 else None, on_retry)
        except HttpFailure as failure:
            if failure.category == AUTH:
                fix = "check the Hub token (`git hf doctor`; `git hf init` sets up the credential helper)"
            else:
                fix = "re-run the command later (`git lfs pull` resumes)"
            raise BatchError(f"asking the LFS API for a download URL failed: {failure.describe()}. Next: {fix}") from failure


def _pick(resp, oid: str, url: str) -> Action:
    try:
        entry = next(o for o in resp.json()["objects"] if isinstance(o, dict) and o.get("oid") == oid)
    except (ValueError, KeyError, TypeError, StopIteration):
        raise BatchError(f"the LFS API at {url} answered without this object; re-run the command") from None
    error = entry.get("error")
    if error:
        code = error.get("code") if isinstance(error, dict) else None
        message = error.get("message") if isinstance(error, dict) else error
        raise BatchError(f"the server cannot serve it: {message} (code {code})", missing=code == 404)
    actions = entry.get("actions")
    download = actions.get("download") if isinstance(actions, dict) else None
    if download is None:
        raise BatchError("the LFS API answered without a download action; re-run the command", missing=True)
    return parse_action(download)
