"""``git hf serve``: run the embedded local Hub (git smart HTTP, LFS, Hub API) in the foreground.

The first stdout line is the base URL (flushed) so scripts and
:class:`~git_hf_agent.localhub.process.ServeProcess` can find the port; logs go
to stderr. SIGTERM/SIGINT stop it cleanly; a default (temporary) root is
removed at exit, and stderr says so at start. Tokens are never printed. See docs/local-hub.md.
"""

from __future__ import annotations

import shutil
import signal
import sys
import tempfile
from pathlib import Path

import click

from git_hf_agent.errors import HfError
from git_hf_agent.units import parse_size


class Size(click.ParamType):
    """A byte size or rate such as ``64MiB`` (units.parse_size)."""

    name = "size"

    def convert(self, value, param, ctx):
        try:
            return parse_size(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


SIZE = Size()


@click.command("serve")
@click.option("--root", type=click.Path(file_okay=False, path_type=Path),
              help="State directory (repos, LFS objects). Default: a temp dir removed at exit.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=0, show_default=True, type=click.IntRange(0, 65535), help="0 picks a free port.")
@click.option("--token", "tokens", multiple=True, metavar="NAME:TOKEN",
              help="A user and its token (repeatable). Writes need one; reads of public repos do not.")
@click.option("--public-url", metavar="URL", help="Base URL written into hrefs (when behind a proxy).")
@click.option("--chunk-size", type=SIZE, default="64MiB", show_default=True, help="Multipart part size.")
@click.option("--multipart-threshold", type=SIZE, default="5GiB", show_default=True,
              help="Objects above this get `multipart` when the client offers it.")
@click.option("--max-basic-size", type=SIZE, default="5GiB", show_default=True,
              help="Largest object a single (basic) PUT may upload.")
@click.option("--url-ttl", type=click.IntRange(1), default=86400, show_default=True,
              help="Lifetime of presigned URLs in seconds.")
@click.option("--conn-rate", type=SIZE, default="0", help="Per-connection throttle, bytes/s (0 = none).")
@click.option("--total-rate", type=SIZE, default="0", help="Global throttle, bytes/s (0 = none).")
@click.option("--latency-ms", type=click.IntRange(0), default=0, help="Delay added to every request.")
@click.option("--fault", "faults", multiple=True, metavar="ENDPOINT:KIND:RATE[:MAX]",
              help="Inject failures (repeatable); see docs/local-hub.md.")
@click.option("--seed", type=int, default=None, help="Seed for reproducible faults.")
@click.option("--stall-seconds", type=click.FloatRange(0), default=120.0, show_default=True,
              help="How long a `stall` fault stops reading before closing.")
@click.option("--allow-binary", is_flag=True,
              help="Accept pushes of binary files outside LFS (the Hub rejects them).")
@click.option("--empty-repos", is_flag=True,
              help="Create repos with no commit (the Hub's start with one holding its default .gitattributes).")
@click.option("--upload-reuse", type=click.Choice(["new", "keep"]), default="new", show_default=True,
              help="A batch for an object whose multipart upload is in progress: start a new upload (as the Hub "
                   "may) or keep the one in progress (same id, parts kept).")
@click.option("--max-file-size", type=SIZE, default="50GB", show_default=True,
              help="Largest LFS object a batch accepts (the Hub's hard limit is 50 GB).")
@click.option("--allow-host", "allow_hosts", multiple=True, metavar="NAME",
              help="A host name clients may use to reach this server, written into hrefs (repeatable).")
def cli(root, host, port, tokens, public_url, chunk_size, multipart_threshold, max_basic_size, url_ttl,
        conn_rate, total_rate, latency_ms, faults, seed, stall_seconds, allow_binary, empty_repos,
        upload_reuse, max_file_size, allow_hosts) -> None:
    """Run the embedded local Hub until interrupted."""
    from git_hf_agent.localhub.app import make_server
    from git_hf_agent.localhub.config import Config
    from git_hf_agent.localhub.faults import FaultRule

    if chunk_size < 1:
        raise HfError("--chunk-size must be at least 1 byte", "pass e.g. --chunk-size 64MiB")
    try:
        rules = tuple(FaultRule.parse(f) for f in faults)
    except ValueError as exc:
        raise HfError(str(exc), "see `git hf serve --help` and docs/local-hub.md for the fault syntax") from None
    users = _parse_tokens(tokens)   # every option checked before a temporary root exists
    temp_root = root is None
    root = Path(tempfile.mkdtemp(prefix="git-hf-serve-")) if temp_root else root
    try:
        config = Config(
            root=root, host=host, port=port, tokens=users, public_url=public_url,
            chunk_size=chunk_size, multipart_threshold=multipart_threshold, max_basic_size=max_basic_size,
            url_ttl=url_ttl, conn_rate=conn_rate, total_rate=total_rate, latency_ms=latency_ms, faults=rules,
            seed=seed, stall_seconds=stall_seconds, allow_binary=allow_binary, empty_repos=empty_repos,
            upload_reuse=upload_reuse, max_file_size=max_file_size, allow_hosts=tuple(allow_hosts),
        )
        server = make_server(config)
    except BaseException as exc:
        if temp_root:   # nothing was served from it
            shutil.rmtree(root, ignore_errors=True)
        if isinstance(exc, OSError):
            raise HfError(f"cannot listen on {host}:{port}: {exc.strerror}",
                          "choose another --port (0 picks a free one)") from None
        raise
    click.echo(server.hub.base_url)
    sys.stdout.flush()
    click.echo(f"localhub: serving {root} at {server.hub.base_url} (public URL {server.hub.public_url}); "
               f"users: {', '.join(sorted(config.users)) or 'none (read-only)'}", err=True)
    if temp_root:
        click.echo(f"localhub: the root {root} is temporary: everything pushed here is deleted when this server "
                   "stops; pass --root DIR to keep it", err=True)
    signal.signal(signal.SIGTERM, _stop)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.hub.stopping.set()
        server.server_close()
        if temp_root:
            shutil.rmtree(root, ignore_errors=True)


def _stop(signum, frame) -> None:
    raise KeyboardInterrupt


def _parse_tokens(values: tuple[str, ...]) -> dict[str, str]:
    tokens = {}
    for value in values:
        user, sep, token = value.partition(":")
        if not sep or not user or not token:
            raise HfError("--token expects NAME:TOKEN", "e.g. --token alice:hf_xxx")
        tokens[token] = user
    return tokens
