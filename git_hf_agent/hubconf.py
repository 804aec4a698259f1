"""Where the Hub is and who we are: endpoint, token and repo ids, by huggingface_hub's conventions.

Kept free of heavy imports (no huggingface_hub, no requests) because the git
credential helper and the agent's URL-refresh path call it on every push.
Conventions (HUB-PROTOCOL.md): ``HF_ENDPOINT`` overrides ``https://huggingface.co``;
the token is ``HF_TOKEN``, else ``HUGGING_FACE_HUB_TOKEN``, else the file
``$HF_TOKEN_PATH`` or ``$HF_HOME/token`` (``HF_HOME`` defaults to
``$XDG_CACHE_HOME/huggingface`` or ``~/.cache/huggingface``).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

DEFAULT_ENDPOINT = "https://huggingface.co"
REPO_TYPES = ("model", "dataset", "space")
_TYPE_PREFIX = {"model": "", "dataset": "datasets/", "space": "spaces/"}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")


def endpoint(explicit: str | None = None) -> str:
    """The Hub base URL without trailing slash: ``explicit``, else ``HF_ENDPOINT``, else huggingface.co."""
    return (explicit or os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


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
            if not _NAME.match(part) or ".." in part or part.endswith(".git"):
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
