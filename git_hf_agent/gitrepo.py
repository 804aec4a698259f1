"""Every read of a git repository that ``git hf`` does, plus its few ``git`` subprocess calls.

Trees, blobs, history ranges and LFS pointers are read with pygit2 (libgit2 in
process: listing 100k files costs no subprocess per file, and blob sizes come
from object headers, so a 50 GB file is never read). Configuration and
attributes are read through ``git`` itself, once per command, because libgit2
ignores ``GIT_CONFIG_GLOBAL``/``GIT_CONFIG_NOSYSTEM``/``-c`` and so can disagree
with the git that will actually push. Commands that change the repository
(add, commit, push) are real ``git`` subprocesses (pre-commit's ``git.py``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import pygit2
from pygit2.enums import DeltaStatus, ObjectType, SortMode

from git_hf_agent import lfspointer
from git_hf_agent.errors import HfError
from git_hf_agent.redact import redact_text

GITLINK_MODE = 0o160000
SYMLINK_MODE = 0o120000
TREE_MODE = 0o040000
# Commands `huggingface-cli`/`hf lfs-enable-largefiles` registered as the agent (docs/agent.md).
OLD_AGENT_COMMANDS = ("huggingface-cli", "hf", "transformers-cli")


def run_git(
    args: Sequence[str], cwd: Path | str | None = None, *, check: bool = True, capture: bool = True,
    input: str | bytes | None = None, env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess:
    """Run ``git ARGS``; with ``check`` a failure becomes an :class:`HfError` quoting git's stderr."""
    if shutil.which("git") is None:
        raise HfError("git is not installed", fix="install git (e.g. `apt-get install git`), then retry")
    proc = subprocess.run(
        ["git", *args], cwd=cwd, input=input, env=env,
        stdout=subprocess.PIPE if capture else None, stderr=subprocess.PIPE if capture else None,
    )
    if check and proc.returncode != 0:
        detail = (proc.stderr or b"").decode(errors="replace").strip() if capture else ""
        # args and git's message may hold a URL with user:token@: redacted before printing
        raise HfError(redact_text(f"`git {' '.join(args)}` failed (exit {proc.returncode})" + (f": {detail}" if detail else "")))
    return proc


def git_lfs_version() -> str | None:
    """``git lfs version`` output, or None when git-lfs is not installed."""
    if shutil.which("git-lfs") is None:
        return None
    proc = subprocess.run(["git", "lfs", "version"], capture_output=True, text=True)
    return proc.stdout.strip() if proc.returncode == 0 else None


@dataclass(frozen=True)
class Blob:
    """A file as git stores it: path in the tree, blob id (hex), mode, and the commit it came from."""

    path: str
    oid: str
    mode: int
    commit: str = ""


@dataclass
class TreeShape:
    """How many files a tree holds in all and how many entries each folder has."""

    files: int
    folder_entries: dict[str, int]


class GitRepo:
    """A work tree (or bare repo) found from ``start``; raises HfError outside a repository."""

    def __init__(self, start: Path | str | None = None) -> None:
        found = pygit2.discover_repository(str(start or os.getcwd()))
        if found is None:
            raise HfError(
                f"not a git repository: {Path(start or os.getcwd()).resolve()}",
                fix="run this inside a clone of a Hub repo (`git hf clone NAMESPACE/NAME`)",
            )
        self.repo = pygit2.Repository(found)
        self._config: dict[str, list[str]] | None = None

    # -- locations -----------------------------------------------------------------
    @property
    def workdir(self) -> Path:
        """The work tree root; HfError in a bare repository."""
        if self.repo.workdir is None:
            raise HfError("this is a bare repository", fix="run the command in a clone with a work tree")
        return Path(self.repo.workdir)

    @property
    def git_dir(self) -> Path:
        return Path(self.repo.path)

    @property
    def cwd(self) -> Path:
        return Path(self.repo.workdir or self.repo.path)

    def git(self, *args: str, **kwargs) -> subprocess.CompletedProcess:
        """``git ARGS`` run at the top of this repository (see :func:`run_git`)."""
        return run_git(args, cwd=self.cwd, **kwargs)

    @contextmanager
    def index_restored_on_error(self) -> Iterator[None]:
        """Put the index back byte for byte when the block raises (a failed ``git hf commit``
        leaves the index as it found it); the copy lives in the git dir, never outside it."""
        index = Path(self.git("rev-parse", "--git-path", "index").stdout.decode().strip())
        index = index if index.is_absolute() else self.cwd / index
        backup: Path | None = None
        if index.is_file():
            fd, name = tempfile.mkstemp(prefix="hf-index-", dir=index.parent)
            os.close(fd)
            backup = Path(name)
            shutil.copy2(index, backup)
        try:
            yield
        except BaseException:
            if backup is not None:
                os.replace(backup, index)
                backup = None
            else:
                index.unlink(missing_ok=True)
            raise
        finally:
            if backup is not None:
                backup.unlink(missing_ok=True)

    # -- configuration -----------------------------------------------------------
    def config(self) -> dict[str, list[str]]:
        """Effective git config as git sees it (every value of every key, last one wins)."""
        if self._config is None:
            out = self.git("config", "-z", "--list", check=False).stdout or b""
            config: dict[str, list[str]] = {}
            for item in out.decode(errors="replace").split("\0"):
                if item:
                    key, _, value = item.partition("\n")
                    config.setdefault(key, []).append(value)
            self._config = config
        return self._config

    def config_get(self, key: str) -> str | None:
        values = self.config().get(_canonical(key))
        return values[-1] if values else None

    def current_branch(self) -> str | None:
        """Short name of the checked-out branch; None when HEAD is detached."""
        if self.repo.head_is_detached:
            return None
        target = self.repo.lookup_reference("HEAD").target
        return target.removeprefix("refs/heads/") if isinstance(target, str) else None

    def upstream(self, branch: str | None) -> tuple[str, str] | None:
        """(remote, remote branch) ``branch`` tracks, from ``branch.<name>.remote/merge``."""
        if not branch:
            return None
        remote = self.config_get(f"branch.{branch}.remote")
        merge = self.config_get(f"branch.{branch}.merge")
        if not remote or not merge or remote == ".":
            return None
        return remote, merge.removeprefix("refs/heads/")

    def default_remote(self) -> str:
        """The current branch's upstream remote, else ``origin``, else the only remote."""
        up = self.upstream(self.current_branch())
        if up:
            return up[0]
        remotes = sorted({k.split(".")[1] for k in self.config() if k.startswith("remote.") and k.endswith(".url")})
        if "origin" in remotes or not remotes:
            return "origin"
        if len(remotes) == 1:
            return remotes[0]
        raise HfError(f"several remotes ({', '.join(remotes)}) and none is the upstream", fix="name the remote, e.g. `git hf push origin`")

    def remote_url(self, remote: str) -> str:
        """The URL of remote ``remote``; a URL given in its place is its own answer (as for ``git push URL``)."""
        if "://" in remote:
            return remote
        url = self.config_get(f"remote.{remote}.url")
        if not url:
            raise HfError(f"no remote named {remote!r}", fix=f"add it: `git remote add {remote} https://huggingface.co/NAMESPACE/NAME`")
        return url

    def remote_commits(self, remote: str) -> list[pygit2.Oid]:
        """Commits of every ``refs/remotes/<remote>/*`` ref: what the remote already has."""
        prefix = f"refs/remotes/{remote}/"
        ids = []
        for name in self.repo.references:
            if name.startswith(prefix) and not name.endswith("/HEAD"):
                try:
                    ids.append(self.repo.lookup_reference(name).peel(pygit2.Commit).id)
                except (pygit2.GitError, KeyError, ValueError):
                    continue
        return ids

    def agent_problem(self) -> str | None:
        """Why the ``multipart`` transfer agent cannot run for this repo, or None when it can."""
        path = self.config_get("lfs.customtransfer.multipart.path")
        if not path:
            return "no multipart transfer agent is registered (lfs.customtransfer.multipart.path is not set)"
        program = path if os.path.isabs(path) else path.split()[0]
        if os.path.basename(program) in OLD_AGENT_COMMANDS:
            return (f"the registered multipart agent is huggingface_hub's `{os.path.basename(program)} "
                    "lfs-multipart-upload`, a command that was removed")
        if os.path.isabs(program) and os.access(program, os.X_OK) or shutil.which(program):
            return None
        return f"the registered multipart agent {path!r} is not installed"

    def pre_push_hook(self) -> tuple[Path, str | None]:
        """Where git looks for the pre-push hook (``core.hooksPath`` honoured) and its text, None when absent."""
        hooks = self.config_get("core.hookspath")
        hook = (self.cwd / Path(hooks).expanduser() if hooks else self.git_dir / "hooks") / "pre-push"
        try:
            return hook, hook.read_text(errors="replace")
        except OSError:
            return hook, None

    def lfs_filter_missing(self) -> bool:
        """True when ``git add`` would not run git-lfs (no filter.lfs.*) or no pre-push hook exists at all."""
        filter_set = self.config_get("filter.lfs.process") or self.config_get("filter.lfs.clean")
        return not filter_set or self.pre_push_hook()[1] is None

    # -- work tree -----------------------------------------------------------------
    def status(self, paths: Sequence[str] = ()) -> list[tuple[str, str]]:
        """``(XY, path)`` of every change in the index and work tree (``git status --porcelain``)."""
        out = self.git("status", "--porcelain=v1", "-z", "--untracked-files=all", "--", *paths).stdout
        items = out.decode("utf-8", errors="surrogateescape").split("\0")
        changes, i = [], 0
        while i < len(items):
            item = items[i]
            i += 1
            if len(item) < 4:
                continue
            xy, path = item[:2], item[3:]
            if xy[0] in "RC":
                i += 1  # the next field is the rename's source path
            changes.append((xy, path))
        return changes

    def lfs_tracked(self, paths: Sequence[str]) -> set[str]:
        """Which ``paths`` .gitattributes already sends through the LFS filter (one ``git check-attr``)."""
        if not paths:
            return set()
        data = "".join(f"{p}\0" for p in paths).encode("utf-8", errors="surrogateescape")
        out = self.git("check-attr", "-z", "--stdin", "filter", input=data).stdout
        fields = out.decode("utf-8", errors="surrogateescape").split("\0")
        return {fields[i] for i in range(0, len(fields) - 2, 3) if fields[i + 2] == "lfs"}

    # -- objects -----------------------------------------------------------------
    def commit(self, rev: str) -> pygit2.Commit:
        """The commit ``rev`` names; HfError for an unknown revision or an empty repository."""
        try:
            return self.repo.revparse_single(rev).peel(pygit2.Commit)
        except (KeyError, ValueError, pygit2.GitError, pygit2.InvalidSpecError):
            if rev == "HEAD" and self.repo.head_is_unborn:
                raise HfError("this repository has no commits yet", fix="commit first: `git hf commit -m MESSAGE`") from None
            raise HfError(f"unknown revision {rev!r}", fix="name a branch, tag or commit (e.g. HEAD)") from None

    def tree_files(self, commit: pygit2.Commit) -> tuple[list[Blob], TreeShape]:
        """Every file of ``commit``'s tree (submodules skipped) and the tree's shape."""
        files: list[Blob] = []
        folders: dict[str, int] = {}
        cid = str(commit.id)
        stack: list[tuple[str, pygit2.Tree]] = [("", commit.tree)]
        while stack:
            prefix, tree = stack.pop()
            folders[prefix.rstrip("/") or "."] = len(tree)
            for entry in tree:
                if entry.filemode == TREE_MODE:
                    stack.append((f"{prefix}{entry.name}/", self.repo[entry.id]))
                elif entry.filemode != GITLINK_MODE:
                    files.append(Blob(prefix + entry.name, str(entry.id), entry.filemode, cid))
        return files, TreeShape(len(files), folders)

    def new_files(self, commit: pygit2.Commit, known: Sequence[pygit2.Oid]) -> Iterator[Blob]:
        """Each file (path and content) added or changed by commits reachable from ``commit`` but not ``known``.

        This is what ``git push`` sends when the remote has ``known``: every commit of
        the range, including files later deleted (the Hub checks all of them).
        """
        walker = self.repo.walk(commit.id, SortMode.TOPOLOGICAL)
        for oid in known:
            walker.hide(oid)
        seen: set[tuple[str, str]] = set()  # (path, blob): two files with equal content are two files
        for c in walker:
            diff = c.parents[0].tree.diff_to_tree(c.tree) if c.parents else c.tree.diff_to_tree(swap=True)
            for delta in diff.deltas:
                new = delta.new_file
                if delta.status == DeltaStatus.DELETED or new.mode in (GITLINK_MODE, TREE_MODE):
                    continue
                key = (new.path, str(new.id))
                if key not in seen:
                    seen.add(key)
                    yield Blob(new.path, key[1], new.mode, str(c.id))

    def blob_size(self, oid: str) -> int:
        """Size of a blob from its header (the content is not read)."""
        kind, size = self.repo.odb.read_header(pygit2.Oid(hex=oid))
        if kind != ObjectType.BLOB:
            raise HfError(f"object {oid} is not a file")
        return size

    def blob_head(self, oid: str, limit: int) -> bytes:
        """The first ``limit`` bytes of a blob (call only for blobs of bounded size)."""
        return self.repo[pygit2.Oid(hex=oid)].data[:limit]

    def pointer(self, oid: str, size: int | None = None) -> lfspointer.Pointer | None:
        """The LFS pointer blob ``oid`` holds, or None when it is a regular file."""
        if size is None:
            size = self.blob_size(oid)
        if size >= lfspointer.MAX_POINTER_SIZE:
            return None
        return lfspointer.parse(self.blob_head(oid, lfspointer.MAX_POINTER_SIZE))

    def index_pointers(self, paths: Sequence[str]) -> dict[str, lfspointer.Pointer | None]:
        """For each path, the LFS pointer staged there (None: a regular file or nothing staged)."""
        index = self.repo.index
        index.read(True)
        out: dict[str, lfspointer.Pointer | None] = {}
        for path in paths:
            try:
                out[path] = self.pointer(str(index[path].id))
            except KeyError:
                out[path] = None
        return out


def _canonical(key: str) -> str:
    """git's spelling of a config key: section and name lower-case, subsection kept (``remote.Origin.url``)."""
    section, _, rest = key.partition(".")
    sub, dot, name = rest.rpartition(".")
    return f"{section.lower()}.{sub}{dot}{name.lower()}"
