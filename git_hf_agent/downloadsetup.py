"""The git config that sends Hub LFS downloads through git-hf-agent, and only downloads.

git-lfs gives a download to a custom agent only when the server picks that
transfer (the Hub answers ``basic``) or in standalone mode, set per LFS endpoint
with ``lfs.<url>.standalonetransferagent``. git-lfs (3.3.0 ``tq/manifest.go``
``findStandaloneTransfer``) matches that key against the endpoint of the
operation: the fetch side for downloads, the push side for uploads, and a
standalone agent serves every transfer of the endpoint it matches. So the keys
below give the download endpoint a spelling the upload endpoint never has:

- ``url."<scheme>://git-hf-download@<host>/".insteadOf "<scheme>://<host>/"``:
  git and git-lfs fetch from the same URL with a user name added (the Hub
  ignores user names; the credential helper still answers for the host);
- ``url."<scheme>://<host>/".pushInsteadOf "<scheme>://<host>/"``: pushes keep the
  URL exactly as it was (pushInsteadOf wins over insteadOf for pushes);
- ``lfs."<scheme>://git-hf-download@<host>/".standalonetransferagent multipart``:
  git-lfs's URL matching (``config/url_config.go``) requires a user name given in
  the key to be the URL's user name, so this matches the download endpoint only.
  Uploads keep the batch API plus the ``multipart`` agent exactly as before.

With ``lfs.customtransfer.multipart.direction both`` (written by :mod:`setup`),
plain ``git clone``/``pull``/``lfs pull``/``lfs fetch`` of Hub repos then
download through the agent. A remote URL that carries its own user name or
token does not match and keeps git-lfs's own downloads (``git hf doctor`` says so).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from git_hf_agent.gitconfig import GitConfig

DOWNLOAD_USER = "git-hf-download"
AGENT_NAME = "multipart"


def prefixes(base: str) -> tuple[str, str]:
    """``(plain, download)`` URL prefixes for the endpoint ``base``: ``https://host/`` and ``https://git-hf-download@host/``."""
    parts = urlsplit(base)
    host = parts.netloc.rsplit("@", 1)[-1]
    return f"{parts.scheme}://{host}/", f"{parts.scheme}://{DOWNLOAD_USER}@{host}/"


def wanted_keys(base: str) -> list[tuple[str, str]]:
    """The (key, value) pairs that route downloads from ``base`` through the agent."""
    plain, download = prefixes(base)
    return [
        (f"url.{download}.insteadof", plain),
        (f"url.{plain}.pushinsteadof", plain),
        (f"lfs.{download}.standalonetransferagent", AGENT_NAME),
    ]


def missing(config: GitConfig, base: str) -> list[tuple[str, str]]:
    """The pairs not yet set in ``config``'s scope (multi-valued url keys: the value must be among them)."""
    return [(key, value) for key, value in wanted_keys(base) if value not in config.get_all(key)]


def present(config: GitConfig, base: str) -> list[tuple[str, str]]:
    return [(key, value) for key, value in wanted_keys(base) if value in config.get_all(key)]


def clone_args(base: str) -> list[str]:
    """``-c key=value`` arguments for ``git clone`` so the first checkout already downloads through the agent."""
    args: list[str] = []
    for key, value in wanted_keys(base):
        args += ["-c", f"{key}={value}"]
    return args


def remove(config: GitConfig, key: str, value: str) -> None:
    """Drop exactly ``value`` from ``key`` (other values of a multi-valued url key stay)."""
    kept = [v for v in config.get_all(key) if v != value]
    config.unset(key)
    for v in kept:
        config.add(key, v)
