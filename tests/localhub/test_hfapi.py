"""huggingface_hub's own ``HfApi`` works unchanged against ``git hf serve`` (HF_ENDPOINT + HF_HUB_DISABLE_XET)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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

    assert sorted(api.list_repo_files("alice/model")) == [".gitattributes", "README.md", "w/weights.bin"]
    paths = {p.path: p for p in api.get_paths_info("alice/model", ["README.md", "w/weights.bin", "missing"])}
    assert set(paths) == {"README.md", "w/weights.bin"}
    assert paths["README.md"].lfs is None and paths["README.md"].size == 7
    lfs = paths["w/weights.bin"].lfs
    assert lfs.sha256 == hashlib.sha256(weights.read_bytes()).hexdigest() and lfs.size == weights.stat().st_size
    model = api.model_info("alice/model")
    assert model.sha == info.oid and {s.rfilename for s in model.siblings} == {".gitattributes", "README.md", "w/weights.bin"}

    cache = {"cache_dir": tmp_path / "cache", "token": TOKEN, "endpoint": hub.url}
    downloaded = hf_hub_download("alice/model", "w/weights.bin", **cache)
    assert open(downloaded, "rb").read() == weights.read_bytes()
    readme = hf_hub_download("alice/model", "README.md", **cache)
    assert open(readme, "rb").read() == b"# card\n"

    api.delete_file("README.md", "alice/model")
    assert api.list_repo_files("alice/model") == [".gitattributes", "w/weights.bin"]
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
    assert files == [".gitattributes", "a.txt", "sub/c.txt"]
    top = {(e.path, type(e).__name__) for e in api.list_repo_tree("alice/folder")}
    assert top == {(".gitattributes", "RepoFile"), ("a.txt", "RepoFile"), ("sub", "RepoFolder")}
    history = api.list_repo_commits("alice/folder")
    assert [c.title for c in history] == ["third", "second", "first", "initial commit"]
    [main] = api.list_repo_refs("alice/folder").branches
    assert main.name == "main" and main.target_commit == history[0].commit_id
    first = history[-2].commit_id
    assert sorted(api.list_repo_files("alice/folder", revision=first)) == [".gitattributes", "a.txt", "sub/b.bin"]


# ---- the Hub's behaviour that huggingface_hub relies on (issue 9) ---------------------------------
def test_new_repos_start_with_the_hubs_initial_commit(start_hub, hf, tmp_path):
    from git_hf_agent.localhub.hubrules import DEFAULT_GITATTRIBUTES
    from huggingface_hub import hf_hub_download

    hub = start_hub()
    api = hf(hub)
    for repo_type in ("model", "dataset"):
        api.create_repo("alice/fresh", repo_type=repo_type)
        assert api.list_repo_files("alice/fresh", repo_type=repo_type) == [".gitattributes"]
        assert [c.title for c in api.list_repo_commits("alice/fresh", repo_type=repo_type)] == ["initial commit"]
        got = hf_hub_download("alice/fresh", ".gitattributes", repo_type=repo_type, endpoint=hub.url, token=TOKEN,
                              cache_dir=tmp_path / repo_type)
        assert open(got).read() == DEFAULT_GITATTRIBUTES[repo_type]
    # The .gitattributes rules decide the upload mode: a small text model.safetensors goes to LFS.
    api.upload_file(path_or_fileobj=b'{"__metadata__": {}}', path_in_repo="model.safetensors", repo_id="alice/fresh")
    [entry] = api.get_paths_info("alice/fresh", ["model.safetensors"])
    assert entry.lfs is not None and entry.lfs.size == 20
    assert hub.stats()["objects_stored"] == 1

    # The revision's own .gitattributes counts: once *.txt is tracked, a small text file goes to LFS too.
    api.upload_file(path_or_fileobj=b"*.txt filter=lfs diff=lfs merge=lfs -text\n", path_in_repo=".gitattributes",
                    repo_id="alice/fresh")
    api.upload_file(path_or_fileobj=b"hello\n", path_in_repo="notes.txt", repo_id="alice/fresh")
    api.upload_file(path_or_fileobj=b"w", path_in_repo="now-regular.bin", repo_id="alice/fresh")
    info = {e.path: e for e in api.get_paths_info("alice/fresh", ["notes.txt", "now-regular.bin"])}
    assert info["notes.txt"].lfs is not None and info["now-regular.bin"].lfs is None
    assert api.file_exists("alice/fresh", "notes.txt") and not api.file_exists("alice/fresh", "nope.txt")
    assert api.revision_exists("alice/fresh", "main") and not api.revision_exists("alice/fresh", "nope")

    empty = start_hub("--empty-repos")
    hf(empty).create_repo("alice/bare")
    assert hf(empty).model_info("alice/bare").sha is None


def _random_file(rng, size: int) -> bytes:
    """Random bytes; every third file has no NUL in its first 512 bytes (preupload used to call those 'regular')."""
    data = bytearray(rng.randbytes(size))
    if rng.random() < 1 / 3:
        data[:512] = bytes(b or 1 for b in data[:512])
    return bytes(data)


def test_random_binary_files_of_any_size_upload_with_huggingface_hub(start_hub, hf, tmp_path):
    """upload_file / upload_folder of random bytes always succeed: preupload and the commit check agree."""
    import random

    from huggingface_hub import hf_hub_download

    hub = start_hub()
    api = hf(hub)
    api.create_repo("alice/rand")
    sizes = [1, 2, 7, 100, 511, 512, 513, 1000, 4096, 65537, 300_000]
    expected = {}
    for seed in range(24):
        rng = random.Random(seed)
        data = _random_file(rng, rng.choice(sizes))
        api.upload_file(path_or_fileobj=data, path_in_repo=f"single/{seed}.dat", repo_id="alice/rand")
        expected[f"single/{seed}.dat"] = data
    folder = tmp_path / "folder"
    folder.mkdir()
    rng = random.Random(1234)
    for i in range(40):
        data = _random_file(rng, rng.choice(sizes))
        (folder / f"f{i}.dat").write_bytes(data)
        expected[f"folder/f{i}.dat"] = data
    (folder / "text.txt").write_bytes(b"text " * 200 + b"\0 after the sample")  # regular: the sample is text
    api.upload_folder(folder_path=str(folder), path_in_repo="folder", repo_id="alice/rand")

    info = {e.path: e for e in api.get_paths_info("alice/rand", list(expected) + ["folder/text.txt"])}
    assert info["folder/text.txt"].lfs is None
    for path, data in expected.items():
        assert info[path].size == len(data), path
        if len(data) > 512:  # 512 random bytes are never UTF-8: binary, so LFS
            assert info[path].lfs is not None, path
    for path in ("single/0.dat", "folder/f3.dat"):
        got = hf_hub_download("alice/rand", path, endpoint=hub.url, token=TOKEN, cache_dir=tmp_path / "cache")
        assert open(got, "rb").read() == expected[path]


def test_errors_raise_huggingface_hubs_own_exceptions_on_every_route(start_hub, hf, tmp_path):
    from huggingface_hub import CommitOperationDelete, hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError

    hub = start_hub()
    api = hf(hub)
    api.create_repo("alice/here")
    dl = {"endpoint": hub.url, "token": TOKEN, "cache_dir": tmp_path / "cache"}
    calls = {
        "info": lambda repo, rev: api.model_info(repo, revision=rev),
        "files": lambda repo, rev: api.list_repo_files(repo, revision=rev),
        "tree": lambda repo, rev: list(api.list_repo_tree(repo, revision=rev)),
        "paths": lambda repo, rev: api.get_paths_info(repo, ["a"], revision=rev),
        "commits": lambda repo, rev: api.list_repo_commits(repo, revision=rev),
        "download": lambda repo, rev: hf_hub_download(repo, ".gitattributes", revision=rev, **dl),
        "upload": lambda repo, rev: api.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=repo,
                                                    revision=rev),
    }
    for name, call in calls.items():
        for repo in ("alice/nothing", "nothing"):  # also an id without a namespace
            with pytest.raises(RepositoryNotFoundError):
                call(repo, None)
        with pytest.raises(RevisionNotFoundError):
            call("alice/here", "no-such-branch")
    with pytest.raises(RepositoryNotFoundError):
        api.list_repo_refs("alice/nothing")
    with pytest.raises(EntryNotFoundError):
        hf_hub_download("alice/here", "missing.txt", **dl)
    with pytest.raises(EntryNotFoundError):
        list(api.list_repo_tree("alice/here", path_in_repo="missing"))
    with pytest.raises(EntryNotFoundError):
        api.create_commit("alice/here", [CommitOperationDelete("missing.txt")], commit_message="rm")
    with pytest.raises(EntryNotFoundError):
        api.delete_folder("missing", repo_id="alice/here")


def test_every_answer_has_a_request_id_and_errors_a_code(hub):
    import requests

    for method, path in (("GET", "/api/models/alice/nothing"), ("GET", "/api/whoami-v2"), ("GET", "/nope/at/all"),
                         ("POST", "/api/repos/create"), ("GET", "/alice/nothing/info/refs?service=git-upload-pack")):
        resp = requests.request(method, f"{hub.url}{path}", timeout=30)
        assert resp.status_code >= 400 and len(resp.headers.get("X-Request-Id", "")) >= 16, path
        assert resp.headers.get("X-Error-Code") and resp.headers.get("X-Error-Message"), path
    ok = requests.get(f"{hub.url}/api/models/alice/nothing/..", timeout=30)
    assert ok.headers.get("X-Request-Id")


def test_repo_ids_follow_the_hubs_rules(start_hub, hf):
    from huggingface_hub.errors import HfHubHTTPError

    hub = start_hub()
    api = hf(hub)
    api.create_repo("alice/MyModel")
    assert api.model_info("ALICE/mymodel").id == "alice/MyModel"  # case-insensitive, answered as created
    api.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id="alice/MYMODEL")
    assert "x.txt" in api.list_repo_files("alice/MyModel")
    with pytest.raises(HfHubHTTPError) as exc:
        api.create_repo("Alice/mymodel")
    assert exc.value.response.status_code == 409
    api.create_repo("_org/under_score_")  # the Hub and huggingface_hub allow '_' at either end
    assert api.list_repo_files("_org/under_score_") == [".gitattributes"]


def test_preupload_should_ignore_follows_gitignore(start_hub, hf, tmp_path):
    import base64

    import requests

    hub = start_hub()
    api = hf(hub)
    api.create_repo("alice/ign")
    folder = tmp_path / "f"
    (folder / "logs").mkdir(parents=True)
    (folder / ".gitignore").write_text("*.log\n!keep.log\nlogs/\n")
    for name in ("a.log", "keep.log", "logs/x.txt", "b.txt"):
        (folder / name).write_text(name)
    api.upload_folder(folder_path=str(folder), repo_id="alice/ign")
    assert sorted(api.list_repo_files("alice/ign")) == [".gitattributes", ".gitignore", "b.txt", "keep.log"]

    sample = base64.b64encode(b"x").decode()
    body = {"files": [{"path": p, "sample": sample, "size": 1} for p in ("c.log", "keep.log", "logs/y", "c.txt")]}
    url = f"{hub.url}/api/models/alice/ign/preupload/main"
    auth = {"Authorization": f"Bearer {TOKEN}"}
    answer = requests.post(url, json=body, headers=auth, timeout=30).json()["files"]
    assert [f["shouldIgnore"] for f in answer] == [True, False, True, False]  # the revision's .gitignore
    answer = requests.post(url, json={**body, "gitIgnore": "*.txt\n"}, headers=auth, timeout=30).json()["files"]
    assert [f["shouldIgnore"] for f in answer] == [False, False, False, True]  # the request's .gitignore wins


def test_expand_gives_last_commits(start_hub, hf):
    hub = start_hub()
    api = hf(hub)
    api.create_repo("alice/exp")
    api.upload_file(path_or_fileobj=b"a", path_in_repo="sub/a.txt", repo_id="alice/exp", commit_message="add a")
    api.upload_file(path_or_fileobj=b"b", path_in_repo="b.txt", repo_id="alice/exp", commit_message="add b")
    tree = {e.path: e for e in api.list_repo_tree("alice/exp", expand=True)}
    assert tree["sub"].last_commit.title == "add a" and tree["b.txt"].last_commit.title == "add b"
    assert tree[".gitattributes"].last_commit.title == "initial commit"
    assert tree["b.txt"].security is not None
    [info] = api.get_paths_info("alice/exp", ["sub/a.txt"], expand=True)
    assert info.last_commit.title == "add a"
    [plain] = api.get_paths_info("alice/exp", ["sub/a.txt"])
    assert plain.last_commit is None


def test_commit_paths_and_parent_follow_the_hubs_rules(start_hub, hf):
    import json

    import requests
    from huggingface_hub import CommitOperationAdd
    from huggingface_hub.errors import BadRequestError, HfHubHTTPError

    hub = start_hub()
    api = hf(hub)
    api.create_repo("alice/rules")
    with pytest.raises(HfHubHTTPError) as exc:
        api.create_commit("alice/rules", [CommitOperationAdd("..\\x", b"x")], commit_message="m")
    assert exc.value.response.status_code == 422
    with pytest.raises(BadRequestError):
        api.create_commit("alice/rules", [CommitOperationAdd(".GIT/config", b"x")], commit_message="m")
    first = api.upload_file(path_or_fileobj=b"1", path_in_repo="keep/a.txt", repo_id="alice/rules").oid
    api.upload_file(path_or_fileobj=b"2", path_in_repo="other/b.txt", repo_id="alice/rules")
    with pytest.raises(HfHubHTTPError) as exc:
        api.create_commit("alice/rules", [CommitOperationAdd("c.txt", b"c")], commit_message="m", parent_commit=first)
    assert exc.value.response.status_code == 412
    assert "A commit has happened since. Please refresh and try again." in str(exc.value)

    # deletedFolder / deletedFile name literal paths, never git pathspecs.
    auth = {"Authorization": f"Bearer {TOKEN}"}
    for key, path in (("deletedFolder", ":(exclude)keep"), ("deletedFile", "*.txt"), ("deletedFolder", "*")):
        line = json.dumps({"key": key, "value": {"path": path}})
        resp = requests.post(f"{hub.url}/api/models/alice/rules/commit/main", data=line, headers=auth, timeout=30)
        assert resp.status_code == 404 and resp.headers["X-Error-Code"] == "EntryNotFound", (key, path)
    assert sorted(api.list_repo_files("alice/rules")) == [".gitattributes", "keep/a.txt", "other/b.txt"]


@pytest.mark.e2e
def test_commit_of_many_regular_files_is_streamed(start_hub, hf, tmp_path):
    """~150 MB of ndjson (1100 regular files): accepted, and the server never holds the body."""
    hub = start_hub()
    api = hf(hub)
    api.create_repo("alice/many")
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(1100):
        (folder / f"{i:04d}.txt").write_text(os.urandom(50_000).hex())  # 100 kB of text each
    api.upload_folder(folder_path=str(folder), repo_id="alice/many")
    files = api.list_repo_files("alice/many")
    assert len(files) == 1101 and "1099.txt" in files
    status = Path(f"/proc/{hub.proc.pid}/status").read_text()
    peak = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))) * 1024
    print(f"server peak RSS during a 150 MB commit: {peak / MiB:.1f} MiB")
    assert peak < 100 * MiB, f"server peak RSS {peak / MiB:.0f} MiB during a 150 MB commit"


_TEXTS = st.text(max_size=700).map(lambda t: t.encode())  # UTF-8, sometimes cut mid-character below
_CONTENTS = st.one_of(st.binary(max_size=1500), _TEXTS,
                      st.tuples(_TEXTS, st.integers(0, 600)).map(lambda x: x[0][: x[1]]),
                      st.tuples(_TEXTS, st.binary(min_size=1, max_size=50)).map(lambda x: x[0] * 3 + x[1]))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=_CONTENTS)
def test_preupload_and_the_commit_check_agree_on_any_content(hub, content):
    """Whatever preupload calls 'regular' the commit API accepts as a regular file, and what it refuses is 'lfs'."""
    import base64
    import json

    import requests

    auth = {"Authorization": f"Bearer {TOKEN}"}
    base = f"{hub.url}/api/models/alice/agree"
    requests.post(f"{hub.url}/api/repos/create", json={"name": "agree"}, headers=auth, timeout=30)
    sample = base64.b64encode(content[:512]).decode()
    pre = requests.post(f"{base}/preupload/main", headers=auth, timeout=30,
                        json={"files": [{"path": "f.dat", "sample": sample, "size": len(content)}]})
    mode = pre.json()["files"][0]["uploadMode"]
    line = {"key": "file", "value": {"path": "f.dat", "content": base64.b64encode(content).decode(), "encoding": "base64"}}
    body = "\n".join(json.dumps(x) for x in ({"key": "header", "value": {"summary": "f"}}, line))
    commit = requests.post(f"{base}/commit/main", data=body.encode(), headers=auth, timeout=30)
    assert commit.status_code == (200 if mode == "regular" else 400), (mode, commit.text)
