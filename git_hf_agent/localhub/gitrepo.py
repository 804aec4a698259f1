"""Read and write the local Hub's bare repos with git plumbing (no work tree).

Used by the Hub API routes: resolve revisions, list trees with LFS pointer
details, read blobs, and build commits from huggingface_hub's ndjson operations
(blobs streamed into one ``git fast-import``, then a temporary index +
``write-tree`` + ``commit-tree`` + compare-and-swap ``update-ref``, so a
concurrent push never gets overwritten). Every path argument is literal
(``GIT_LITERAL_PATHSPECS``): a repo path is never read as pathspec magic.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from git_hf_agent.lfspointer import MAX_POINTER_SIZE as POINTER_MAX
from git_hf_agent.lfspointer import Pointer, parse as parse_pointer

ZERO = "0" * 40


class GitError(Exception):
    """A git plumbing command failed."""


class MissingPath(GitError):
    """A deletion named a path that the parent commit does not hold."""


class BlobWriter:
    """Write many blobs through one ``git fast-import`` (no process per file); ids computed here.

    Started on the first blob; :meth:`close` makes the blobs visible, :meth:`abort`
    drops them (fast-import writes nothing on a kill).
    """

    def __init__(self, repo_path: Path) -> None:
        self.repo_path = repo_path
        self.proc: subprocess.Popen | None = None

    def write(self, data: bytes) -> str:
        if self.proc is None:
            self.proc = subprocess.Popen(["git", "fast-import", "--quiet", "--done"], cwd=self.repo_path,
                                         stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            self.proc.stdin.write(b"blob\ndata %d\n" % len(data))
            self.proc.stdin.write(data)
            self.proc.stdin.write(b"\n")
        except BrokenPipeError:
            raise GitError(self._stop()) from None
        return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()

    def close(self) -> None:
        if self.proc is None:
            return
        try:
            self.proc.stdin.write(b"done\n")
            self.proc.stdin.close()
        except BrokenPipeError:
            pass
        message = self._stop()
        if self.proc.returncode != 0:
            raise GitError(message)

    def abort(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
        if self.proc is not None:
            self._stop()

    def _stop(self) -> str:
        err = self.proc.stderr.read() if self.proc.stderr else b""
        self.proc.wait()
        return err.decode(errors="replace").strip()[-500:] or "git fast-import failed"


@dataclass
class Entry:
    """One tree entry at a revision; ``lfs`` is the :class:`Pointer` when the blob is an LFS pointer."""

    path: str
    type: str  # "file" | "directory"
    oid: str
    size: int
    lfs: Pointer | None = None

    def as_json(self) -> dict:
        if self.type == "directory":
            return {"type": "directory", "oid": self.oid, "size": 0, "path": self.path}
        item = {"type": "file", "oid": self.oid, "size": self.lfs.size if self.lfs else self.size, "path": self.path}
        if self.lfs:
            item["lfs"] = {"oid": self.lfs.oid, "size": self.lfs.size, "pointerSize": self.size}
        return item


class GitRepo:
    """A bare repository on disk."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def git(self, *args: str, input: bytes | None = None, env: dict | None = None) -> bytes:
        proc = subprocess.run(["git", *args], cwd=self.path, input=input, capture_output=True,
                              env={**os.environ, "GIT_LITERAL_PATHSPECS": "1", **(env or {})})
        if proc.returncode != 0:
            raise GitError(proc.stderr.decode(errors="replace").strip()[-500:])
        return proc.stdout

    def resolve(self, rev: str) -> str | None:
        """Commit id of a branch, tag or (abbreviated) commit id; None when unknown or the repo is empty."""
        if not rev or rev.startswith("-"):
            return None
        try:
            return self.git("rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}").decode().strip()
        except GitError:
            return None

    def entries(self, commit: str, path: str = "", recursive: bool = False) -> list[Entry]:
        """Entries of the folder ``path`` (all below it when ``recursive``) at ``commit``."""
        args = ["ls-tree", "-l", "-z"]
        if recursive:
            args += ["-r", "-t"]
        target = f"{commit}:{path}" if path else commit
        try:
            out = self.git(*args, target)
        except GitError:
            return []
        return self._with_lfs(self._parse_ls_tree(out, prefix=f"{path}/" if path else ""))

    def lookup(self, commit: str, paths: list[str]) -> list[Entry]:
        """Entries for exact paths (files or folders) at ``commit``; missing paths are skipped."""
        if not paths:
            return []
        try:
            out = self.git("ls-tree", "-l", "-z", "--full-tree", commit, "--", *paths)
        except GitError:
            return []
        wanted = set(paths)
        return self._with_lfs([e for e in self._parse_ls_tree(out, "") if e.path in wanted])

    @staticmethod
    def _parse_ls_tree(out: bytes, prefix: str) -> list[Entry]:
        entries = []
        for record in out.split(b"\0"):
            if not record:
                continue
            meta, _, name = record.decode(errors="surrogateescape").partition("\t")
            mode, kind, oid, size = meta.split()
            if kind == "commit":
                continue  # submodules are not served
            entries.append(Entry(prefix + name, "directory" if kind == "tree" else "file", oid,
                                 0 if size == "-" else int(size)))
        return entries

    def _with_lfs(self, entries: list[Entry]) -> list[Entry]:
        small = [e for e in entries if e.type == "file" and e.size <= POINTER_MAX]
        if small:
            blobs = self.heads([e.oid for e in small], POINTER_MAX)
            for e in small:
                e.lfs = parse_pointer(blobs.get(e.oid, b""))
        return entries

    def heads(self, oids: list[str], limit: int) -> dict[str, bytes]:
        """The first ``limit`` bytes of each blob, streamed (a large blob is never held whole)."""
        if not oids:
            return {}
        proc = subprocess.Popen(["git", "cat-file", "--batch"], cwd=self.path, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        feeder = threading.Thread(target=_feed_lines, args=(proc.stdin, oids), daemon=True)
        feeder.start()
        found = {}
        try:
            for _ in oids:
                header = proc.stdout.readline().split()
                if not header or header[-1] == b"missing":
                    continue
                size = int(header[2])
                found[header[0].decode()] = proc.stdout.read(min(size, limit))
                _skip(proc.stdout, size - min(size, limit) + 1)  # the rest and the trailing newline
        finally:
            feeder.join()
            proc.stdout.close()
            proc.wait()
        return found

    def blob(self, oid: str) -> bytes:
        return self.git("cat-file", "blob", oid)

    def commit(self, branch: str, parent: str | None, operations: list[tuple[str, str, str | None]],
               message: str, author: tuple[str, str]) -> str:
        """Create a commit on ``branch`` from ``parent`` and move the branch (compare-and-swap).

        ``operations`` in order: ``("add", path, blob id)``, ``("delete", path, None)``
        (a file) or ``("folder", path, None)`` (everything below it). Deleting a path the
        parent does not hold raises :class:`MissingPath`.
        """
        with tempfile.TemporaryDirectory(prefix="localhub-index-") as tmp:
            env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
            self.git("read-tree", *([parent] if parent else ["--empty"]), env=env)
            lines = []
            for kind, path, blob in operations:
                if kind == "add":
                    lines.append(f"100644 {blob}\t{path}")
                else:
                    lines += [f"0 {ZERO}\t{p}" for p in self._existing(parent, path, folder=kind == "folder")]
            proc = subprocess.run(["git", "update-index", "--index-info"], cwd=self.path, capture_output=True,
                                  input="".join(f"{line}\n" for line in lines).encode(), env={**os.environ, **env})
            if proc.returncode != 0 or b"Ignoring path" in proc.stderr:
                raise GitError(proc.stderr.decode(errors="replace").strip()[-500:])
            tree = self.git("write-tree", env=env).decode().strip()
        who = {"GIT_AUTHOR_NAME": author[0], "GIT_AUTHOR_EMAIL": author[1],
               "GIT_COMMITTER_NAME": author[0], "GIT_COMMITTER_EMAIL": author[1]}
        args = ["commit-tree", tree, *(["-p", parent] if parent else [])]
        commit = self.git(*args, input=message.encode(), env=who).decode().strip()
        self.git("update-ref", f"refs/heads/{branch}", commit, parent or ZERO)
        return commit

    def _existing(self, parent: str | None, path: str, folder: bool) -> list[str]:
        """The literal ``path`` (a file) or the files below the folder ``path`` at ``parent``."""
        found = self.lookup(parent, [path]) if parent else []
        kind = "directory" if folder else "file"
        if not found or found[0].type != kind:
            raise MissingPath(f"{'Folder' if folder else 'File'} {path} does not exist in the parent commit")
        if not folder:
            return [path]
        out = self.git("ls-tree", "-r", "-z", "--name-only", f"{parent}:{path}")
        return [f"{path}/{name}" for name in out.decode(errors="surrogateescape").split("\0") if name]

    def last_commit(self, commit: str, path: str) -> dict | None:
        """The newest commit at or before ``commit`` that touched ``path``: id, title, Hub-format date."""
        out = self.git("log", "-1", "--format=%H%x00%ct%x00%s", commit, "--", path).decode(errors="replace")
        fields = out.strip("\n").split("\0")
        if len(fields) != 3:
            return None
        return {"id": fields[0], "title": fields[2], "date": _hub_date(fields[1])}

    def commit_date(self, commit: str) -> str:
        """Committer date in the Hub's format (``2026-01-01T00:00:00.000Z``)."""
        return _hub_date(self.git("show", "-s", "--format=%ct", commit).decode())

    def refs(self) -> list[tuple[str, str]]:
        """(full ref name, commit) of every branch and tag."""
        out = self.git("for-each-ref", "--format=%(refname) %(objectname)", "refs/heads", "refs/tags").decode()
        return [tuple(line.split(" ", 1)) for line in out.splitlines() if line]

    def log(self, commit: str, limit: int = 1000) -> list[dict]:
        """Newest-first history of ``commit``: id, author, Hub-format date, title, message."""
        out = self.git("log", f"--max-count={limit}", "--format=%H%x00%an%x00%ct%x00%s%x00%B%x1e", commit).decode()
        history = []
        for record in out.split("\x1e"):
            fields = record.strip("\n").split("\0")
            if len(fields) == 5:
                history.append({"id": fields[0], "author": fields[1], "date": _hub_date(fields[2]),
                                "title": fields[3], "message": fields[4].strip()})
        return history


def _feed_lines(stream, items: list[str]) -> None:
    try:
        for item in items:
            stream.write(f"{item}\n".encode())
        stream.close()
    except BrokenPipeError:
        pass


def _skip(stream, n: int) -> None:
    while n > 0:
        chunk = stream.read(min(n, 1 << 20))
        if not chunk:
            return
        n -= len(chunk)


def _hub_date(unix: str) -> str:
    return datetime.fromtimestamp(int(unix.strip()), tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
