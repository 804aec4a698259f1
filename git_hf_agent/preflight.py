"""The Hub's push rules as pure functions: facts about files in, findings with fixes out.

``git hf check`` (and ``git hf push`` before pushing) gathers facts with
:mod:`git_hf_agent.gitrepo` and asks :func:`evaluate` what the Hub would reject
or warn about; ``git hf commit`` uses the same thresholds to decide what goes
into LFS. Limits (docs/agent.md, Hub docs): files outside LFS over 10 MiB and
binary files outside LFS are rejected; LFS files over 50 GB are rejected, over
20 GB discouraged; a single PUT caps at 5 GiB so larger objects need the
multipart agent; fewer than 10k entries per folder and 100k files per repo are
recommended. No I/O here, so every rule is testable on plain values.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from git_hf_agent.units import format_size

NON_LFS_MAX = 10 * 1024**2
LFS_WARN = 20 * 1000**3
LFS_MAX = 50 * 1000**3
SINGLE_PUT_MAX = 5 * 1024**3
FOLDER_MAX_ENTRIES = 10_000
REPO_MAX_FILES = 100_000
BINARY_SNIFF = 8000  # git's own heuristic: a NUL byte in the first 8000 bytes means binary

ERROR, WARNING = "error", "warning"
PACK_FIX = "pack many small files into fewer, larger ones (tar/zip/parquet/webdataset shards) or spread them over subfolders"
SPLIT_FIX = "split it into shards under 20 GB (e.g. sharded safetensors, or `split -b 20G FILE FILE.part-`)"


def is_binary(head: bytes) -> bool:
    """True when ``head`` (a file's first bytes) holds a NUL byte within the first 8000 bytes."""
    return b"\0" in head[:BINARY_SNIFF]


def needs_lfs(size: int, head: bytes) -> str | None:
    """Why a file of ``size`` starting with ``head`` must go into LFS, or None when git can hold it."""
    if size > NON_LFS_MAX:
        return f"{format_size(size)}, over the Hub's 10 MiB limit for files outside LFS"
    if is_binary(head):
        return "binary"
    return None


@dataclass(frozen=True)
class FileFact:
    """One file a push would send: its size (the object's size for LFS), whether LFS holds it, whether binary."""

    path: str
    size: int
    lfs: bool
    binary: bool = False
    commit: str = ""
    in_tree: bool = True
    oid: str = ""  # the LFS object's sha256 when ``lfs``


@dataclass(frozen=True)
class Setup:
    """The machine and repo set-up a push relies on; a ``*_problem`` is None when all is well."""

    git_lfs: str | None
    agent_problem: str | None = None
    hook_problem: str | None = None
    hook_warning: str | None = None


@dataclass(frozen=True)
class Finding:
    """Something the Hub would reject (error) or advise against (warning), and what to do."""

    level: str
    rule: str
    message: str
    fix: str
    path: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def evaluate(files: list[FileFact], folder_entries: dict[str, int], total_files: int,
             setup: Setup, base: str | None = None) -> list[Finding]:
    """All findings for a push sending ``files`` of a tree of that shape, errors first.

    ``base`` names what the remote already has (e.g. ``origin/main``); it shapes
    the fix for files already committed outside LFS.
    """
    found = _setup_findings(files, setup)
    for fact in files:
        found.extend(_file_findings(fact, setup, base))
    found.extend(_shape_findings(folder_entries, total_files))
    return sorted(found, key=lambda f: (f.level != ERROR, f.rule, f.path or ""))


def _committed_fix(fact: FileFact, base: str | None) -> str:
    """How to get an already-committed file into LFS without losing work."""
    if base:
        return (f"undo the unpushed commits keeping every change (`git reset --soft {base}`), "
                "then `git hf commit` puts binary and large files into LFS")
    return (f"rewrite the unpushed commits with LFS (`git lfs migrate import --include=\"{fact.path}\"`); "
            "next time commit with `git hf commit`")


def _file_findings(fact: FileFact, setup: Setup, base: str | None) -> list[Finding]:
    where = "" if fact.in_tree else f" (in commit {fact.commit[:10]}, deleted later but still in the history being pushed)"
    size = format_size(fact.size)
    if not fact.lfs:
        if fact.size > NON_LFS_MAX:
            return [Finding(ERROR, "large-file-not-in-lfs",
                            f"{fact.path}: {size} stored in git, not LFS; the Hub rejects files over 10 MiB outside LFS{where}",
                            _committed_fix(fact, base), fact.path)]
        if fact.binary:
            return [Finding(ERROR, "binary-file-not-in-lfs",
                            f"{fact.path}: binary file stored in git, not LFS; the Hub rejects binary files outside LFS{where}",
                            _committed_fix(fact, base), fact.path)]
        return []
    out = []
    if fact.size > LFS_MAX:
        out.append(Finding(ERROR, "lfs-file-too-large",
                           f"{fact.path}: {fact.size / 1000**3:.1f} GB exceeds the Hub's 50 GB maximum per file{where}", SPLIT_FIX, fact.path))
    elif fact.size > LFS_WARN:
        out.append(Finding(WARNING, "lfs-file-large",
                           f"{fact.path}: {fact.size / 1000**3:.1f} GB; the Hub recommends files under 20 GB{where}", SPLIT_FIX, fact.path))
    if fact.size > SINGLE_PUT_MAX and setup.agent_problem:
        out.append(Finding(ERROR, "multipart-agent-missing",
                           f"{fact.path}: {size} is over 5 GiB and needs a multipart upload, but {setup.agent_problem}",
                           "run `git hf init` in this repo (registers git-hf-agent as the `multipart` transfer)",
                           fact.path))
    return out


def _setup_findings(files: list[FileFact], setup: Setup) -> list[Finding]:
    if setup.git_lfs is None:
        return [Finding(ERROR, "git-lfs-missing", "git-lfs is not installed; LFS files cannot be pushed",
                        "install git-lfs (`apt-get install git-lfs`, `brew install git-lfs` or `dnf install git-lfs`), then `git hf init`")]
    if setup.hook_problem and any(f.lfs for f in files):
        return [Finding(ERROR, "lfs-hook-missing",
                        f"{setup.hook_problem}: git push would send LFS pointers without their content",
                        "run `git hf init` in this repo (it runs `git lfs install --local`)")]
    if setup.hook_warning and any(f.lfs for f in files):
        return [Finding(WARNING, "lfs-hook-unknown",
                        f"{setup.hook_warning}: unless it runs `git lfs pre-push`, LFS content will not be uploaded",
                        'make the hook run `git lfs pre-push "$@"` (see `git lfs update --manual`)')]
    return []


def _shape_findings(folder_entries: dict[str, int], total_files: int) -> list[Finding]:
    out = [
        Finding(WARNING, "folder-too-many-entries",
                f"{folder}/: {n:,} entries; the Hub recommends fewer than {FOLDER_MAX_ENTRIES:,} per folder",
                PACK_FIX, folder)
        for folder, n in sorted(folder_entries.items()) if n > FOLDER_MAX_ENTRIES
    ]
    if total_files > REPO_MAX_FILES:
        out.append(Finding(WARNING, "repo-too-many-files",
                           f"{total_files:,} files; the Hub recommends fewer than {REPO_MAX_FILES:,} per repo", PACK_FIX))
    return out


SPACE_MARGIN = 64 * 1024**2  # leave room for git's own writes and temp files
STORAGE_FIX = ("free space there, or keep LFS objects on a disk with room: "
               "`git config lfs.storage /path/on/big/disk/lfs` (git-lfs then stores and reads objects there)")


def space_problem(need: int, free: int, where: str, doing: str) -> str | None:
    """The message when ``doing`` writes ``need`` bytes into ``where`` that has only ``free``, else None.

    One unit system (binary) in the message; the margin keeps a disk from being filled to the last byte.
    """
    if need + SPACE_MARGIN <= free:
        return None
    return (f"{doing} needs {format_size(need)} in {where}, which has {format_size(free)} free "
            f"({format_size(need + SPACE_MARGIN - free)} short, counting a {format_size(SPACE_MARGIN)} margin); "
            "nothing was changed")
