"""LFS objects and uploads are scoped like the Hub's: per repo, per uploader; private repos work with plain git-lfs."""

from __future__ import annotations

import os

import pytest
import requests

from tests.localhub.wire import (batch, commit_lfs_files, complete, oid, part_urls, put_parts, stored_download_href,
                                 upload_action)
from tests.support import TOKEN, api, authed, create_repo, git

MiB = 1024 * 1024
BOB = "hf_bobTestToken0123456789abcdef"


def _private_repo(base: str, repo_id: str, token: str = TOKEN) -> str:
    ns, name = repo_id.split("/")
    api(base, "POST", "/api/repos/create", {"name": name, "organization": ns, "type": "model", "private": True}, token)
    return f"{base}/{repo_id}"


def test_a_batch_answers_stored_only_for_objects_this_repo_holds(hub):
    create_repo(hub.url, "alice/a")
    create_repo(hub.url, "alice/b")
    data = os.urandom(5000)
    stored_download_href(hub.url, "alice/a", data)
    in_b = batch(hub.url, "alice/b", [(oid(data), len(data))]).json()["objects"][0]
    assert "upload" in in_b["actions"], "repo b was told it holds an object only repo a holds"
    download_b = batch(hub.url, "alice/b", [(oid(data), len(data))], operation="download").json()["objects"][0]
    assert download_b["error"]["code"] == 404 and "actions" not in download_b
    # Uploading it to b makes b hold it; the disk keeps one copy.
    assert requests.put(in_b["actions"]["upload"]["href"], data=data, timeout=30).status_code == 200
    again = batch(hub.url, "alice/b", [(oid(data), len(data))]).json()["objects"][0]
    assert "actions" not in again
    copies = [p for p in (hub.root / "lfs" / "objects").rglob(oid(data))]
    assert len(copies) == 1 and copies[0] == hub.root / "lfs" / "objects" / oid(data)[:2] / oid(data)[2:4] / oid(data)


def test_a_single_put_proves_possession_even_when_the_object_is_stored(hub):
    """Knowing an oid is not enough to claim it into another repo: the bytes must hash to it."""
    create_repo(hub.url, "alice/a")
    create_repo(hub.url, "alice/b")
    data = os.urandom(5000)
    stored_download_href(hub.url, "alice/a", data)
    action = upload_action(hub.url, "alice/b", data)
    wrong = requests.put(action["href"], data=os.urandom(5000), timeout=30)
    assert wrong.status_code == 400 and "sha256 mismatch" in wrong.text
    down = batch(hub.url, "alice/b", [(oid(data), len(data))], operation="download").json()["objects"][0]
    assert down["error"]["code"] == 404
    in_a = batch(hub.url, "alice/a", [(oid(data), len(data))], operation="download").json()["objects"][0]
    assert requests.get(in_a["actions"]["download"]["href"], timeout=30).content == data


def test_an_anonymous_download_batch_never_serves_a_private_repos_object(hub):
    create_repo(hub.url, "alice/public")
    _private_repo(hub.url, "alice/secret")
    data = os.urandom(3000)
    action = upload_action(hub.url, "alice/secret", data)
    assert requests.put(action["href"], data=data, timeout=30).status_code == 200
    public = batch(hub.url, "alice/public", [(oid(data), len(data))], operation="download", token=None)
    assert public.status_code == 200 and public.json()["objects"][0]["error"]["code"] == 404
    private = batch(hub.url, "alice/secret", [(oid(data), len(data))], operation="download", token=None)
    assert private.status_code == 401


def test_a_second_user_gets_an_upload_of_their_own_and_cannot_disturb_the_first(start_hub):
    hub = start_hub("--chunk-size", "1MiB", "--multipart-threshold", "1MiB", "--upload-reuse", "keep",
                    tokens={"alice": TOKEN, "bob": BOB})
    create_repo(hub.url, "org/shared")
    data = os.urandom(3 * MiB)
    alice = upload_action(hub.url, "org/shared", data)
    alice_parts = put_parts(alice, data)
    bob = upload_action(hub.url, "org/shared", data, token=BOB)
    assert bob["href"].split("uploadId=")[1][:32] != alice["href"].split("uploadId=")[1][:32]
    bob_urls = part_urls(bob)
    # bob's part 1 cut off midway, then a complete wrong one: alice's upload does not change
    with pytest.raises(requests.RequestException):
        requests.put(bob_urls[0], data=iter([b"x" * 1000]), headers={"Content-Length": str(MiB)}, timeout=2)
    assert requests.put(bob_urls[0], data=b"y" * MiB, timeout=30).status_code == 200
    # bob with size + 1 does not discard alice's upload either
    batch(hub.url, "org/shared", [(oid(data), len(data) + 1)], token=BOB)
    assert complete(alice, data, alice_parts).status_code == 200
    href = batch(hub.url, "org/shared", [(oid(data), len(data))], operation="download").json()["objects"][0]
    assert requests.get(href["actions"]["download"]["href"], timeout=30).content == data


@pytest.mark.e2e
def test_private_repo_push_verify_and_clone_with_plain_git_lfs(hub, tmp_path):
    """git-lfs sends no token to the verify href of an ``authenticated`` object: it is presigned."""
    url = _private_repo(hub.url, "alice/private")
    work, payload = tmp_path / "work", os.urandom(2 * MiB)
    commit_lfs_files(work, url, {"weights.bin": payload})
    push = git("push", authed(url), "main", cwd=work, env={**os.environ, "GIT_TRACE": "1"})
    assert "tq: verify" in push.stderr and "attempt #2" not in push.stderr  # git-lfs 3.3 tries a failing verify 3x
    stats = hub.stats()
    assert stats["requests"]["verify"] == 1 and stats["objects_stored"] == 1

    clone = tmp_path / "clone"
    git("clone", "-q", authed(url), str(clone))
    assert (clone / "weights.bin").read_bytes() == payload
    assert git("clone", "-q", url, str(tmp_path / "anonymous"), check=False).returncode != 0


@pytest.mark.e2e
def test_a_root_from_before_per_repo_scope_keeps_serving_its_objects(start_hub, tmp_path):
    """Repos without a record of what they hold adopt, at start, the stored objects their history points to."""
    import shutil

    from git_hf_agent.localhub.process import ServeProcess

    hub = start_hub()
    url = create_repo(hub.url, "alice/old")
    work, payload = tmp_path / "work", os.urandom(300_000)
    commit_lfs_files(work, url, {"w.bin": payload})
    git("push", authed(url), "main", cwd=work)
    hub.stop()
    shutil.rmtree(hub.root / "repos" / "models" / "alice" / "old.git" / "lfs-objects")  # as an older version left it

    again = ServeProcess(root=hub.root, tokens={"alice": TOKEN})
    try:
        down = batch(again.url, "alice/old", [(oid(payload), len(payload))], operation="download").json()["objects"][0]
        assert requests.get(down["actions"]["download"]["href"], timeout=30).content == payload
    finally:
        again.stop()
