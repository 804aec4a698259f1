"""Where resume state lives (git_hf_agent/agent/state.py): private, outside lfs/tmp, adopted from the old
layout, and swept once its object is in place or nobody touched it for weeks."""

from __future__ import annotations

import os
import stat
import time

from git_hf_agent.agent import state

OID_A, OID_B, OID_C = "a" * 64, "b" * 64, "c" * 64


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_state_dirs_are_private_and_beside_the_objects(tmp_path):
    storage = tmp_path / "lfs"
    for kind in (state.UPLOADS, state.DOWNLOADS):
        directory = state.state_dir(storage, kind)
        assert directory == storage / "git-hf-agent" / kind and directory.is_dir()
        assert _mode(directory) == 0o700 and _mode(directory.parent) == 0o700
        assert "tmp" not in directory.relative_to(storage).parts


def test_state_of_the_old_layout_is_moved_once_and_never_over_newer_state(tmp_path):
    storage = tmp_path / "lfs"
    legacy = storage / "tmp" / "git-hf-agent"
    legacy.mkdir(parents=True)
    (legacy / f"{OID_A}.0123456789abcdef.jsonl").write_text("old upload journal\n")
    (legacy / f"{OID_B}.download").write_bytes(b"partial")
    (legacy / f"{OID_B}.download.journal").write_text("old range journal\n")
    (legacy / f"{OID_C}.download.journal").write_text("older\n")
    (legacy / "prefetch.json").write_text("{}")                       # not resume state: left to git-lfs
    downloads = storage / "git-hf-agent" / "downloads"
    downloads.mkdir(parents=True)
    (downloads / f"{OID_C}.download.journal").write_text("newer\n")

    uploads = state.state_dir(storage, state.UPLOADS)
    downloads = state.state_dir(storage, state.DOWNLOADS)

    assert (uploads / f"{OID_A}.0123456789abcdef.jsonl").read_text() == "old upload journal\n"
    assert (downloads / f"{OID_B}.download").read_bytes() == b"partial"
    assert (downloads / f"{OID_B}.download.journal").read_text() == "old range journal\n"
    assert (downloads / f"{OID_C}.download.journal").read_text() == "newer\n"
    assert sorted(p.name for p in legacy.iterdir()) == [f"{OID_C}.download.journal", "prefetch.json"]


def test_sweep_removes_finished_and_untouched_state_only(tmp_path):
    directory = state.state_dir(tmp_path / "lfs", state.DOWNLOADS)
    for name in (f"{OID_A}.download", f"{OID_A}.download.journal", f"{OID_A}.download.lock",
                 f"{OID_B}.download", f"{OID_C}.download.journal", "notes.txt"):
        (directory / name).write_text("x")
    weeks_ago = time.time() - (state.STALE_DAYS + 1) * 86400
    os.utime(directory / f"{OID_C}.download.journal", (weeks_ago, weeks_ago))
    two_hours_ago = time.time() - 7200
    os.utime(directory / f"{OID_B}.download", (two_hours_ago, two_hours_ago))

    removed = state.sweep(directory, state.DOWNLOADS, lambda oid: oid == OID_A)

    assert sorted(p.name for p in removed) == sorted([f"{OID_A}.download", f"{OID_A}.download.journal",
                                                      f"{OID_A}.download.lock", f"{OID_C}.download.journal"])
    assert sorted(p.name for p in directory.iterdir()) == [f"{OID_B}.download", "notes.txt"]


def test_usage_counts_blocks_of_sparse_partials(tmp_path):
    storage = tmp_path / "lfs"
    directory = state.state_dir(storage, state.DOWNLOADS)
    with open(directory / f"{OID_A}.download", "wb") as fh:
        fh.truncate(1 << 30)                 # 1 GiB, nothing written yet
        fh.write(b"x" * 4096)
    (directory / f"{OID_A}.download.lock").touch()
    (directory / "prefetch.lock").touch()
    files, used = state.usage(storage)
    assert files == 1 and 4096 <= used < 1 << 20


def test_usage_of_lock_files_alone_is_no_state(tmp_path):
    storage = tmp_path / "lfs"
    directory = state.state_dir(storage, state.DOWNLOADS)
    (directory / f"{OID_A}.download.lock").touch()
    (directory / "prefetch.lock").touch()
    assert state.usage(storage) == (0, 0)
