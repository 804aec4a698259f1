"""``git hf credential get|store|erase``: a git credential helper that answers with the Hub token.

git runs it (as configured by ``git hf init``) with the request on stdin
(``protocol=https``, ``host=huggingface.co``, ...). ``get`` answers only when the
request is for a Hub endpoint by the one rule, :func:`hubconf.may_receive_token`:
the ``--endpoint`` values it was registered with, the current ``HF_ENDPOINT``
(or huggingface.co) and the ``hf.endpoint`` git config values; for any other host it prints
nothing, so the token never leaves for a host that is not the Hub. ``store`` and
``erase`` do nothing: the token's home is HF_TOKEN or the token file, never a
git credential store. Kept light (no huggingface_hub import): git calls it on
every push and fetch.
"""

from __future__ import annotations

import sys
from typing import Iterable, TextIO

import click

from git_hf_agent import hubconf

USERNAME = "hf_user"  # the Hub ignores the username; the token is the password


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


def answer(request: dict[str, str], endpoints: Iterable[str], cwd: str | None = None) -> str:
    """The helper's reply to ``get``: username and token for a Hub endpoint, else nothing.

    The request becomes a URL only when ``protocol`` and ``host`` are plain
    (:func:`hubconf.credential_request_url`); the decision is :func:`hubconf.may_receive_token`
    over the ``--endpoint`` values this helper was registered with plus the configured ones.
    """
    url = hubconf.credential_request_url(request.get("protocol", ""), request.get("host", ""))
    if url is None or not hubconf.may_receive_token(url, [*endpoints, *hubconf.configured_endpoints(cwd)]):
        return ""
    token = hubconf.token()
    if not token:
        return ""
    username = request.get("username") or USERNAME
    if "\n" in username or "=" in username:
        username = USERNAME
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
