"""``git hf clone``'s checkout of big LFS files: copy each object into the work tree, then tell git's index.

git's checkout through git-lfs's smudge filter moves every byte through a pipe
into git, which holds the whole file in memory before writing it: about 30 s for
6 GiB. Here the kernel copies the object (``copy_file_range``) beside the pointer
file, renames it over it, and the new stat data is written into the index
(:mod:`git_hf_agent.gitindex`), so git sees a clean work tree without hashing
anything again. A big object's copy is usually made while it downloads
(:class:`git_hf_agent.agent.ranges.Mirror`) and only moved into place here.

A file is written only when git's checkout would write exactly the object and
nothing would be lost: its index entry is a regular file at stage 0, the work tree
file is still exactly the pointer that entry records, ``.gitattributes`` gives it
``filter=lfs``, does not make it ``lockable`` (git-lfs makes those read-only) and
asks for no conversion (end of line, ``ident``, encoding). Everything else is
left to git's own checkout by the caller.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from git_hf_agent import gitindex
from git_hf_agent.lfspointer import MAX_POINTER_SIZE
from git_hf_agent.lfspointer import parse as parse_pointer

REGULAR, EXECUTABLE = 0o100644, 0o100755


def _repo_facts() -> tuple[str, Path]:
    """(object format, index path) of the repository in the working directory."""
    out = subprocess.run(["git", "rev-parse", "--show-object-format", "--git-path", "index"],
                         capture_output=True, text=True, timeout=60)
    lines = out.stdout.splitlines()
    if out.returncode != 0 or len(lines) != 2:
        raise gitindex.IndexUnusable(f"git rev-parse failed: {out.stderr.strip()[-300:]}")
    return lines[0], Path(lines[1])


_ATTRS = ("filter", "lockable", "text", "eol", "ident", "working-tree-encoding")


def _written_as_is(paths: list[bytes]) -> set[bytes]:
    """The paths git's checkout would fill with exactly the object's bytes: ``filter=lfs``, not ``lockable``
    (git-lfs makes those read-only), no ``ident`` or ``working-tree-encoding``, and no end-of-line
    conversion: ``-text``, or no text/eol attribute while ``core.autocrlf`` is not ``true``."""
    out = subprocess.run(["git", "check-attr", "-z", "--stdin", *_ATTRS],
                         input=b"\0".join(paths) + b"\0", capture_output=True, timeout=300)
    autocrlf = subprocess.run(["git", "config", "--type=bool", "core.autocrlf"], capture_output=True, text=True,
                              timeout=60).stdout.strip()   # "input" is no bool: git checks nothing out converted then
    if out.returncode != 0:
        raise gitindex.IndexUnusable(f"git check-attr failed: {out.stderr.decode(errors='replace').strip()[-300:]}")
    fields = out.stdout.split(b"\0")
    attrs: dict[bytes, dict[bytes, bytes]] = {}
    for i in range(0, len(fields) - 2, 3):
        attrs.setdefault(fields[i], {})[fields[i + 1]] = fields[i + 2]

    def as_is(a: dict[bytes, bytes]) -> bool:
        plain = a.get(b"text") == b"unset" or (
            a.get(b"text") == b"unspecified" and a.get(b"eol") == b"unspecified" and autocrlf != "true")
        return (a.get(b"filter") == b"lfs" and a.get(b"lockable") == b"unspecified" and plain
                and a.get(b"ident") in (b"unspecified", b"unset") and a.get(b"working-tree-encoding") == b"unspecified")

    return {p for p, a in attrs.items() if as_is(a)}


def _blob_id(content: bytes, object_format: str) -> str:
    new_hash = hashlib.sha256 if object_format == "sha256" else hashlib.sha1
    return new_hash(b"blob %d\0" % len(content) + content).hexdigest()


def pointer_text(name: str) -> bytes | None:
    """The content of work tree file ``name`` when it is small enough to be an LFS pointer; None for a
    longer file, a symlink or one that cannot be read."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as fh:
        content = fh.read(MAX_POINTER_SIZE + 1)
    return content if len(content) <= MAX_POINTER_SIZE else None


def _still_pointer(name: str, entry: gitindex.Entry, oid: str, object_format: str):
    """The pointer in work tree file ``name`` when it is a regular file holding exactly the pointer blob the
    index records, for ``oid``, without extensions (git-lfs smudges those through their programs); else None."""
    content = pointer_text(name)
    pointer = parse_pointer(content) if content is not None else None
    if pointer is None or pointer.extended or pointer.oid != oid or _blob_id(content, object_format) != entry.oid:
        return None
    return pointer


def _umask() -> int:
    """The process's umask, read without changing it (another thread may be creating files meanwhile)."""
    try:
        with open("/proc/self/status", "rb") as fh:
            for line in fh:
                if line.startswith(b"Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    umask = os.umask(0o022)   # no /proc: the classic way, briefly
    os.umask(umask)
    return umask


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return -1


def _inside_work_tree(name: str) -> bool:
    """No directory on the way to ``name`` is a symlink (git never writes through one; a crafted index might)."""
    directory = os.path.dirname(os.path.abspath(name))
    return os.path.realpath(directory) == directory


def _copy(source: Path, name: str, mode: int) -> os.stat_result:
    """Copy ``source`` to a temp file beside ``name`` (mode as git would create it), rename it over ``name``."""
    temp = os.path.join(os.path.dirname(name), f".git-hf-{os.getpid()}.tmp")   # short: any file name fits
    out = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o777 if mode == EXECUTABLE else 0o666)
    try:
        with open(source, "rb") as src, os.fdopen(out, "wb") as dst:
            _copy_data(src, dst)
        os.replace(temp, name)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return os.lstat(name)


def _move(prepared: Path, name: str, mode: int, umask: int) -> os.stat_result:
    """Rename a copy made while the object downloaded over ``name`` (executable if git records it so)."""
    if mode == EXECUTABLE:
        os.chmod(prepared, 0o777 & ~umask)
    os.replace(prepared, name)
    return os.lstat(name)


def _copy_data(src, dst) -> None:
    """Copy in the kernel (no pass through this process's memory); a plain copy where the file systems refuse."""
    from git_hf_agent.agent.ranges import copy_range

    try:
        copy_range(src.fileno(), dst.fileno(), 0, os.fstat(src.fileno()).st_size)
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
            raise
        dst.truncate(0)   # from the start: explicit offsets moved neither file's position
        shutil.copyfileobj(src, dst, 1 << 20)


def place(pointers: list[tuple[bytes, str, Path]], ready: dict[str, Path] | None = None) -> set[bytes]:
    """Write each (path, oid, object file) into the work tree where git would smudge it, and record the
    files in the index; returns the paths done. ``ready`` maps oids to copies already made (see
    :func:`git_hf_agent.cli.lfsfetch.fetch_head_objects`): each is moved into place once, instead of
    copying the object. :class:`gitindex.IndexUnusable` when the index cannot be used here (nothing
    written then); an ``OSError`` while copying keeps the files done before it (in the index too) and
    propagates."""
    if not pointers:
        return set()
    ready = ready if ready is not None else {}
    umask = _umask()
    object_format, index = _repo_facts()
    lfs_paths = _written_as_is([p for p, _, _ in pointers])
    done: set[bytes] = set()
    with gitindex.IndexLock(index) as lock:
        try:
            data = index.read_bytes()
        except OSError as exc:
            raise gitindex.IndexUnusable(f"cannot read {index}: {exc.strerror}") from None
        entries = gitindex.parse(data, object_format)
        updates: dict[int, os.stat_result] = {}
        newest = 0
        try:
            for path, oid, source in pointers:
                entry, name = entries.get(path), os.fsdecode(path)
                if (path not in lfs_paths or entry is None or entry.mode not in (REGULAR, EXECUTABLE)
                        or not _inside_work_tree(name)):
                    continue
                pointer = _still_pointer(name, entry, oid, object_format)
                prepared = ready.get(oid)
                if pointer is None or (prepared is None and _size(source) != pointer.size):
                    continue   # git's checkout (git-lfs's smudge refetches an object of the wrong size)
                ready.pop(oid, None)
                try:
                    st = _move(prepared, name, entry.mode, umask) if prepared else _copy(source, name, entry.mode)
                except OSError:
                    if not prepared:
                        raise
                    prepared.unlink(missing_ok=True)   # e.g. on another file system: copy the object instead
                    st = _copy(source, name, entry.mode)
                updates[entry.offset] = st
                newest = max(newest, st.st_mtime_ns)   # git compares the index's mtime with mtimes only
                done.add(path)
        finally:
            if updates:
                lock.commit(gitindex.with_stat(data, updates, object_format), newest)
    return done
