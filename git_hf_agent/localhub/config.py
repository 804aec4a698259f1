"""Options of ``git hf serve`` as one immutable value, parsed once at the CLI edge.

Handlers read settings from here instead of the environment (no configuration
read deep inside handlers). Defaults follow issue 2 and the team contracts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from git_hf_agent.localhub.faults import FaultRule

MiB = 1024**2
GiB = 1024**3

# The Hub rejects non-LFS files above 10 MB; issue 2 fixes the local limit at 10 MiB.
MAX_REGULAR_BLOB = 10 * MiB
# The Hub's hard limit for one LFS file ("Maximum individual file size is 50.0GB"): 50 GB, decimal.
MAX_FILE_SIZE = 50 * 10**9
# The Hub rejects binary files outside LFS; binary = a NUL byte in the first 8000 bytes (git's test).
BINARY_SNIFF = 8000


@dataclass(frozen=True)
class Config:
    """Everything a running local Hub needs to know; built by ``git hf serve``."""

    root: Path
    host: str = "127.0.0.1"
    port: int = 0
    tokens: dict[str, str] = field(default_factory=dict)  # token -> user name
    public_url: str | None = None
    chunk_size: int = 64 * MiB
    multipart_threshold: int = 5 * GiB
    max_basic_size: int = 5 * GiB
    url_ttl: int = 86400
    conn_rate: int = 0  # bytes/s per connection, 0 = unlimited
    total_rate: int = 0  # bytes/s over all connections, 0 = unlimited
    latency_ms: int = 0
    faults: tuple[FaultRule, ...] = ()
    seed: int | None = None
    stall_seconds: float = 120.0
    allow_binary: bool = False  # accept binary files outside LFS (the Hub rejects them)
    empty_repos: bool = False  # create repos without the Hub's initial commit (.gitattributes)
    secret: bytes | None = None  # HMAC key of presigned URLs; None = the one kept in ROOT
    upload_reuse: str = "new"  # "new": every batch starts a new multipart upload; "keep": reuse the one in progress
    max_file_size: int = MAX_FILE_SIZE  # larger LFS objects are refused at the batch, as on the Hub
    allow_hosts: tuple[str, ...] = ()  # Host header names (besides the bound address and loopback) used in hrefs

    @property
    def users(self) -> frozenset[str]:
        """Names of token holders; any other namespace is treated as an organisation."""
        return frozenset(self.tokens.values())
