"""Make URLs and text safe to print: signatures, tokens and credentials removed.

Presigned URLs carry their authority in the query string (S3 ``X-Amz-Signature``,
the Hub's ``signature``); anyone holding the URL can use it until it expires, so
every URL that reaches a log, stderr or an error message passes through
:func:`redact_url`. :func:`redact_text` also masks Hugging Face tokens
(``hf_...``) and ``Authorization`` values wherever they appear.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MASK = "REDACTED"
# Query keys whose value grants access (compared lower-case).
_SECRET_KEYS = {
    "signature", "x-amz-signature", "x-amz-credential", "x-amz-security-token",
    "sig", "token", "access_token", "awsaccesskeyid", "key-pair-id", "policy",
}
_HF_TOKEN = re.compile(r"\bhf_[A-Za-z0-9]{6,}\b")
_AUTH_HEADER = re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)(basic|bearer|token)?\s*[^\s'\",}]+")
_URL = re.compile(r"https?://[^\s'\"<>]+")
# ``key=value`` of a secret query key outside a full URL (e.g. urllib3's "url: /path?signature=..").
_QUERY_SECRET = re.compile(
    r"(?i)(?<![A-Za-z0-9_-])(" + "|".join(re.escape(k) for k in sorted(_SECRET_KEYS)) + r")=([^&\s'\"<>)]+)"
)


def redact_url(url: str) -> str:
    """Return ``url`` with user:password and secret query values replaced by ``REDACTED``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return _HF_TOKEN.sub(MASK, url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{MASK}@{netloc.rsplit('@', 1)[1]}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode(
            [(k, MASK if k.lower() in _SECRET_KEYS else v) for k, v in pairs], safe="/:"
        )
    return _HF_TOKEN.sub(MASK, urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment)))


def redact_text(text: str, *secrets: str) -> str:
    """Redact every URL, Hub token, Authorization value and each given secret in ``text``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    text = _URL.sub(lambda m: redact_url(m.group(0)), text)
    text = _QUERY_SECRET.sub(lambda m: f"{m.group(1)}={MASK}", text)
    text = _AUTH_HEADER.sub(lambda m: f"{m.group(1)}{MASK}", text)
    return _HF_TOKEN.sub(MASK, text)
