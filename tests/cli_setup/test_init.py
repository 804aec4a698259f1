"""`git hf init`: what it writes, idempotence, --dry-run, migration of huggingface-cli configs, .gitattributes."""

from __future__ import annotations

import os

import pytest

from git_hf_agent.setup import HUB_LFS_PATTERNS
from tests.cli_setup.conftest import hf
from tests.support import TOKEN, create_repo, git, sparse_file, start_from_hub

pytestmark = pytest.mark.e2e
ENDPOINT = "http://127.0.0.1:9"  # init never contacts the Hub


def config(repo, *args):
    return git("config", *args, cwd=repo, check=False).stdout.splitlines()


def snapshot(repo):
    """Bytes of everything init may write: local config, .gitattributes, hooks."""
    files = [repo / ".git" / "config", repo / ".gitattributes", *sorted((repo / ".git" / "hooks").iterdir())]
    return {str(f): f.read_bytes() for f in files if f.exists()}


def test_init_registers_agent_and_second_run_changes_nothing(repo):
    first = hf("init", "--endpoint", ENDPOINT, "--parallel", "4", cwd=repo)
    assert first.returncode == 0, first.stderr
    agent = config(repo, "--get", "lfs.customtransfer.multipart.path")[0]
    assert os.path.isabs(agent) and os.access(agent, os.X_OK) and agent.endswith("git-hf-agent")
    assert config(repo, "--get", "lfs.customtransfer.multipart.args") == ["--parallel 4"]
    assert config(repo, "--get", "lfs.customtransfer.multipart.concurrent") == ["true"]
    assert config(repo, "--get", "lfs.customtransfer.multipart.direction") == ["both"]   # downloads: tests/download
    assert config(repo, "--get", f"lfs.{ENDPOINT}/.locksverify") == ["false"]
    assert "git lfs pre-push" in (repo / ".git" / "hooks" / "pre-push").read_text()
    helpers = config(repo, "--get-all", f"credential.{ENDPOINT}.helper")
    assert helpers[0] == "" and " credential --endpoint " in helpers[1]
    # git-lfs itself offers the agent for uploads, under the name the Hub answers with.
    env = dict(line.split("=", 1) for line in git("lfs", "env", cwd=repo).stdout.splitlines() if "=" in line)
    assert "multipart" in env["UploadTransfers"].split(",")

    assert "no Hub token found" in first.stdout and "hf auth login" in first.stdout
    before = snapshot(repo)
    second = hf("init", "--endpoint", ENDPOINT, cwd=repo)
    assert second.returncode == 0, second.stderr
    assert "already configured" in second.stdout
    assert snapshot(repo) == before
    # --parallel kept: a plain re-run does not drop the user's choice.
    assert config(repo, "--get", "lfs.customtransfer.multipart.args") == ["--parallel 4"]


def test_dry_run_lists_changes_and_writes_nothing(repo):
    before = snapshot(repo)
    proc = hf("init", "--dry-run", "--endpoint", ENDPOINT, cwd=repo)
    assert proc.returncode == 0, proc.stderr
    assert "lfs.customtransfer.multipart.path" in proc.stdout and "nothing was changed" in proc.stdout
    assert snapshot(repo) == before
    assert config(repo, "--get", "lfs.customtransfer.multipart.path") == []


@pytest.mark.parametrize("command", ["huggingface-cli", "hf", "/usr/local/bin/huggingface-cli"])
def test_replaces_huggingface_cli_registration(repo, command):
    git("config", "lfs.customtransfer.multipart.path", command, cwd=repo)
    git("config", "lfs.customtransfer.multipart.args", "lfs-multipart-upload", cwd=repo)
    proc = hf("init", "--endpoint", ENDPOINT, cwd=repo)
    assert proc.returncode == 0, proc.stderr
    assert "huggingface-cli" in proc.stdout and "replace" in proc.stdout
    assert config(repo, "--get", "lfs.customtransfer.multipart.path")[0].endswith("git-hf-agent")
    assert config(repo, "--get-all", "lfs.customtransfer.multipart.args") == [""]
    assert "already configured" in hf("init", "--endpoint", ENDPOINT, cwd=repo).stdout


def test_mixed_case_agent_keys_are_removed(repo):
    git("config", "lfs.customTransfer.multipart.path", "huggingface-cli", cwd=repo)
    proc = hf("init", "--endpoint", ENDPOINT, cwd=repo)
    assert proc.returncode == 0, proc.stderr
    assert "lfs.customTransfer.multipart.path" in proc.stdout
    assert "customTransfer" not in (repo / ".git" / "config").read_text()


def test_gitattributes_patterns_appended_existing_lines_kept(repo):
    original = "# mine\n*.bin -filter -diff\ndocs/*.md text\n*.safetensors filter=lfs diff=lfs merge=lfs -text"  # no final newline
    (repo / ".gitattributes").write_text(original)
    assert hf("init", "--endpoint", ENDPOINT, cwd=repo).returncode == 0
    text = (repo / ".gitattributes").read_text()
    assert text.startswith(original + "\n")
    lines = text.splitlines()
    patterns = [line.split()[0] for line in lines if line and not line.startswith("#")]
    assert patterns.count("*.bin") == 1 and patterns.count("*.safetensors") == 1
    for pattern in ("*.gguf", "*.onnx", "*.parquet", "*.pt", "*.ckpt", "*.h5", "*.zip", "*.tar.*"):
        assert f"{pattern} filter=lfs diff=lfs merge=lfs -text" in lines
    assert set(HUB_LFS_PATTERNS) <= set(patterns)
    # git agrees: a new .gguf file goes through LFS, the user's *.bin rule still wins.
    attrs = git("check-attr", "filter", "model.gguf", "x.bin", cwd=repo).stdout
    assert "model.gguf: filter: lfs" in attrs and "x.bin: filter: unset" in attrs


def test_outside_a_repository_is_a_clear_error(tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    proc = hf("init", "--endpoint", ENDPOINT, cwd=plain)
    assert proc.returncode == 1
    assert "error:" in proc.stderr and "not inside a git repository" in proc.stderr
    assert "fix:" in proc.stderr and "--global" in proc.stderr
    assert list(plain.iterdir()) == []


def test_global_init_writes_global_config_only(tmp_path, hermetic):
    proc = hf("init", "--global", "--endpoint", ENDPOINT, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    text = (tmp_path / "home" / ".gitconfig").read_text()
    assert "git-hf-agent" in text and "locksverify" in text and "filter \"lfs\"" in text
    assert not (tmp_path / ".gitattributes").exists()
    assert "already configured" in hf("init", "--global", "--endpoint", ENDPOINT, cwd=tmp_path).stdout


def test_endpoint_from_hf_endpoint(repo):
    proc = hf("init", cwd=repo, env={"HF_ENDPOINT": "https://hub.example.org/"})
    assert proc.returncode == 0, proc.stderr
    assert config(repo, "--get", "lfs.https://hub.example.org/.locksverify") == ["false"]
    assert config(repo, "--get-all", "credential.https://hub.example.org.helper")[0] == ""


def test_after_init_a_plain_git_push_uses_the_agent_and_the_helper(start_hub, repo):
    """The whole point of init: `git push` of a *.safetensors file goes multipart through git-hf-agent."""
    hub = start_hub("--multipart-threshold", "1MiB", "--chunk-size", "1MiB")
    url = create_repo(hub.url, "alice/big")
    start_from_hub(repo, url)
    assert hf("init", "--endpoint", hub.url, "--parallel", "2", cwd=repo).returncode == 0
    sparse_file(repo / "model.safetensors", 3 * 2**20 + 5, stamp=b"init-e2e")
    git("add", ".", cwd=repo)
    git("commit", "-q", "-m", "model", cwd=repo)
    git("remote", "add", "origin", url, cwd=repo)
    pushed = git("push", "origin", "main", cwd=repo, env={"HF_TOKEN": TOKEN, "GIT_TRACE": "1"}, check=False)
    assert pushed.returncode == 0, pushed.stderr
    # locksverify=false for the endpoint: git-lfs does not even ask (the Hub has no locking API).
    assert "locks/verify" not in pushed.stderr
    stats = hub.stats()
    assert stats["part_puts"] == 4 and stats["completions"] == 1
    assert stats["auth_headers_seen"]["part"] == 0


def test_parallel_updates_only_its_own_option(repo):
    assert hf("init", "--endpoint", ENDPOINT, cwd=repo).returncode == 0
    git("config", "lfs.customtransfer.multipart.args", "--max-attempts 3 --parallel 2", cwd=repo)
    proc = hf("init", "--endpoint", ENDPOINT, "--parallel", "12", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    assert config(repo, "--get", "lfs.customtransfer.multipart.args") == ["--parallel 12 --max-attempts 3"]
    assert "already configured" in hf("init", "--endpoint", ENDPOINT, "--parallel", "12", cwd=repo).stdout


def test_agent_from_an_old_install_location_is_repointed_keeping_its_options(repo):
    git("config", "lfs.customtransfer.multipart.path", "/old/venv/bin/git-hf-agent", cwd=repo)
    git("config", "lfs.customtransfer.multipart.args", "--parallel 3", cwd=repo)
    proc = hf("init", "--endpoint", ENDPOINT, cwd=repo)
    assert proc.returncode == 0, proc.stderr
    assert config(repo, "--get", "lfs.customtransfer.multipart.path")[0] != "/old/venv/bin/git-hf-agent"
    assert config(repo, "--get", "lfs.customtransfer.multipart.args") == ["--parallel 3"]


def test_own_pre_push_hook_is_never_overwritten(repo):
    hook = repo / ".git" / "hooks" / "pre-push"
    hook.write_text("#!/bin/sh\necho my checks\n")
    hook.chmod(0o755)
    proc = hf("init", "--endpoint", ENDPOINT, cwd=repo)
    assert proc.returncode == 1
    assert "fix:" in proc.stderr and 'git lfs pre-push "$@"' in proc.stderr
    assert hook.read_text() == "#!/bin/sh\necho my checks\n"


def test_agent_path_with_spaces_works_with_git_lfs_and_doctor(start_hub, repo, tmp_path):
    """git-lfs 3.x runs `sh -c "'<path>' <args>"`, quoting the path itself: a path with a space works."""
    import shlex

    from git_hf_agent.setup import installed_command

    hub = start_hub("--multipart-threshold", "1MiB", "--chunk-size", "1MiB")
    url = create_repo(hub.url, "alice/spaces")
    start_from_hub(repo, url)
    assert hf("init", "--endpoint", hub.url, cwd=repo).returncode == 0
    wrapper = tmp_path / "my tools" / "git-hf-agent"
    wrapper.parent.mkdir()
    wrapper.write_text(f"#!/bin/sh\nexec {shlex.quote(installed_command('git-hf-agent'))} \"$@\"\n")
    wrapper.chmod(0o755)
    git("config", "lfs.customtransfer.multipart.path", str(wrapper), cwd=repo)
    doctor = hf("doctor", cwd=repo, env={"HF_TOKEN": TOKEN})
    assert "answered the init line with {}" in doctor.stdout, doctor.stdout
    sparse_file(repo / "weights.bin", 2 * 2**20 + 1, stamp=b"spaces")
    git("add", ".", cwd=repo)
    git("commit", "-q", "-m", "w", cwd=repo)
    git("remote", "add", "origin", url, cwd=repo)
    pushed = git("push", "origin", "main", cwd=repo, env={"HF_TOKEN": TOKEN}, check=False)
    assert pushed.returncode == 0, pushed.stderr
    assert hub.stats()["part_puts"] == 3


def test_origin_on_another_host_gets_a_note(repo):
    git("remote", "add", "origin", "http://alice:secret@127.0.0.1:8/alice/x", cwd=repo)
    proc = hf("init", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    assert "note: origin is on http://127.0.0.1:8, not https://huggingface.co" in proc.stdout
    assert "--endpoint http://127.0.0.1:8" in proc.stdout and "secret" not in proc.stdout
    same = hf("init", "--endpoint", "http://127.0.0.1:8", cwd=repo)
    assert "note: origin" not in same.stdout
