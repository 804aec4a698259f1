"""git's index file, read just enough to record new stat data for entries whose content git already knows.

Why: after ``git hf clone`` has written a big LFS file into the work tree itself,
git must not take the file for modified. git decides that from the stat data in
the index (size, times, inode, ...): when it differs, git runs the clean filter
over the whole file (git-lfs hashes it again, at about 280 MB/s). git's own
checkout records the stat data as it writes; the only git command that records
it for a file written by someone else (``update-index --refresh``) does so by
running that clean filter. So this module rewrites the stat fields of named
entries in place, nothing else.

Format (git's ``Documentation/gitformat-index.txt``): a 12-byte header
(``DIRC``, version 2/3/4, entry count), the entries, extensions, and a trailing
hash (sha1 or sha256, as the repository's object format) over everything before
it (all zeros when git was told not to compute it, ``index.skipHash``). Each
entry starts with ten 32-bit stat fields (ctime s/ns, mtime s/ns, dev,
ino, mode, uid, gid, size, each truncated to 32 bits as git does), then the
object id, 16-bit flags, 16 more flag bits in version 3+ when the extended bit
is set, and the path: NUL-terminated and padded to 8 bytes in versions 2 and 3,
prefix-compressed in version 4. Rewriting the stat fields never changes an
entry's length, so every other byte (extensions included) is kept as it was.

Locking follows git: ``index.lock`` created exclusively, renamed over the index.
An index split in two (``link`` extension) is not handled: :class:`IndexUnusable`
says so and the caller lets git do the work.
"""

from __future__ import annotations

import hashlib
import os
import struct
import time
from dataclasses import dataclass
from pathlib import Path

_STAT = struct.Struct(">10I")
_FLAG_EXTENDED, _FLAG_ASSUME_VALID = 0x4000, 0x8000
_STAGE_MASK = 0x3000
_EXT_SKIP_WORKTREE, _EXT_INTENT_TO_ADD = 0x4000, 0x2000
_HASHES = {"sha1": (hashlib.sha1, 20), "sha256": (hashlib.sha256, 32)}
MTIME_WAIT_S = 3.0   # longest wait for the index to be a second newer than the files it describes


class IndexUnusable(Exception):
    """The index cannot be read or rewritten here (another git holds its lock, unknown format, split index)."""


@dataclass
class Entry:
    """One stage-0 entry git checks against the work tree: where its stat fields sit, its mode and object id."""

    offset: int
    mode: int
    oid: str


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    """git's offset varint (version 4 path compression): (value, position after it)."""
    byte = data[pos]
    value, pos = byte & 0x7F, pos + 1
    while byte & 0x80:
        byte = data[pos]
        value, pos = ((value + 1) << 7) | (byte & 0x7F), pos + 1
    return value, pos


def parse(data: bytes, object_format: str = "sha1") -> dict[bytes, Entry]:
    """The entries git compares with the work tree (stage 0, not skip-worktree, intent-to-add or assume-valid),
    by path. :class:`IndexUnusable` for anything that is not a whole index of version 2, 3 or 4."""
    if object_format not in _HASHES:
        raise IndexUnusable(f"object format {object_format!r} is not supported")
    new_hash, hash_len = _HASHES[object_format]
    if len(data) < 12 + hash_len or data[:4] != b"DIRC":
        raise IndexUnusable("not a git index")
    trailer = data[-hash_len:]
    if trailer != bytes(hash_len) and new_hash(data[:-hash_len]).digest() != trailer:   # zeros: index.skipHash
        raise IndexUnusable("the index's checksum does not match")
    version, count = struct.unpack_from(">II", data, 4)
    if version not in (2, 3, 4):
        raise IndexUnusable(f"index version {version} is not supported")
    entries: dict[bytes, Entry] = {}
    pos, previous, end = 12, b"", len(data) - hash_len
    try:
        for _ in range(count):
            start = pos
            mode = _STAT.unpack_from(data, pos)[6]
            pos += _STAT.size
            oid = data[pos:pos + hash_len].hex()
            pos += hash_len
            (flags,) = struct.unpack_from(">H", data, pos)
            pos += 2
            extended = 0
            if flags & _FLAG_EXTENDED:
                if version < 3:
                    raise IndexUnusable("extended flags in a version 2 index")
                (extended,) = struct.unpack_from(">H", data, pos)
                pos += 2
            if version == 4:
                strip, pos = _varint(data, pos)
                nul = data.index(b"\0", pos)
                if strip > len(previous):
                    raise IndexUnusable("a path strips more than the previous one holds")
                path = previous[:len(previous) - strip] + data[pos:nul]
                pos = nul + 1
            else:
                nul = data.index(b"\0", pos)
                path = data[pos:nul]
                pos = start + ((pos - start + len(path) + 8) & ~7)
            if pos > end:
                raise IndexUnusable("an entry runs past the end of the index")
            previous = path
            skipped = (flags & (_STAGE_MASK | _FLAG_ASSUME_VALID)) or (extended & (_EXT_SKIP_WORKTREE | _EXT_INTENT_TO_ADD))
            if not skipped:
                entries[path] = Entry(start, mode, oid)
        while pos < end:   # extensions: a 4-byte signature and a 4-byte size each
            signature, size = data[pos:pos + 4], struct.unpack_from(">I", data, pos + 4)[0]
            if signature == b"link":
                raise IndexUnusable("a split index (core.splitIndex) is not supported")
            pos += 8 + size
    except (struct.error, ValueError, IndexError) as exc:
        raise IndexUnusable(f"the index is truncated or damaged ({exc})") from None
    if pos != end:
        raise IndexUnusable("the index's extensions do not end at its checksum")
    return entries


def with_stat(data: bytes, updates: dict[int, os.stat_result], object_format: str = "sha1") -> bytes:
    """``data`` with the stat fields of the entries at the given offsets set from the stat results
    (mode kept), and a new trailing checksum (zeros again when git wrote zeros: ``index.skipHash``)."""
    new_hash, hash_len = _HASHES[object_format]
    out = bytearray(data[:-hash_len])
    low = 0xFFFFFFFF
    for offset, st in updates.items():
        mode = _STAT.unpack_from(out, offset)[6]
        _STAT.pack_into(out, offset, (st.st_ctime_ns // 10**9) & low, st.st_ctime_ns % 10**9,
                        (st.st_mtime_ns // 10**9) & low, st.st_mtime_ns % 10**9, st.st_dev & low, st.st_ino & low,
                        mode, st.st_uid & low, st.st_gid & low, st.st_size & low)
    out += bytes(hash_len) if data[-hash_len:] == bytes(hash_len) else new_hash(out).digest()
    return bytes(out)


class IndexLock:
    """``<index>.lock``, held as git holds it; :meth:`commit` renames it over the index, leaving without
    committing removes it (the index is untouched)."""

    def __init__(self, index: Path) -> None:
        self.index, self.path = index, index.with_name(index.name + ".lock")
        self.fd: int | None = None
        self.committed = False

    def __enter__(self) -> "IndexLock":
        try:
            self.fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            raise IndexUnusable(f"{self.path} exists: another git command is running") from None
        except OSError as exc:
            raise IndexUnusable(f"cannot create {self.path}: {exc.strerror}") from None
        return self

    def commit(self, data: bytes, newer_than_ns: int) -> None:
        """Write ``data`` and rename it over the index, once the lock file's mtime is in a later second than
        ``newer_than_ns``: git takes an entry whose mtime is not older than the index's own for possibly
        modified ("racy") and compares its content, through the clean filter, and git built without
        nanosecond times compares whole seconds. So this waits up to a second (never past
        ``MTIME_WAIT_S``: files stamped by a clock far ahead, as on a skewed network file system,
        give up with IndexUnusable and leave the index as it was; git then compares those files'
        content, through the clean filter, on its next look at them, which is slower but right)."""
        assert self.fd is not None
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view):]
        deadline = time.monotonic() + MTIME_WAIT_S
        second = newer_than_ns // 10**9
        while os.fstat(self.fd).st_mtime_ns // 10**9 <= second:
            left = deadline - time.monotonic()
            if left <= 0:
                raise IndexUnusable("the clock does not move past the files' modification times")
            # to just past the next second: file times come from a clock a few ms behind time.time()
            time.sleep(min(left, max(0.005, second + 1.01 - time.time())))
            os.utime(self.fd)
        os.close(self.fd)
        self.fd = None
        os.replace(self.path, self.index)
        self.committed = True

    def __exit__(self, *exc) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        if not self.committed:
            self.path.unlink(missing_ok=True)
