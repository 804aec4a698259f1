"""Where the Hub is and who we are: endpoint, token and repo ids, by huggingface_hub's conventions.

Kept free of heavy imports (no huggingface_hub, no requests) because the git
credential helper and the agent's URL-refresh path call it on every push.
Conventions (docs/agent.md): ``HF_ENDPOINT`` overrides ``https://huggingface.co``;
the token is ``HF_TOKEN``, else ``HUGGING_FACE_HUB_TOKEN``, else the file
``$HF_TOKEN_PATH`` or ``$HF_HOME/token`` (``HF_HOME`` defaults to
``$XDG_CACHE_HOME/huggingface`` or ``~/.cache/huggingface``).

It also holds THE rule for where the token may go (issue 8, docs/security.md):
:func:`may_receive_token` is the only function that decides, and every code path
that attaches the token to a request asks it about the exact URL of that request.
"""

from __future__ import annotations

import ipaddress
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable
from urllib.parse import urlsplit

from git_hf_agent.errors import HfError
from git_hf_agent.redact import redact_url

DEFAULT_ENDPOINT = "https://huggingface.co"
ENDPOINT_KEY = "hf.endpoint"  # git config: Hub endpoints the user named (`git hf init/clone --endpoint`)
DEFAULT_PORTS = {"http": 80, "https": 443}
# The Hub's own short domain: https://hf.co counts as https://huggingface.co (same owner,
# the Hub serves both), only when huggingface.co itself is a configured endpoint.
ALIASES = {"hf.co": "huggingface.co"}
# A host name as DNS spells it (labels of letters, digits and inner hyphens).
_HOSTNAME = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*")
# Characters allowed in an authority (RFC 3986 unreserved, sub-delims, %, :, @, []): anything
# else (backslash, whitespace, controls, non-ASCII) is parsed differently by different clients.
_CREDENTIAL_HOST = re.compile(r"(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?")
_AUTHORITY = re.compile(r"[A-Za-z0-9._~!$&'()*+,;=%:@\[\]-]*")
REPO_TYPES = ("model", "dataset", "space")
_TYPE_PREFIX = {"model": "", "dataset": "datasets/", "space": "spaces/"}
# The Hub's repo-id parts (huggingface_hub validate_repo_id): 1..96 of [A-Za-z0-9._-], first and last a word
# character ('_' allowed: "_org/x"); "--", ".." and a ".git" ending are refused in __post_init__.
_NAME = re.compile(r"^[A-Za-z0-9_](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9_])?\Z")  # \Z: "$" would accept "name\n"


def endpoint(explicit: str | None = None) -> str:
    """The Hub base URL without trailing slash: ``explicit``, else ``HF_ENDPOINT``, else huggingface.co."""
    return (explicit or os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def origin(url: str) -> tuple[str, str, int] | None:
    """``(scheme, host, port)`` of an http(s) URL, normalised so spellings compare equal; None if odd.

    Host lower-cased, one trailing dot dropped, IPv6 literals in compressed form, the
    default port made explicit; userinfo is never part of it. Anything ambiguous (a
    character clients disagree on, several ``@``, a bad port, an empty host) is None,
    which never matches: when in doubt the token stays home.
    """
    if not isinstance(url, str) or any(ord(c) <= 32 or ord(c) >= 127 for c in url):
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not _AUTHORITY.fullmatch(parts.netloc) or parts.netloc.count("@") > 1:
        return None
    host = _host(parts.netloc.rpartition("@")[2].rsplit(":", 1)[0] if not parts.netloc.endswith("]")
                 else parts.netloc.rpartition("@")[2])
    if host is None:
        return None
    return scheme, host, port if port is not None else DEFAULT_PORTS[scheme]


def _host(raw: str) -> str | None:
    """A normalised host (name or IP literal), or None when it is not a plain one."""
    if raw.startswith("["):
        if not raw.endswith("]") or "%" in raw:  # zone ids name a local interface, not a host
            return None
        try:
            return f"[{ipaddress.IPv6Address(raw[1:-1]).compressed}]"
        except ValueError:  # zone ids (``%eth0``) and garbage
            return None
    host = raw.lower()
    host = host[:-1] if host.endswith(".") else host
    if not _HOSTNAME.fullmatch(host):
        return None
    return ALIASES.get(host, host)


def configured_endpoints(cwd: str | Path | None = None) -> list[str]:
    """The Hub endpoints the token may go to: ``HF_ENDPOINT`` (else huggingface.co) plus the
    ``hf.endpoint`` values in git config (``git hf init --endpoint`` / ``git hf clone --endpoint``
    write them), as git sees them from ``cwd`` (local, global and ``-c`` scopes)."""
    found = [endpoint()]
    try:
        proc = subprocess.run(["git", "config", "--get-all", ENDPOINT_KEY], cwd=cwd,
                              capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return found
    if proc.returncode == 0:
        found += [line.strip() for line in proc.stdout.splitlines() if line.strip()]
    return found


def may_receive_token(url: str, endpoints: Iterable[str] | None = None) -> bool:
    """THE rule: may a request to ``url`` carry the Hub token?

    True only when the scheme, host and port of ``url`` equal those of one of
    ``endpoints`` (default: :func:`configured_endpoints`), compared by :func:`origin`:
    case-insensitive, trailing dot ignored, default ports normalised, userinfo
    ignored, ``hf.co`` = ``huggingface.co``. No subdomains, no other ports, and plain
    http only when that endpoint is itself http (a local Hub).
    """
    target = origin(url)
    if target is None:
        return False
    allowed = {o for base in (configured_endpoints() if endpoints is None else endpoints) if (o := origin(base))}
    return target in allowed


def credential_request_url(protocol: str, host: str) -> str | None:
    """The URL a git credential request (``protocol=``, ``host=[:port]``) is about, or None if odd.

    git's ``host`` is a host name or IP literal with an optional port and never
    holds userinfo: ``host=evil@huggingface.co`` and anything else unusual is refused
    here rather than parsed into a match.
    """
    if protocol not in DEFAULT_PORTS or not _CREDENTIAL_HOST.fullmatch(host or ""):
        return None
    return f"{protocol}://{host}/"


def token_for(url: str, endpoints: Iterable[str] | None = None) -> str | None:
    """The configured token when ``url`` may receive it (:func:`may_receive_token`), else None."""
    return token() if may_receive_token(url, endpoints) else None


def same_origin(a: str, b: str) -> bool:
    """True when both URLs are http(s) on the same scheme, host and port (by :func:`origin`)."""
    first = origin(a)
    return first is not None and first == origin(b)


def check_endpoint(base: str) -> None:
    """An endpoint is written to git config and printed: a plain http(s) origin (plus path), no secrets."""
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or origin(base) is None:
        raise HfError(f"invalid Hub endpoint {redact_url(base)!r}", "pass an http(s) URL, e.g. --endpoint https://huggingface.co")
    if "@" in parts.netloc or parts.query or parts.fragment:
        raise HfError(f"the Hub endpoint {redact_url(base)!r} carries credentials, a query or a fragment",
                      "pass just scheme://host[:port], e.g. --endpoint https://huggingface.co; the token comes from "
                      "HF_TOKEN or `hf auth login`")


def token_path() -> Path:
    """The token file huggingface_hub reads and ``hf auth login`` writes."""
    if os.environ.get("HF_TOKEN_PATH"):
        return Path(os.environ["HF_TOKEN_PATH"]).expanduser()
    hf_home = os.environ.get("HF_HOME")
    if not hf_home:
        cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        hf_home = os.path.join(cache, "huggingface")
    return Path(hf_home).expanduser() / "token"


def token() -> str | None:
    """The Hub token by huggingface_hub's precedence, or None when none is configured."""
    for var in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
        value = os.environ.get(var, "").strip()
        if value:
            return value
    try:
        value = token_path().read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return value or None


def mask(secret: str | None) -> str:
    """Show that a token exists without showing it: ``hf_a…(37 chars)``."""
    if not secret:
        return "(none)"
    return f"{secret[:4]}…({len(secret)} chars)"


@dataclass(frozen=True)
class RepoId:
    """A Hub repository: type plus ``namespace/name``; validates itself on construction."""

    namespace: str
    name: str
    type: str = "model"

    def __post_init__(self) -> None:
        if self.type not in REPO_TYPES:
            raise ValueError(f"repo type must be one of {', '.join(REPO_TYPES)}, not {self.type!r}")
        for part in (self.namespace, self.name):
            if not _NAME.match(part) or ".." in part or "--" in part or part.endswith(".git"):
                raise ValueError(
                    f"invalid repo id {self.namespace}/{self.name!s}: use NAMESPACE/NAME with letters, digits, '-', '_', '.'"
                )

    @classmethod
    def parse(cls, text: str, type: str | None = None) -> "RepoId":
        """Parse ``ns/name``, ``datasets/ns/name``, ``spaces/ns/name`` or a Hub URL of a repo."""
        path = urlsplit(text).path if "://" in text else text
        parts = [p for p in path.strip("/").split("/") if p]
        if parts and parts[-1].endswith(".git"):
            parts[-1] = parts[-1][: -len(".git")]
        kind = type or "model"
        if len(parts) == 3 and parts[0] in ("datasets", "spaces"):
            kind = parts[0][:-1]
            parts = parts[1:]
        if len(parts) != 2:
            raise ValueError(f"not a repo id: {text!r} (expected NAMESPACE/NAME, datasets/NAMESPACE/NAME or spaces/NAMESPACE/NAME)")
        return cls(parts[0], parts[1], kind)

    @property
    def repo_id(self) -> str:
        """``namespace/name`` as huggingface_hub's ``repo_id`` argument."""
        return f"{self.namespace}/{self.name}"

    @property
    def path(self) -> str:
        """URL path below the endpoint: ``datasets/ns/name`` (no prefix for models)."""
        return f"{_TYPE_PREFIX[self.type]}{self.repo_id}"

    def git_url(self, base: str | None = None) -> str:
        """The git remote URL on ``base`` (default: the configured endpoint)."""
        return f"{endpoint(base)}/{self.path}"

    def lfs_url(self, base: str | None = None) -> str:
        """The LFS API root git-lfs derives from the remote: ``<git url>.git/info/lfs``."""
        return f"{self.git_url(base)}.git/info/lfs"
