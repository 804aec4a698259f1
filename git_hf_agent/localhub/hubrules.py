"""The Hub's content rules, pure functions shared by the API routes and the push hook (no HTTP, no git).

- :data:`DEFAULT_GITATTRIBUTES`: the ``.gitattributes`` the Hub puts in the initial
  commit of every new repo (list and source in docs/local-hub.md);
- :func:`is_binary`: the one binary test, applied to what a client can send at
  preupload (the first 512 bytes): a NUL byte or bytes that are not UTF-8;
- :class:`PathRules`: git wildmatch patterns as ``.gitattributes`` (LFS rules)
  and ``.gitignore`` (``shouldIgnore``) use them;
- :func:`check_repo_path`: which paths a commit may name (the Hub's 422 rules, and
  the paths git cannot store).
"""

from __future__ import annotations

import codecs
import re
from functools import lru_cache

SAMPLE_SIZE = 512  # huggingface_hub sends the first 512 bytes of each file at preupload
LFS_SIZE = 10 * 1000 * 1000  # preupload: files of 10 MB and more go to LFS, like the Hub
MAX_PATH_BYTES = 4096

_LFS_ATTRS = "filter=lfs diff=lfs merge=lfs -text"
_MODEL_PATTERNS = (
    "*.7z", "*.arrow", "*.bin", "*.bz2", "*.ckpt", "*.ftz", "*.gz", "*.h5", "*.joblib", "*.lfs.*", "*.mlmodel",
    "*.model", "*.msgpack", "*.npy", "*.npz", "*.onnx", "*.ot", "*.parquet", "*.pb", "*.pickle", "*.pkl", "*.pt",
    "*.pth", "*.rar", "*.safetensors", "saved_model/**/*", "*.tar.*", "*.tar", "*.tflite", "*.tgz", "*.wasm",
    "*.xz", "*.zip", "*.zst", "*tfevents*",
)
_DATASET_EXTRA = (
    ("*.lz4", "*.mds"),  # inserted after *.lfs.* in the Hub's dataset template
    ("# Audio files - uncompressed", "*.pcm", "*.sam", "*.raw", "# Audio files - compressed", "*.aac", "*.flac",
     "*.mp3", "*.ogg", "*.wav", "# Image files - uncompressed", "*.bmp", "*.gif", "*.png", "*.tiff",
     "# Image files - compressed", "*.jpg", "*.jpeg", "*.webp", "# Video files - compressed", "*.mp4", "*.webm"),
)


def _template(patterns) -> str:
    return "".join(f"{p}\n" if p.startswith("#") else f"{p} {_LFS_ATTRS}\n" for p in patterns)


def _dataset_patterns() -> tuple[str, ...]:
    head = list(_MODEL_PATTERNS)
    at = head.index("*.lfs.*") + 1
    return (*head[:at], *_DATASET_EXTRA[0], *head[at:], *_DATASET_EXTRA[1])


DEFAULT_GITATTRIBUTES = {
    "model": _template(_MODEL_PATTERNS),
    "space": _template(_MODEL_PATTERNS),
    "dataset": _template(_dataset_patterns()),
}
INITIAL_COMMIT_MESSAGE = "initial commit"


# ---- the binary rule ---------------------------------------------------------------------------
def is_binary(sample: bytes) -> bool:
    """True when ``sample`` (a file's first bytes) holds a NUL byte or is not UTF-8.

    A multi-byte character cut at the end of the sample is not an error (the
    sample is a prefix); any other undecodable byte is.
    """
    if b"\0" in sample:
        return True
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
    except UnicodeDecodeError:
        return True
    return False


# ---- wildmatch patterns (.gitattributes, .gitignore) -------------------------------------------
@lru_cache(maxsize=4096)
def _glob_regex(pattern: str) -> re.Pattern:
    """Regex for a git wildmatch pattern matched against a full slash-separated path."""
    out, i, n = [], 0, len(pattern)
    while i < n:
        c = pattern[i]
        if pattern.startswith("**/", i):
            out.append(r"(?:.*/)?")
            i += 3
        elif pattern.startswith("/**", i) and i + 3 == n:
            out.append(r"/.*")
            i += 3
        elif pattern.startswith("**", i):
            out.append(r".*")
            i += 2
        elif c == "*":
            out.append(r"[^/]*")
            i += 1
        elif c == "?":
            out.append(r"[^/]")
            i += 1
        elif c == "[":
            end = pattern.find("]", i + 2)
            if end < 0:
                out.append(re.escape(c))
                i += 1
                continue
            body = pattern[i + 1:end]
            if body[:1] in ("!", "^"):
                body = "^" + body[1:]
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = end + 1
        elif c == "\\" and i + 1 < n:
            out.append(re.escape(pattern[i + 1]))
            i += 2
        else:
            out.append(re.escape(c))
            i += 1
    try:
        return re.compile("".join(out))
    except re.error:
        return re.compile(r"(?!)")  # a broken class never matches, as git ignores it


class PathRules:
    """Ordered wildmatch rules; the last rule matching a path decides (git's order).

    ``rules`` are ``(pattern, value, dir_only)``. A pattern without a slash (other
    than a trailing one) matches the last path component at any depth; with one,
    it is anchored at the repo root.
    """

    def __init__(self, rules: list[tuple[str, bool, bool]]) -> None:
        self.rules = rules

    @classmethod
    def lfs(cls, gitattributes: str) -> "PathRules":
        """LFS rules of a ``.gitattributes``: ``filter=lfs`` sets, ``-filter``/``!filter``/other filters unset."""
        rules = []
        for line in gitattributes.splitlines():
            fields = line.split()
            if not fields or fields[0].startswith("#"):
                continue
            pattern, attrs = fields[0], fields[1:]
            value = None
            for attr in attrs:
                if attr.startswith("filter="):
                    value = attr == "filter=lfs"
                elif attr in ("-filter", "!filter"):
                    value = False
            if value is not None:
                rules.append((pattern, value, False))
        return cls(rules)

    @classmethod
    def ignore(cls, gitignore: str) -> "PathRules":
        """Rules of a ``.gitignore``: ``!`` re-includes, a trailing ``/`` matches folders only."""
        rules = []
        for line in gitignore.splitlines():
            line = line.rstrip("\r")
            if not line.strip() or line.startswith("#"):
                continue
            if not line.endswith("\\ "):
                line = line.rstrip(" ")
            value = True
            if line.startswith("!"):
                value, line = False, line[1:]
            elif line.startswith("\\"):
                line = line[1:]
            dir_only = line.endswith("/")
            rules.append((line.rstrip("/"), value, dir_only))
        return cls(rules)

    def _decide(self, path: str, is_dir: bool) -> bool | None:
        decided = None
        name = path.rsplit("/", 1)[-1]
        for pattern, value, dir_only in self.rules:
            if dir_only and not is_dir:
                continue
            anchored = "/" in pattern
            target = path if anchored else name
            if _glob_regex(pattern.lstrip("/") if anchored else pattern).fullmatch(target):
                decided = value
        return decided

    def matches(self, path: str) -> bool:
        """Whether the rules set the attribute for the file ``path`` (e.g. LFS-tracked)."""
        return bool(self._decide(path, False))

    def ignored(self, path: str) -> bool:
        """Whether ``path`` is ignored: itself or a parent folder matched (git never re-includes below an ignored folder)."""
        parts = path.split("/")
        for depth in range(1, len(parts)):
            if self._decide("/".join(parts[:depth]), True):
                return True
        return bool(self._decide(path, False))


# ---- repo paths ----------------------------------------------------------------------------------
class PathError(ValueError):
    """A path a commit may not name; ``status`` 422 (the Hub's rules) or 400 (git cannot store it)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _is_git_dir_name(segment: str) -> bool:
    """``.git`` as git itself refuses it: any case, NTFS trailing dots/spaces, the 8.3 short name."""
    folded = segment.lower().rstrip(" .")
    return folded == ".git" or folded == "git~1"


def check_repo_path(path) -> str:
    """The path as stored (leading/trailing slashes removed), or :class:`PathError`.

    422 (the Hub's path rules): empty, control characters, backslashes, ``.`` or
    ``..`` or empty segments, over 4096 bytes. 400: a ``.git`` segment, which git
    cannot store (it would be dropped silently).
    """
    if not isinstance(path, str) or not path.strip("/"):
        raise PathError(422, "Invalid path: every operation needs a non-empty 'path'")
    shown = repr(path[:200])
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in path) or "\\" in path:
        raise PathError(422, f"Invalid path {shown}: control characters and backslashes are not allowed")
    clean = path.strip("/")
    segments = clean.split("/")
    if any(s in ("", ".", "..") for s in segments):
        raise PathError(422, f"Invalid path {shown}: empty, '.' and '..' segments are not allowed")
    try:
        size = len(clean.encode("utf-8"))
    except UnicodeEncodeError:
        raise PathError(422, f"Invalid path {shown}: not valid Unicode") from None
    if size > MAX_PATH_BYTES:
        raise PathError(422, f"Invalid path {shown}: longer than {MAX_PATH_BYTES} bytes")
    if any(_is_git_dir_name(s) for s in segments):
        raise PathError(400, f"Invalid path {shown}: a git repository cannot store files under '.git'")
    return clean
