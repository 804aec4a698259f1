"""``git hf credential get|store|erase``: a git credential helper that answers with the Hub token.

git runs it (as configured by ``git hf init``) with the request on stdin
(``protocol=https``, ``host=huggingface.co``, ...). ``get`` answers only when the
request is for a Hub endpoint: the ``--endpoint`` values it was registered with
and the current ``HF_ENDPOINT`` (or huggingface.co); for any other host it prints
nothing, so the token never leaves for a host that is not the Hub. ``store`` and
``erase`` do nothing: the token's home is HF_TOKEN or the token file, never a
git credential store. Kept light (no huggingface_hub import): git calls it on
every push and fetch.
"""

from __future__ import annotations

import sys
from typing import Iterable, TextIO
from urllib.parse import urlsplit

import click

from git_hf_agent import hubconf

USERNAME = "hf_user"  # the Hub ignores the username; the token is the password
_DEFAULT_PORTS = {"http": "80", "https": "443"}


def read_request(stream: TextIO) -> dict[str, str]:
    """Parse git's ``key=value`` lines up to a blank line or EOF."""
    request: dict[str, str] = {}
    for line in stream:
        line = line.rstrip("\r\n")
        if not line:
            break
        key, sep, value = line.partition("=")
        if sep:
            request[key] = value
    return request


def _origin(scheme: str, host: str) -> tuple[str, str]:
    """(scheme, host[:port]) lower-cased, the default port dropped, so spellings compare equal."""
    host = host.lower().rsplit("@", 1)[-1]
    name, _, port = host.rpartition(":") if ":" in host and not host.endswith("]") else (host, "", "")
    if port and port == _DEFAULT_PORTS.get(scheme):
        host = name
    return scheme.lower(), host


def hub_origins(endpoints: Iterable[str]) -> set[tuple[str, str]]:
    """The (scheme, host) pairs this helper answers for: registered endpoints plus the current one."""
    origins = set()
    for base in (*endpoints, hubconf.endpoint()):
        parts = urlsplit(base)
        if parts.scheme and parts.netloc:
            origins.add(_origin(parts.scheme, parts.netloc))
    return origins


def answer(request: dict[str, str], endpoints: Iterable[str]) -> str:
    """The helper's reply to ``get``: username and token for a Hub host, else nothing."""
    if "protocol" not in request or "host" not in request:
        return ""
    if _origin(request["protocol"], request["host"]) not in hub_origins(endpoints):
        return ""
    token = hubconf.token()
    if not token:
        return ""
    username = request.get("username") or USERNAME
    return f"username={username}\npassword={token}\n"


@click.command("credential")
@click.option("--endpoint", "endpoints", multiple=True, metavar="URL",
              help="A Hub endpoint to answer for (repeatable; HF_ENDPOINT or huggingface.co always count).")
@click.argument("action", type=click.Choice(["get", "store", "erase"]))
def cli(endpoints: tuple[str, ...], action: str) -> None:
    """git credential helper: answer `get` with the Hub token for Hub hosts only."""
    request = read_request(sys.stdin)
    if action == "get":
        sys.stdout.write(answer(request, endpoints))
        sys.stdout.flush()
