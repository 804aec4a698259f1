"""`git hf demo` end to end at a small size: fresh machine (no identity, no global config), cleans up after itself."""

from __future__ import annotations

import re

import pytest

from tests.cli_content.helpers import hf

pytestmark = pytest.mark.e2e


@pytest.fixture
def fresh_machine(tmp_path, monkeypatch):
    """No git identity anywhere, an empty HOME, and a private TMPDIR to see what the demo leaves behind."""
    for var in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL",
                "GIT_AUTHOR_DATE", "GIT_COMMITTER_DATE"):
        monkeypatch.delenv(var, raising=False)
    tmp = tmp_path / "tmpdir"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))
    return tmp


def test_demo_pushes_verifies_and_cleans_up(fresh_machine, tmp_path, require_git_lfs):
    home_before = sorted(p.name for p in (tmp_path / "home").rglob("*"))
    proc = hf("demo", "--size", "200MiB", cwd=tmp_path)
    out = proc.stdout
    assert "git hf demo: pushed and verified" in out
    assert re.search(r"multipart, 4 part uploads, 200\.0 MiB received", out), out
    assert "Authorization headers sent to presigned URLs: 0" in out
    assert re.search(r"verified  yes", out)
    assert "[3/3] verify: ok: 1 LFS file (200.0 MiB)" in proc.stderr
    assert list(fresh_machine.iterdir()) == []  # temp dir removed
    assert sorted(p.name for p in (tmp_path / "home").rglob("*")) == home_before  # no global config written


def test_demo_keep_leaves_repo_and_hub(fresh_machine, tmp_path, require_git_lfs):
    proc = hf("demo", "--size", "1MiB", "--keep", cwd=tmp_path)
    assert "single PUT" in proc.stdout  # under the demo Hub's multipart threshold
    kept = list(fresh_machine.iterdir())
    assert len(kept) == 1 and (kept[0] / "huge-file" / ".git").is_dir() and (kept[0] / "hub" / "lfs").is_dir()
    assert str(kept[0]) in proc.stderr


def test_demo_rejects_a_bad_size(tmp_path):
    proc = hf("demo", "--size", "lots", cwd=tmp_path, check=False)
    assert "not a size" in proc.stderr and "fix: pass e.g. --size 6GiB" in proc.stderr
