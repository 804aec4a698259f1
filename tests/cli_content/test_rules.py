"""Pure rules: LFS pointer parsing, preflight thresholds, .gitattributes patterns chosen by `git hf commit`."""

from __future__ import annotations

import subprocess

import pytest

from git_hf_agent import lfspointer, preflight
from git_hf_agent.cli.commit import choose_patterns, escape_path

OID = "a" * 64
SETUP_OK = preflight.Setup(git_lfs="git-lfs/3.3.0")


def rules(findings):
    return [(f.level, f.rule) for f in findings]


def test_pointer_round_trip_and_strictness():
    pointer = lfspointer.Pointer(OID, 6 * 1024**3)
    assert lfspointer.parse(pointer.text().encode()) == pointer
    assert lfspointer.parse(pointer.text().encode() + b"ext-0-foo sha256:" + b"b" * 64 + b"\n") is None  # keys unsorted
    assert lfspointer.parse(b"version https://git-lfs.github.com/spec/v1\nsize 5\noid sha256:" + OID.encode() + b"\n") is None
    assert lfspointer.parse(pointer.text().replace("size 6442450944", "size -1").encode()) is None
    assert lfspointer.parse(pointer.text().replace(OID, OID.upper()).encode()) is None
    assert lfspointer.parse(b"hello\n") is None
    assert lfspointer.parse(pointer.text().encode() + b" " * 1024) is None
    head, rest = pointer.text().split("\n", 1)
    # git-lfs takes no key but version, ext-N-name, oid and size: an unknown one makes it smudge the text as is
    assert lfspointer.parse(f"{head}\naa 1\n{rest}".encode()) is None
    assert lfspointer.parse(pointer.text().encode() + b"zz 1\n") is None
    # an extension line: still a pointer (its object is fetched), but smudged through the extension's program
    extended = lfspointer.parse(f"{head}\next-0-foo sha256:{'b' * 64}\n{rest}".encode())
    assert extended == lfspointer.Pointer(OID, 6 * 1024**3, extended=True) and not pointer.extended


@pytest.mark.parametrize("size,lfs,binary,expected", [
    (10 * 1024**2, False, False, []),
    (10 * 1024**2 + 1, False, False, [("error", "large-file-not-in-lfs")]),
    (100, False, True, [("error", "binary-file-not-in-lfs")]),
    (20 * 1000**3, True, False, []),
    (20 * 1000**3 + 1, True, False, [("warning", "lfs-file-large")]),
    (50 * 1000**3 + 1, True, False, [("error", "lfs-file-too-large")]),
])
def test_file_thresholds(size, lfs, binary, expected):
    fact = preflight.FileFact("f", size, lfs, binary)
    assert rules(preflight.evaluate([fact], {}, 1, SETUP_OK)) == expected


def test_over_5gib_needs_the_agent_only_when_it_is_missing():
    big = preflight.FileFact("big.bin", 5 * 1024**3 + 1, True)
    exactly = preflight.FileFact("edge.bin", 5 * 1024**3, True)
    missing = preflight.Setup(git_lfs="git-lfs/3.3.0", agent_problem="no multipart transfer agent is registered")
    found = preflight.evaluate([big, exactly], {}, 2, missing)
    assert [(f.rule, f.path) for f in found] == [("multipart-agent-missing", "big.bin")]
    assert "git hf init" in found[0].fix
    assert preflight.evaluate([big], {}, 1, SETUP_OK) == []


def test_folder_and_repo_counts_warn_with_packing_advice():
    found = preflight.evaluate([], {"data": 10_001, "ok": 10_000}, 100_001, SETUP_OK)
    assert rules(found) == [("warning", "folder-too-many-entries"), ("warning", "repo-too-many-files")]
    assert found[0].path == "data" and all("pack" in f.fix for f in found)


def test_setup_problems():
    assert rules(preflight.evaluate([], {}, 0, preflight.Setup(git_lfs=None))) == [("error", "git-lfs-missing")]
    no_hook = preflight.Setup(git_lfs="x", hook_problem="git-lfs's pre-push hook is not installed")
    assert rules(preflight.evaluate([preflight.FileFact("a", 5, True)], {}, 1, no_hook)) == [("error", "lfs-hook-missing")]
    assert preflight.evaluate([preflight.FileFact("a", 5, False)], {}, 1, no_hook) == []


def test_fix_for_committed_files_depends_on_upstream():
    fact = preflight.FileFact("w.bin", 100, False, True)
    assert "git reset --soft origin/main" in preflight.evaluate([fact], {}, 1, SETUP_OK, "origin/main")[0].fix
    assert 'git lfs migrate import --include="w.bin"' in preflight.evaluate([fact], {}, 1, SETUP_OK)[0].fix


def test_needs_lfs():
    assert preflight.needs_lfs(3, b"abc") is None
    assert preflight.needs_lfs(3, b"a\0c") == "binary"
    assert "10 MiB" in preflight.needs_lfs(11 * 1024**2, b"text")
    assert preflight.needs_lfs(9000, b"x" * 8000 + b"\0") is None  # git looks at the first 8000 bytes only


def test_patterns_by_extension_or_exact_path():
    todo = {"m/model.safetensors": "binary", "a.dat": "binary", "b.dat": "binary", "c.dat": "binary",
            "x.csv": "big", "y.csv": "big", "z.csv": "big", "one.weird": "binary", "noext": "binary"}
    patterns = choose_patterns(todo, kept_in_git={"notes.csv"})
    assert patterns["*.safetensors"] == ["m/model.safetensors"]
    assert patterns["*.dat"] == ["a.dat", "b.dat", "c.dat"]
    assert patterns["/x.csv"] == ["x.csv"]  # a .csv file stays in git, so no *.csv
    assert patterns["/one.weird"] == ["one.weird"] and patterns["/noext"] == ["noext"]


def test_escaped_paths_match_only_that_file(tmp_path):
    names = ["my file [v2].bin", "#hash!.bin", "a*b?.bin"]
    decoys = ["my file v.bin", "ab.bin", "aXbY.bin"]
    lines = "".join(f"{escape_path(n)} filter=lfs\n" for n in names)
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / ".gitattributes").write_text(lines)
    out = subprocess.run(["git", "check-attr", "filter", "--", *names, *decoys], cwd=tmp_path,
                         capture_output=True, text=True, check=True).stdout
    result = dict(line.rsplit(": filter: ", 1) for line in out.splitlines())
    assert all(result[n] == "lfs" for n in names), result
    assert all(result[d] == "unspecified" for d in decoys), result
