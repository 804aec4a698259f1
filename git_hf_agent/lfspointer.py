"""Git LFS pointer files: recognise, parse and write them (git-lfs spec v1).

A pointer is the small text blob git stores in place of a file tracked by LFS::

    version https://git-lfs.github.com/spec/v1
    oid sha256:<64 lower-case hex digits>
    size <bytes>

git-lfs treats only blobs under 1024 bytes as candidate pointers and takes only
``version``, then extension lines (``ext-<digit>-<name>``), then ``oid`` and
``size``, nothing else; this parser is as strict (and takes extension lines
only before ``oid``), so a file that merely looks like a pointer is not mistaken
for one (``check`` would then call a real 20 GB object "small", and ``git hf
clone`` would write the object where git's checkout writes the text). A pointer
with extensions is smudged by git-lfs through the extension's program, not to
the object's bytes: :attr:`Pointer.extended` says so. Pure functions, no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_POINTER_SIZE = 1024
SPEC_URLS = ("https://git-lfs.github.com/spec/v1", "https://hawser.github.com/spec/v1")
_KEY = re.compile(r"^[a-z0-9.-]+\Z")  # \Z, not $: no trailing newline
_OID = re.compile(r"^sha256:([0-9a-f]{64})\Z")
_SIZE = re.compile(r"^(0|[1-9][0-9]*)\Z")
_EXT = re.compile(r"^ext-[0-9]-[A-Za-z0-9_]+\Z")


@dataclass(frozen=True)
class Pointer:
    """What an LFS pointer names: the object's sha256 (hex) and its size in bytes."""

    oid: str
    size: int
    extended: bool = False   # ext-N-name lines: git-lfs's smudge runs their programs over the object

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[0-9a-f]{64}", self.oid):
            raise ValueError(f"not a sha256 oid: {self.oid!r}")
        if self.size < 0:
            raise ValueError(f"negative size: {self.size}")

    def text(self) -> str:
        """The canonical pointer file, as ``git lfs clean`` writes it."""
        return f"version {SPEC_URLS[0]}\noid sha256:{self.oid}\nsize {self.size}\n"


def parse(data: bytes) -> Pointer | None:
    """Return the :class:`Pointer` ``data`` encodes, or None when it is not a valid pointer."""
    if len(data) >= MAX_POINTER_SIZE or not data.startswith(b"version "):
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    fields: list[tuple[str, str]] = []
    for line in lines:
        key, sep, value = line.partition(" ")
        if not sep or not _KEY.match(key):
            return None
        fields.append((key, value))
    if fields[0] != ("version", fields[0][1]) or fields[0][1] not in SPEC_URLS:
        return None
    rest = fields[1:]
    keys = [k for k, _ in rest]
    if keys != sorted(keys) or len(set(keys)) != len(keys) or [k for k in keys if not _EXT.match(k)] != ["oid", "size"]:
        return None
    values = dict(rest)
    oid = _OID.match(values.get("oid", ""))
    size = _SIZE.match(values.get("size", ""))
    if not oid or not size:
        return None
    return Pointer(oid.group(1), int(size.group(1)), extended=len(keys) > 2)
