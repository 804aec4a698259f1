"""The Hub's JSON API as ``git hf`` uses it: huggingface_hub's ``HfApi`` plus one error mapping.

Every call goes through huggingface_hub (so it behaves exactly like the Hub's own
client) and every failure leaves this module as an :class:`HfError` whose fix
names the next step: no token, token rejected, repo exists, endpoint unreachable.
huggingface_hub is imported lazily: ``git hf credential`` and the agent never pay for it.

The token (issue 8): ``HfApi`` attaches whatever token it is given to every
request, so it is only given one the caller chose for that endpoint (``token=``,
e.g. a remote URL's own password) or the configured token when
:func:`hubconf.may_receive_token` allows the endpoint, counting an ``endpoint``
passed here as named by the user (``--endpoint``). Otherwise the client is
anonymous and a call that needs the token stops with a fix.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import TYPE_CHECKING, Iterator

from git_hf_agent import hubconf
from git_hf_agent.apifailure import ApiFailure
from git_hf_agent.errors import HfError
from git_hf_agent.hubconf import RepoId
from git_hf_agent.redact import redact_text, redact_url

if TYPE_CHECKING:  # pragma: no cover
    from huggingface_hub import HfApi

LOGIN_FIX = "run `hf auth login` (or set HF_TOKEN) with a token that has write access"


def client(endpoint: str | None = None, token: str | None = None) -> "HfApi":
    """An ``HfApi`` bound to ``endpoint`` (default: HF_ENDPOINT or huggingface.co) and ``token``.

    ``token=None`` means the configured token when the endpoint may receive it
    (:func:`allowed_token`); otherwise the client is anonymous (``token=False``: huggingface_hub
    never falls back to other sources).
    """
    from huggingface_hub import HfApi

    base = hubconf.endpoint(endpoint)
    return HfApi(endpoint=base, token=token or allowed_token(endpoint) or False, library_name="git-hf-agent")


def allowed_token(endpoint: str | None = None, named: bool = True) -> str | None:
    """The configured token if the one rule lets it go to ``endpoint`` (counted as a Hub the user
    named unless ``named=False``, e.g. an endpoint read from a remote URL); None otherwise."""
    named = [endpoint] if endpoint and named else []
    return hubconf.token_for(hubconf.endpoint(endpoint), [*hubconf.configured_endpoints(), *named])


def require_token(token: str | None = None, endpoint: str | None = None, named: bool = True) -> str:
    """The token to write with, or an :class:`HfError` telling the user how to log in."""
    value = token or allowed_token(endpoint, named)
    if not value and hubconf.token():
        base = hubconf.endpoint(endpoint)
        raise HfError(f"{redact_url(base)} is not a configured Hub endpoint, so your Hub token is not sent there",
                      f"if it is a Hub, name it: `--endpoint {redact_url(base)}`, HF_ENDPOINT, or `git hf init --endpoint URL`")
    if not value:
        raise HfError(
            f"no Hugging Face token found (HF_TOKEN, HUGGING_FACE_HUB_TOKEN or {hubconf.token_path()})",
            LOGIN_FIX,
        )
    return value


def create_repo(repo: RepoId, *, endpoint: str | None = None, token: str | None = None,
                private: bool = False, exist_ok: bool = False, space_sdk: str | None = None,
                endpoint_named: bool = True) -> str:
    """Create ``repo`` on the Hub and return its git URL; HfError on failure (409 unless ``exist_ok``).

    A Space needs an SDK; ``space_sdk`` defaults to ``static`` (plain files, nothing to build).
    ``endpoint_named=False``: the endpoint was not named by the user (say, read from a remote
    URL), so the configured token goes there only if it is a configured Hub.
    """
    base = hubconf.endpoint(endpoint)
    hubconf.check_endpoint(base)
    secret = require_token(token, endpoint, endpoint_named)
    with hub_errors(base, repo, secret):
        client(base, secret).create_repo(
            repo.repo_id, repo_type=repo.type, private=private, exist_ok=exist_ok, token=secret,
            space_sdk=(space_sdk or "static") if repo.type == "space" else None,
        )
    return repo.git_url(base)


def whoami(*, endpoint: str | None = None, token: str | None = None) -> dict:
    """The Hub's ``/api/whoami-v2`` answer for the token (``name`` is the user); HfError on failure."""
    base = hubconf.endpoint(endpoint)
    hubconf.check_endpoint(base)
    secret = require_token(token, endpoint)
    with hub_errors(base, None, secret):
        return client(base, secret).whoami(token=secret)


@contextmanager
def hub_errors(base: str, repo: RepoId | None, secret: str | None = None) -> Iterator[None]:
    """Translate huggingface_hub and transport exceptions raised inside into :class:`HfError`."""
    from huggingface_hub.errors import HfHubHTTPError

    base = redact_url(base)  # printed in every message below
    start = time.monotonic()
    try:
        yield
    except HfHubHTTPError as exc:
        raise _http_error(exc, base, repo, secret, time.monotonic() - start) from None
    except Exception as exc:  # transport errors of whatever HTTP library huggingface_hub uses
        if not _is_network_error(exc):
            raise
        failure = ApiFailure(*_request_of(exc, base), reason=str(exc), elapsed=time.monotonic() - start)
        raise HfError(
            f"cannot reach the Hub at {base}: {failure.describe(secret or '')}",
            "check the network and the endpoint (--endpoint or HF_ENDPOINT), then retry",
        ) from None


def _request_of(exc, base: str) -> tuple[str, str]:
    """(method, URL) of the request behind ``exc`` (huggingface_hub keeps it on the exception or response)."""
    for holder in (getattr(exc, "response", None), exc):
        try:  # httpx raises RuntimeError for a request it never set
            request = holder.request
            return str(request.method), str(request.url)
        except (AttributeError, RuntimeError):
            continue
    return "request to", base


def _http_error(exc, base: str, repo: RepoId | None, secret: str | None, elapsed: float) -> HfError:
    """One place mapping a Hub HTTP status to a message and its fix; the facts worded by :mod:`apifailure`."""
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    body = getattr(exc, "server_message", None) or _body(response) or str(exc)
    server = ApiFailure(*_request_of(exc, base), status, body, elapsed=elapsed).describe(secret or "")
    what = f"{repo.path} on {base}" if repo else base
    if status == 409:
        return HfError(f"{what} already exists ({server})", "pass --exist-ok to use the existing repo")
    if status == 401:
        return HfError(f"the Hub at {base} rejected the token: {server}", LOGIN_FIX)
    if status == 403:
        return HfError(
            f"the token may not do this on {what}: {server}",
            "use a token with write access to that namespace (https://huggingface.co/settings/tokens)",
        )
    if status == 404:
        return HfError(f"{what} not found: {server}", "check the repo id, its type (--type) and the endpoint")
    return HfError(f"the Hub at {base} failed: {server}", "retry later; if it persists, check the Hub's status page")


def _body(response) -> str:
    try:
        return response.text if response is not None else ""
    except Exception:  # noqa: BLE001 - a streamed or closed body has no text; the status still says enough
        return ""


def _is_network_error(exc: BaseException) -> bool:
    """True for connection refused/reset, DNS and timeout errors of any HTTP library."""
    if isinstance(exc, OSError):
        return True
    names = {cls.__name__ for cls in type(exc).__mro__}
    return bool(names & {"TransportError", "RequestError", "ConnectionError", "Timeout", "TimeoutException"})
