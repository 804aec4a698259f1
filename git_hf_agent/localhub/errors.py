"""Errors of the local Hub's store and the oid check shared by its modules (no imports of their own)."""

from __future__ import annotations

import re

OID = re.compile(r"^[0-9a-f]{64}\Z")  # \Z: "$" would accept a trailing newline


class StorageError(Exception):
    """A request the store cannot satisfy; ``status`` is the HTTP status to answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def check_oid(oid: str) -> str:
    """Return ``oid`` if it is 64 lower-case hex digits, else StorageError 400."""
    if not OID.match(oid or ""):
        raise StorageError(400, f"invalid oid {str(oid)[:80]!r}: expected 64 lower-case hex digits (sha256)")
    return oid
