"""Presigned URLs: an HMAC over method, path and query plus an expiry, like S3's.

Part, single-PUT, download and completion URLs carry ``expires`` (unix seconds)
and ``signature``; they need no Authorization header, so whoever holds one may
use it until it expires. A bad signature or an expired URL gets 403 with an
S3-style XML body (see :func:`xml_error`).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import datetime, timezone
from urllib.parse import urlencode


class SignatureError(Exception):
    """The URL may not be used; ``code`` and ``message`` go into the XML body."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Signer:
    """Signs and checks URLs with one secret key (random per server run)."""

    def __init__(self, secret: bytes, ttl: int) -> None:
        self._secret = secret
        self.ttl = ttl

    def _mac(self, method: str, path: str, params: dict[str, str]) -> str:
        canonical = "\n".join([method, path, *(f"{k}={params[k]}" for k in sorted(params))])
        return hmac.new(self._secret, canonical.encode(), hashlib.sha256).hexdigest()

    def sign(self, base: str, method: str, path: str, params: dict[str, str]) -> str:
        """Full URL ``base + path`` with ``params``, ``expires`` and ``signature``."""
        params = {**params, "expires": str(int(time.time()) + self.ttl)}
        query = urlencode({**params, "signature": self._mac(method, path, params)})
        return f"{base}{path}?{query}"

    def check(self, method: str, path: str, query: dict[str, str]) -> None:
        """Raise SignatureError unless the query is a valid, unexpired signature for this request."""
        params = {k: v for k, v in query.items() if k != "signature"}
        given = query.get("signature", "")
        if not given or "expires" not in params:
            raise SignatureError("AccessDenied", "Query-string authentication requires the signature and expires parameters")
        if not hmac.compare_digest(given.encode(), self._mac(method, path, params).encode()):  # str: ASCII only
            raise SignatureError("SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided")
        try:
            expires = int(params["expires"])
        except ValueError:
            raise SignatureError("AccessDenied", "Invalid expires parameter") from None
        if time.time() > expires:
            raise SignatureError("AccessDenied", "Request has expired")

    def expiry(self) -> dict[str, object]:
        """``expires_in`` / ``expires_at`` fields of an LFS action."""
        at = datetime.fromtimestamp(int(time.time()) + self.ttl, tz=timezone.utc)
        return {"expires_in": self.ttl, "expires_at": at.strftime("%Y-%m-%dT%H:%M:%SZ")}


def xml_error(code: str, message: str, resource: str = "") -> bytes:
    """An S3-style ``<Error>`` document (what a client sees from a real presigned URL)."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message>"
        f"<Resource>{resource}</Resource><RequestId>localhub</RequestId></Error>"
    ).encode()
