"""huggingface_hub's own ``HfApi`` works unchanged against ``git hf serve`` (HF_ENDPOINT + HF_HUB_DISABLE_XET)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import TOKEN, USER, authed, git

MiB = 1024 * 1024


@pytest.fixture
def hf():
    """A factory: ``hf(server)`` -> HfApi bound to that local Hub with the test token.

    huggingface_hub reads HF_ENDPOINT once, at import, so in-process tests pass the
    endpoint explicitly; :func:`test_hf_endpoint_environment_alone_is_enough` checks the
    environment-only set-up in a fresh interpreter.
    """
    from huggingface_hub import HfApi

    return lambda server, token=TOKEN: HfApi(endpoint=server.url, token=token)


def test_create_upload_list_info_and_download(start_hub, hf, tmp_path):
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import RepositoryNotFoundError

    hub = start_hub()
    api = hf(hub)
    assert api.whoami()["name"] == USER
    url = api.create_repo("alice/model")
    assert str(url) == f"{hub.url}/alice/model"
    with pytest.raises(Exception) as exc:
        api.create_repo("alice/model")
    assert "409" in str(exc.value)
    api.create_repo("alice/model", exist_ok=True)

    api.upload_file(path_or_fileobj=b"# card\n", path_in_repo="README.md", repo_id="alice/model")
    weights = tmp_path / "weights.bin"
    weights.write_bytes(bytes(range(256)) * 4096 + b"\0")  # binary -> LFS
    info = api.upload_file(path_or_fileobj=str(weights), path_in_repo="w/weights.bin", repo_id="alice/model")
    assert info.oid and info.commit_url.endswith(info.oid)
    assert hub.stats()["objects_stored"] == 1  # the README stayed a regular git blob

    assert sorted(api.list_repo_files("alice/model")) == ["README.md", "w/weights.bin"]
    paths = {p.path: p for p in api.get_paths_info("alice/model", ["README.md", "w/weights.bin", "missing"])}
    assert set(paths) == {"README.md", "w/weights.bin"}
    assert paths["README.md"].lfs is None and paths["README.md"].size == 7
    lfs = paths["w/weights.bin"].lfs
    assert lfs.sha256 == hashlib.sha256(weights.read_bytes()).hexdigest() and lfs.size == weights.stat().st_size
    model = api.model_info("alice/model")
    assert model.sha == info.oid and {s.rfilename for s in model.siblings} == {"README.md", "w/weights.bin"}

    cache = {"cache_dir": tmp_path / "cache", "token": TOKEN, "endpoint": hub.url}
    downloaded = hf_hub_download("alice/model", "w/weights.bin", **cache)
    assert open(downloaded, "rb").read() == weights.read_bytes()
    readme = hf_hub_download("alice/model", "README.md", **cache)
    assert open(readme, "rb").read() == b"# card\n"

    api.delete_file("README.md", "alice/model")
    assert api.list_repo_files("alice/model") == ["w/weights.bin"]
    assert not api.repo_exists("alice/nothing")
    with pytest.raises(RepositoryNotFoundError):
        api.model_info("alice/nothing")


def test_upload_through_multipart_completes_with_huggingface_hubs_own_code(start_hub, hf, tmp_path):
    hub = start_hub("--multipart-threshold", "1MiB", "--chunk-size", "1MiB")
    api = hf(hub)
    api.create_repo("alice/ds", repo_type="dataset")
    data = tmp_path / "data.bin"
    data.write_bytes(bytes(3 * MiB + 7))
    api.upload_file(path_or_fileobj=str(data), path_in_repo="data.bin", repo_id="alice/ds", repo_type="dataset")
    stats = hub.stats()
    assert stats["part_puts"] == 4 and stats["completions"] == 1 and stats["objects_stored"] == 1
    assert stats["auth_headers_seen"]["part"] == 0 and stats["auth_headers_seen"]["complete"] == 0
    [entry] = api.get_paths_info("alice/ds", ["data.bin"], repo_type="dataset")
    assert entry.lfs.size == 3 * MiB + 7

    # What HfApi committed is a real git commit that git + git-lfs can clone.
    git("lfs", "install", "--skip-repo")
    git("clone", "-q", authed(f"{hub.url}/datasets/alice/ds"), str(tmp_path / "clone"))
    (tmp_path / "clone" / ".gitattributes").write_text("*.bin filter=lfs diff=lfs merge=lfs -text\n")
    git("lfs", "pull", cwd=tmp_path / "clone")
    assert (tmp_path / "clone" / "data.bin").read_bytes() == data.read_bytes()


def test_private_repo_needs_the_token_to_read(start_hub, hf):
    from huggingface_hub.errors import RepositoryNotFoundError

    hub = start_hub()
    api = hf(hub)
    api.create_repo("alice/secret", private=True)
    api.upload_file(path_or_fileobj=b"x", path_in_repo="a.txt", repo_id="alice/secret")
    assert api.model_info("alice/secret").private
    with pytest.raises(RepositoryNotFoundError):
        hf(hub, token=False).model_info("alice/secret")


_SCRIPT = """
import sys
from pathlib import Path
from huggingface_hub import HfApi, hf_hub_download
api = HfApi()
api.create_repo("alice/env", exist_ok=True)
api.upload_file(path_or_fileobj=sys.argv[1], path_in_repo="big.bin", repo_id="alice/env")
print(open(hf_hub_download("alice/env", "big.bin"), "rb").read() == open(sys.argv[1], "rb").read())
"""


def test_hf_endpoint_environment_alone_is_enough(start_hub, tmp_path):
    hub = start_hub("--multipart-threshold", "1MiB", "--chunk-size", "1MiB")
    data = tmp_path / "big.bin"
    data.write_bytes(b"\0" * (2 * MiB + 1))  # binary: preupload sends it to LFS
    env = {**os.environ, "HF_ENDPOINT": hub.url, "HF_TOKEN": TOKEN, "HF_HUB_DISABLE_XET": "1"}
    proc = subprocess.run([sys.executable, "-c", _SCRIPT, str(data)], env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == "True"
    assert hub.stats()["completions"] == 1


def test_folders_snapshots_refs_and_history(start_hub, hf, tmp_path):
    from huggingface_hub import snapshot_download

    hub = start_hub()
    api = hf(hub)
    api.create_repo("alice/folder")
    folder = tmp_path / "folder"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("a")
    (folder / "sub" / "b.bin").write_bytes(b"\0" * 5000)
    api.upload_folder(folder_path=str(folder), repo_id="alice/folder", commit_message="first")
    api.delete_folder("sub", repo_id="alice/folder", commit_message="second")
    api.upload_file(path_or_fileobj=b"b", path_in_repo="sub/c.txt", repo_id="alice/folder", commit_message="third")

    snap = snapshot_download("alice/folder", endpoint=hub.url, token=TOKEN, cache_dir=tmp_path / "cache")
    files = sorted(str(p.relative_to(snap)) for p in Path(snap).rglob("*") if p.is_file())
    assert files == ["a.txt", "sub/c.txt"]
    top = {(e.path, type(e).__name__) for e in api.list_repo_tree("alice/folder")}
    assert top == {("a.txt", "RepoFile"), ("sub", "RepoFolder")}
    history = api.list_repo_commits("alice/folder")
    assert [c.title for c in history] == ["third", "second", "first"]
    [main] = api.list_repo_refs("alice/folder").branches
    assert main.name == "main" and main.target_commit == history[0].commit_id
    first = history[-1].commit_id
    assert sorted(api.list_repo_files("alice/folder", revision=first)) == ["a.txt", "sub/b.bin"]
