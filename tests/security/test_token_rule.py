"""The one rule for where the Hub token may go (issue 8): ``hubconf.may_receive_token``, case by case.

Every row is a URL a user, a repo file (``.lfsconfig``), a server or git's
credential protocol can put in front of us, and whether the token may go there.
"""

from __future__ import annotations

import pytest

from git_hf_agent import hubconf
from git_hf_agent.cli.credential import answer
from tests.support import TOKEN, git

HUB = "https://huggingface.co"
LOCAL = "http://127.0.0.1:8080"
V6 = "http://[::1]:8080"

CASES = [
    # (url, configured endpoints, may receive the token)
    ("https://huggingface.co/alice/m.git/info/lfs/objects/batch", [HUB], True),
    ("https://huggingface.co", [HUB], True),
    ("https://HuggingFace.CO/alice/m", [HUB], True),                     # host case does not matter
    ("HTTPS://huggingface.co/alice/m", [HUB], True),                     # nor scheme case
    ("https://huggingface.co./alice/m", [HUB], True),                    # trailing dot = same host
    ("https://huggingface.co:443/alice/m", [HUB], True),                 # default port spelled out
    ("https://user:pw@huggingface.co/alice/m", [HUB], True),             # userinfo is never part of the match
    ("https://hf.co/alice/m", [HUB], True),                              # the Hub's own short domain
    ("https://hf.co./alice/m", [HUB], True),
    ("https://huggingface.co/alice/m", ["https://hf.co"], True),         # and the other way round
    ("http://hf.co/alice/m", [HUB], False),
    ("https://cdn-lfs.hf.co/x", [HUB], False),                           # subdomains of the alias neither
    ("http://huggingface.co/alice/m", [HUB], False),                     # never downgraded to plain http
    ("https://huggingface.co:8443/alice/m", [HUB], False),               # other port
    ("https://huggingface.co:80/alice/m", [HUB], False),
    ("https://huggingface.co.evil.com/alice/m", [HUB], False),           # lookalikes
    ("https://evilhuggingface.co/alice/m", [HUB], False),
    ("https://huggingface.co@evil.com/alice/m", [HUB], False),           # userinfo trick: the host is evil.com
    ("https://huggingface.co:443@evil.com/", [HUB], False),
    ("https://evil.com\\@huggingface.co/", [HUB], False),                # clients disagree on backslash: refused
    ("https://evil.com%2F@huggingface.co/", [HUB], True),                # percent-encoded userinfo: host is the Hub
    ("https://a@b@huggingface.co/", [HUB], False),                       # several @: ambiguous, refused
    ("https://hugging face.co/", [HUB], False),
    ("https://huggingface.co\n.evil.com/", [HUB], False),                # control characters
    ("https://xn--huggingface-.co/", [HUB], False),
    ("https://huggingface.co../", [HUB], False),
    ("https://cdn-lfs.huggingface.co/repos/x", [HUB], False),            # subdomains (presigned storage) never
    ("https://s3.amazonaws.com/bucket/x?X-Amz-Signature=s", [HUB], False),
    ("https://github.com/alice/m", [HUB], False),                        # other hosts
    ("ftp://huggingface.co/alice/m", [HUB], False),                      # other schemes
    ("git@hf.co:alice/m", [HUB], False),
    ("", [HUB], False),
    ("https://huggingface.co:99999/", [HUB], False),                     # bad port
    ("https://:443/", [HUB], False),                                     # no host
    ("http://127.0.0.1:8080/alice/m", [HUB, LOCAL], True),               # a local Hub the user named
    ("http://127.0.0.1:8080/alice/m", [HUB], False),                     # ... and not named
    ("https://127.0.0.1:8080/alice/m", [LOCAL], False),                  # scheme must match the endpoint's
    ("http://127.0.0.1:8081/alice/m", [LOCAL], False),
    ("http://127.0.0.2:8080/alice/m", [LOCAL], False),
    ("http://localhost:8080/alice/m", [LOCAL], False),                   # no DNS-level equivalences
    ("http://[::1]:8080/alice/m", [V6], True),                           # IPv6 literal
    ("http://[0:0:0:0:0:0:0:1]:8080/alice/m", [V6], True),               # ... in any spelling
    ("http://[::1]:8081/alice/m", [V6], False),
    ("http://[::2]:8080/alice/m", [V6], False),
    ("http://[fe80::1%25eth0]:8080/", ["http://[fe80::1%25eth0]:8080"], False),  # zone ids refused
    ("http://[::1:8080/", [V6], False),                                  # unbalanced bracket
    ("https://hub.example.com/alice/m", ["https://hub.example.com/prefix"], True),  # endpoint below a path
    ("http://hub.example.com/alice/m", ["https://hub.example.com/prefix"], False),
]


@pytest.mark.parametrize("url,endpoints,allowed", CASES)
def test_may_receive_token(url, endpoints, allowed):
    assert hubconf.may_receive_token(url, endpoints) is allowed


def test_default_endpoints_are_hf_endpoint_or_huggingface_co(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    assert hubconf.may_receive_token("https://huggingface.co/a/b")
    assert not hubconf.may_receive_token("http://127.0.0.1:8080/a/b")
    monkeypatch.setenv("HF_ENDPOINT", LOCAL)
    assert hubconf.may_receive_token("http://127.0.0.1:8080/a/b")
    assert not hubconf.may_receive_token("https://huggingface.co/a/b")  # HF_ENDPOINT replaces the default


def test_endpoints_named_in_git_config_count(tmp_path, monkeypatch):
    """`git hf init --endpoint` / `git hf clone --endpoint` remember the endpoint as hf.endpoint."""
    repo = tmp_path / "r"
    git("init", "-q", str(repo))
    monkeypatch.chdir(repo)
    assert not hubconf.may_receive_token("http://127.0.0.1:8080/a/b")
    git("config", "--add", "hf.endpoint", LOCAL, cwd=repo)
    assert hubconf.may_receive_token("http://127.0.0.1:8080/a/b")
    assert hubconf.may_receive_token("https://huggingface.co/a/b")  # the default stays
    assert hubconf.configured_endpoints(repo) == [HUB, LOCAL]


# git's credential protocol: protocol= and host= (host may carry :port); never userinfo.
CREDENTIAL_CASES = [
    ("https", "huggingface.co", True),
    ("https", "HuggingFace.CO:443", True),
    ("https", "huggingface.co.", True),
    ("https", "hf.co", True),
    ("http", "huggingface.co", False),
    ("https", "huggingface.co:8443", False),
    ("https", "evil@huggingface.co", False),          # a userinfo trick string in host=
    ("https", "huggingface.co@evil.com", False),
    ("https", "huggingface.co/evil", False),
    ("https", "huggingface.co\\evil", False),
    ("https", "huggingface.co.evil.com", False),
    ("https", "evilhuggingface.co", False),
    ("https", "", False),
    ("", "huggingface.co", False),
    ("ssh", "huggingface.co", False),
    ("HTTPS", "huggingface.co", False),               # git always sends the scheme lower-case
    ("http", "127.0.0.1:8080", True),
    ("http", "127.0.0.1:8081", False),
    ("http", "[::1]:8080", False),
]


@pytest.mark.parametrize("protocol,host,allowed", CREDENTIAL_CASES)
def test_credential_helper_answers_by_the_rule(monkeypatch, tmp_path, protocol, host, allowed):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    reply = answer({"protocol": protocol, "host": host}, [LOCAL])
    assert (reply == f"username=hf_user\npassword={TOKEN}\n") is allowed
    if not allowed:
        assert reply == ""


@pytest.mark.e2e
def test_credential_helper_refuses_a_userinfo_host_line(tmp_path):
    """The real `git hf credential get`, fed the host= line git's protocol could carry."""
    from tests.cli_setup.conftest import hf

    for host in ("evil@huggingface.co", "huggingface.co@evil.com"):
        proc = hf("credential", "get", cwd=tmp_path, env={"HF_TOKEN": TOKEN},
                  input=f"protocol=https\nhost={host}\npath=alice/m.git\n\n")
        assert proc.returncode == 0 and proc.stdout == "" and TOKEN not in proc.stderr
    ok = hf("credential", "get", cwd=tmp_path, env={"HF_TOKEN": TOKEN}, input="protocol=https\nhost=huggingface.co\n\n")
    assert f"password={TOKEN}" in ok.stdout
