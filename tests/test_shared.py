"""Tests of the small shared helpers: sizes users type, redaction of secrets, Hub conventions."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from git_hf_agent import hubconf
from git_hf_agent.redact import redact_text, redact_url
from git_hf_agent.units import format_size, parse_size


@pytest.mark.parametrize(
    "text,expected",
    [("64MiB", 64 * 2**20), ("5GiB", 5 * 2**30), ("25MB", 25_000_000), ("1.5GiB", 3 * 2**29), ("4096", 4096), ("1 kib", 1024)],
)
def test_parse_size_accepts_the_spellings_users_write(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "MiB", "12 parsecs", "-5", "1e3"])
def test_parse_size_rejects_nonsense_with_the_accepted_forms(text):
    with pytest.raises(ValueError, match="64MiB"):
        parse_size(text)


@given(st.integers(min_value=0, max_value=2**50))
def test_format_size_round_trips_within_rounding(n):
    value, unit = format_size(n).split()
    assert abs(parse_size(f"{value}{unit if unit != 'B' else ''}") - n) <= max(1, n * 0.05)  # one decimal of the unit


def test_redact_url_removes_hub_and_s3_signatures_but_keeps_the_route():
    hub = "https://hub.example/api/complete_multipart?uploadId=abc&expiration=9&signature=deadbeef"
    s3 = "https://s3.example/b/k?partNumber=3&X-Amz-Credential=AKIA%2F1&X-Amz-Signature=f00d&uploadId=u"
    assert "deadbeef" not in redact_url(hub) and "uploadId=abc" in redact_url(hub)
    out = redact_url(s3)
    assert "f00d" not in out and "AKIA" not in out and "partNumber=3" in out


def test_redact_text_masks_tokens_credentials_and_given_secrets():
    text = (
        "PUT http://alice:hf_secretToken123456@127.0.0.1:8/x?signature=abc failed; "
        "Authorization: Bearer hf_otherToken987654 and mysecret"
    )
    out = redact_text(text, "mysecret")
    for secret in ("hf_secretToken123456", "hf_otherToken987654", "signature=abc", "mysecret"):
        assert secret not in out
    assert "127.0.0.1:8/x" in out


def test_token_precedence_env_then_file(tmp_path, monkeypatch):
    token_file = tmp_path / "hf" / "token"
    token_file.parent.mkdir()
    token_file.write_text("hf_fromFile\n")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    assert hubconf.token() == "hf_fromFile"
    monkeypatch.setenv("HUGGING_FACE_HUB_TOKEN", "hf_legacy")
    assert hubconf.token() == "hf_legacy"
    monkeypatch.setenv("HF_TOKEN", "hf_primary")
    assert hubconf.token() == "hf_primary"


def test_no_token_anywhere_is_none():
    assert hubconf.token() is None


def test_endpoint_from_env_and_explicit(monkeypatch):
    assert hubconf.endpoint() == "https://huggingface.co"
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9/")
    assert hubconf.endpoint() == "http://127.0.0.1:9"
    assert hubconf.endpoint("http://other") == "http://other"


@pytest.mark.parametrize(
    "text,kind,path",
    [
        ("alice/model", "model", "alice/model"),
        ("datasets/alice/data", "dataset", "datasets/alice/data"),
        ("https://huggingface.co/spaces/alice/app.git", "space", "spaces/alice/app"),
    ],
)
def test_repo_id_parse(text, kind, path):
    repo = hubconf.RepoId.parse(text)
    assert (repo.type, repo.path) == (kind, path)
    assert repo.lfs_url("http://h") == f"http://h/{path}.git/info/lfs"


@pytest.mark.parametrize("text", ["alice", "alice/../etc", "a/b/c", "alice/.git", "-x/y"])
def test_repo_id_rejects_path_tricks(text):
    with pytest.raises(ValueError):
        hubconf.RepoId.parse(text)
