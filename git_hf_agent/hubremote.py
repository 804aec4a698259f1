"""What the Hub holds for a git remote: its git tree (paths-info) and its LFS storage (batch API).

Two different questions, both needed to trust a push (issue 4, ``git hf verify``):

- ``paths-info`` (``POST /api/{type}s/{repo}/paths-info/{rev}``, 500 paths per
  request as huggingface_hub batches them) says which pointer the Hub's *git
  tree* has at a path: oid and size of the LFS object it names;
- the LFS batch API with ``operation: download`` (100 objects per request, as
  git-lfs batches) says whether the object *bytes* are stored: a missing one
  comes back with ``error.code`` 404, a stored one with its size.

Requests run a few at a time (thread-local sessions) and are retried on 429/5xx
and connection errors: both are read-only. Credentials are chosen for the URL each
request goes to (issue 8): a password embedded in that URL (or in the remote URL
when the LFS URL is on the same origin), else the Hub token when
:func:`hubconf.may_receive_token` allows that URL, else none. ``~/.netrc`` is
never read (a netrc entry would silently replace the token); proxies and CA
settings from the environment still apply. Tokens never reach messages.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence, TypeVar
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import MaxRetryError
from urllib3.util.retry import Retry

from git_hf_agent import hubconf
from git_hf_agent.apifailure import ApiFailure, attempts_of
from git_hf_agent.errors import HfError
from git_hf_agent.hubconf import RepoId
from git_hf_agent.redact import redact_text, redact_url

PATHS_PER_REQUEST = 500
OBJECTS_PER_REQUEST = 100
WORKERS = 8
TIMEOUT = (10, 120)
RETRIES = 5  # read-only POSTs: retried on 429/5xx and connection errors
LFS_MEDIA = "application/vnd.git-lfs+json"
T = TypeVar("T")


@dataclass(frozen=True)
class StoredObject:
    """The LFS batch API's answer for one oid: stored or not, the stored size, or another error."""

    present: bool
    size: int | None = None
    error: str | None = None


@dataclass(frozen=True)
class HubRemote:
    """A Hub repo as reached through a git remote URL: endpoint, repo id, LFS URL and credentials.

    ``token``/``username`` are for the endpoint (JSON API), ``lfs_token``/``lfs_username``
    for the LFS URL, each chosen for its own URL (they differ when ``lfsurl`` points elsewhere).
    """

    endpoint: str
    repo: RepoId
    lfs_url: str
    token: str | None = None
    username: str | None = None
    lfs_token: str | None = None
    lfs_username: str | None = None

    @classmethod
    def from_url(cls, url: str, lfs_url: str | None = None, endpoints: Iterable[str] | None = None) -> "HubRemote":
        """Parse ``https://[user:token@]host[/prefix]/[datasets/|spaces/]ns/name[.git]``.

        ``endpoints`` are the Hub endpoints the token may go to (default: the configured ones).
        """
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise HfError(f"remote {redact_url(url)} is not an http(s) Hub URL",
                          "use the Hub's https URL, e.g. `git remote set-url origin https://huggingface.co/NAMESPACE/NAME`")
        segments = [s for s in parts.path.removesuffix("/").removesuffix(".git").split("/") if s]
        take = 3 if len(segments) >= 3 and segments[-3] in ("datasets", "spaces") else 2
        try:
            repo = RepoId.parse("/".join(segments[-take:]))
        except ValueError as exc:
            raise HfError(f"remote {redact_url(url)} is not a Hub repo URL: {exc}") from None
        prefix = "".join(f"/{s}" for s in segments[:-take])  # a Hub served below a path (proxy)
        endpoint = f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}{prefix}"
        user, token = _credentials(url, url, endpoints)
        lfs = (lfs_url or f"{endpoint}/{repo.path}.git/info/lfs").rstrip("/")
        lfs_user, lfs_token = _credentials(lfs, url, endpoints)
        return cls(endpoint, repo, _strip_userinfo(lfs), token, user, lfs_token, lfs_user)

    def label(self, revision: str | None = None) -> str:
        """``datasets/ns/name@main (https://huggingface.co)`` for messages."""
        return f"{self.repo.path}{'@' + revision if revision else ''} ({self.endpoint})"

    # -- queries ---------------------------------------------------------------------
    def paths_info(self, revision: str, paths: Sequence[str]) -> dict[str, dict]:
        """What the Hub's git tree at ``revision`` holds at each path (absent paths are left out)."""
        url = f"{self.endpoint}/api/{self.repo.type}s/{self.repo.repo_id}/paths-info/{quote(revision, safe='')}"

        def one(chunk: list[str]) -> list[dict]:
            resp = self._post(url, data={"paths": chunk, "expand": "false"}, what=f"revision {revision!r}")
            items = self._json(resp, url)
            if not isinstance(items, list) or not all(_tree_item_ok(item) for item in items):
                raise self._unexpected(url, "a list of {path, lfs: {oid, size}} entries")
            return items

        return {item["path"]: item for items in _map(one, _chunks(paths, PATHS_PER_REQUEST)) for item in items}

    def stored_objects(self, objects: Iterable[tuple[str, int]], ref: str | None = None) -> dict[str, StoredObject]:
        """Ask the LFS batch API (download) whether each (oid, size) is stored."""
        found: dict[str, StoredObject] = {}
        for obj in self.lfs_batch("download", objects, ref, ["basic"]):
            err = obj.get("error")
            if err:
                code = err.get("code")
                found[obj["oid"]] = StoredObject(False, None, None if code == 404 else f"{code}: {err.get('message', '')}")
            else:
                found[obj["oid"]] = StoredObject(True, obj.get("size"))
        return found

    def lfs_batch(self, operation: str, objects: Iterable[tuple[str, int]], ref: str | None,
                  transfers: list[str]) -> list[dict]:
        """The LFS batch API's answer objects for each distinct (oid, size), 100 per request.

        ``git hf push --dry-run`` asks with ``upload`` (what is stored, what goes
        multipart in how many parts); it sends no object.
        """
        url = f"{self.lfs_url}/objects/batch"
        unique = sorted(dict(objects).items())

        def one(chunk: list[tuple[str, int]]) -> list[dict]:
            body = {"operation": operation, "transfers": transfers, "hash_algo": "sha256",
                    "objects": [{"oid": oid, "size": size} for oid, size in chunk]}
            if ref:
                body["ref"] = {"name": ref}
            resp = self._post(url, json=body, lfs=True, what="LFS storage")
            answer = self._json(resp, url)
            found = answer.get("objects", []) if isinstance(answer, dict) else None
            if not isinstance(found, list) or not all(_batch_object_ok(obj) for obj in found):
                raise self._unexpected(url, 'an object with an "objects" list of {oid, size, error?}')
            return [{**obj, "transfer": answer.get("transfer", "basic")} for obj in found]

        return [obj for answers in _map(one, _chunks(unique, OBJECTS_PER_REQUEST)) for obj in answers]

    # -- HTTP ------------------------------------------------------------------------
    def _post(self, url: str, *, lfs: bool = False, what: str, **kwargs) -> requests.Response:
        headers = {"Accept": LFS_MEDIA, "Content-Type": LFS_MEDIA} if lfs else {}
        auth = None
        if lfs and self.lfs_token:
            auth = (self.lfs_username or "hf_user", self.lfs_token)
        elif not lfs and self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        start = time.monotonic()
        try:
            resp = _session().post(url, headers=headers, auth=auth, timeout=TIMEOUT, **kwargs)
        except requests.RequestException as exc:
            tries = RETRIES + 1 if isinstance(exc.args[0] if exc.args else None, MaxRetryError) else 1
            failure = ApiFailure("POST", url, reason=self._redact(str(exc)), attempts=tries,
                                 elapsed=time.monotonic() - start)
            raise HfError(f"cannot reach the Hub at {redact_url(self.endpoint)}: {failure.describe(*self._secrets())}",
                          "check the network and the remote URL (`git remote -v`), then retry") from None
        if resp.status_code >= 400:
            raise self._http_error(resp, url, what, time.monotonic() - start)
        return resp

    def _json(self, resp: requests.Response, url: str):
        try:
            return resp.json()
        except ValueError:
            raise self._unexpected(url, "JSON") from None

    def _unexpected(self, url: str, wanted: str) -> HfError:
        """Server answers are untrusted input: a malformed one is a clear error (exit 1), never a crash."""
        return HfError(f"the Hub's answer to POST {redact_url(url)} for {self.label()} is not {wanted}",
                       "check that the remote URL points at a Hugging Face Hub (`git remote -v`), then retry")

    def _secrets(self) -> tuple[str, str]:
        return self.token or "", self.lfs_token or ""

    def _redact(self, text: str) -> str:
        return redact_text(text, *self._secrets())

    def _http_error(self, resp: requests.Response, url: str, what: str, elapsed: float) -> HfError:
        where = ApiFailure("POST", url, resp.status_code, resp.text, attempts=attempts_of(resp),
                           elapsed=elapsed).describe(*self._secrets())
        if resp.status_code in (401, 403):
            sent = self.lfs_token if url.startswith(self.lfs_url) else self.token
            if sent is None and hubconf.token():
                origin = f"{urlsplit(url).scheme}://{urlsplit(url).netloc.rsplit('@', 1)[-1]}"
                return HfError(f"{redact_url(origin)} asked for credentials for {self.label()}, and your Hub token is "
                               f"not sent there: it is not a configured Hub endpoint ({where})",
                               f"if {redact_url(origin)} is a Hub, run `git hf init --endpoint {redact_url(origin)}` "
                               "(or set HF_ENDPOINT); otherwise check the remote URL (`git remote -v`)")
            return HfError(f"the Hub refused access to {self.label()} ({where})",
                           "set HF_TOKEN (or `hf auth login`) to a token that can read this repo")
        if resp.status_code == 404:
            return HfError(f"{what} not found for {self.label()} ({where})",
                           "push it first (`git hf push`), or check the remote URL and --revision")
        return HfError(f"the Hub failed while checking {self.label()} ({where})", "retry later")


def _credentials(url: str, remote_url: str, endpoints: Iterable[str] | None) -> tuple[str | None, str | None]:
    """(username, secret) for requests to ``url``: its own userinfo, else the remote URL's when on
    the same origin, else the Hub token when the one rule allows ``url``; else (None, None)."""
    for source in (url, remote_url):
        parts = urlsplit(source)
        if parts.password and (source == url or hubconf.same_origin(url, remote_url)):
            return (unquote(parts.username) if parts.username else None), unquote(parts.password)
    return None, (hubconf.token() if hubconf.may_receive_token(url, endpoints) else None)


def _strip_userinfo(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[-1])) if "@" in parts.netloc else url


class _KeepHeaders(requests.auth.AuthBase):
    """Session-wide "auth" that adds nothing: its presence keeps requests from reading ~/.netrc."""

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        return r


class HubSession(requests.Session):
    """A requests session that never reads ``~/.netrc`` (on the first request or on redirects)
    but keeps every other environment setting (proxies, ``REQUESTS_CA_BUNDLE``). requests strips
    Authorization itself when a redirect leaves the origin."""

    def __init__(self) -> None:
        super().__init__()
        self.auth = _KeepHeaders()

    def rebuild_auth(self, prepared_request: requests.PreparedRequest, response: requests.Response) -> None:
        if "Authorization" in prepared_request.headers and self.should_strip_auth(response.request.url, prepared_request.url):
            del prepared_request.headers["Authorization"]


def _tree_item_ok(item) -> bool:
    """A paths-info entry as the Hub sends it: ``path`` a string, ``lfs`` absent/null or {oid: str, size: int}."""
    if not isinstance(item, dict) or not isinstance(item.get("path"), str):
        return False
    lfs = item.get("lfs")
    return lfs is None or (isinstance(lfs, dict) and isinstance(lfs.get("oid"), str) and _is_int(lfs.get("size")))


def _batch_object_ok(obj) -> bool:
    """A batch API object: ``oid`` a string, ``size`` an int or absent, ``error`` absent or an object."""
    if not isinstance(obj, dict) or not isinstance(obj.get("oid"), str):
        return False
    error = obj.get("error")
    return (obj.get("size") is None or _is_int(obj.get("size"))) and (error is None or isinstance(error, dict))


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


_local = threading.local()


def _session() -> requests.Session:
    """A per-thread session retrying 429/5xx and connection errors with backoff (read-only POSTs)."""
    if not hasattr(_local, "session"):
        retry = Retry(total=RETRIES, backoff_factor=0.5, status_forcelist=(429, 500, 502, 503, 504),
                      allowed_methods=None, respect_retry_after_header=True, raise_on_status=False)
        session = HubSession()
        session.mount("http://", HTTPAdapter(max_retries=retry))
        session.mount("https://", HTTPAdapter(max_retries=retry))
        _local.session = session
    return _local.session


def _chunks(items: Sequence[T], size: int) -> list[list[T]]:
    return [list(items[i:i + size]) for i in range(0, len(items), size)]


def _map(fn: Callable[[list[T]], list[dict]], chunks: list[list[T]]) -> list[list[dict]]:
    """Run ``fn`` over the chunks, a few requests at a time; the first HfError propagates."""
    if len(chunks) <= 1:
        return [fn(c) for c in chunks]
    with ThreadPoolExecutor(max_workers=min(WORKERS, len(chunks))) as pool:
        return list(pool.map(fn, chunks))
