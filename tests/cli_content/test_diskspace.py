"""Free disk space before `git hf clone` downloads LFS files, and the rule behind every disk check."""

from __future__ import annotations

import shutil

import pytest

from git_hf_agent import preflight
from git_hf_agent.localhub.storage import HELD
from tests.cli_content.helpers import fake_pointer, hf, hub_env, new_repo, stored_object
from tests.support import authed, create_repo, git, sparse_file

pytestmark = pytest.mark.e2e
MiB = 1024**2


def test_clone_stops_before_the_download_when_the_disk_lacks_room(hub, tmp_path):
    url = create_repo(hub.url, "alice/huge")
    seed = new_repo(tmp_path / "seed")
    (seed / ".gitattributes").write_text("*.bin filter=lfs diff=lfs merge=lfs -text\n")
    pointer = fake_pointer(seed, "weights.bin", shutil.disk_usage(tmp_path).free * 4)
    sparse_file(stored_object(hub, pointer.oid), pointer.size)  # the Hub stores it, sparse: costs no disk
    held = hub.root / "repos" / "models" / "alice" / "huge.git" / HELD
    held.mkdir(exist_ok=True)
    (held / pointer.oid).touch()  # ...for this repo (docs/local-hub.md: objects are held per repo)
    git("add", "-A", cwd=seed)
    git("commit", "-q", "-m", "huge", cwd=seed)
    git("fetch", "-q", authed(url), "main", cwd=seed)
    git("merge", "-q", "--allow-unrelated-histories", "-X", "ours", "-m", "m", "FETCH_HEAD", cwd=seed)
    git("push", "-q", "--no-verify", authed(url), "HEAD:main", cwd=seed)  # skips git-lfs's hook: no upload
    proc = hf("clone", "alice/huge", str(tmp_path / "huge"), cwd=tmp_path, env=hub_env(hub), check=False)
    assert "error: downloading 1 LFS file needs" in proc.stderr and "free" in proc.stderr
    assert "run `git lfs pull` there" in proc.stderr and "--include PATTERN" in proc.stderr
    assert (tmp_path / "huge" / ".git").is_dir()  # the clone itself is kept


def test_space_rule_uses_one_unit_system_and_a_margin():
    assert preflight.space_problem(1 * MiB, 1 * MiB + preflight.SPACE_MARGIN, "/d", "x") is None
    text = preflight.space_problem(3 * 1024**3, 1024**3, "/d", "copying")
    assert text.startswith("copying needs 3.0 GiB in /d, which has 1.0 GiB free (2.1 GiB short")
