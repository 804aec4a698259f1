"""``git hf``: the click group, lazy subcommand loading and the one error handler.

Each subcommand lives in its own module (``git_hf_agent.cli.<name>``) exposing a
click command named ``cli``; modules are imported only when their command runs,
so ``git hf credential`` (called by git on every push) starts fast.

Exit codes (pre-commit's convention): 0 ok, 1 an expected failure
(:class:`~git_hf_agent.errors.HfError`, printed with its fix), 130 Ctrl-C,
3 a bug (traceback only with ``--verbose``).
"""

from __future__ import annotations

import importlib
import sys

import click

from git_hf_agent import __version__
from git_hf_agent.errors import HfError
from git_hf_agent.redact import redact_text

# name -> (module, one-line help shown by `git hf --help` without importing the module)
COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("git_hf_agent.cli.init", "Configure a repo (or --global) for pushing to the Hub."),
    "check": ("git_hf_agent.cli.check", "Preflight: what would the Hub reject in this push?"),
    "commit": ("git_hf_agent.cli.commit", "Stage and commit, putting binary and large files into LFS."),
    "push": ("git_hf_agent.cli.push", "check, git push, then verify."),
    "verify": ("git_hf_agent.cli.verify", "Check that the Hub holds every LFS object of a revision."),
    "clone": ("git_hf_agent.cli.clone", "Clone a Hub repo (optionally lazily) and configure it."),
    "create": ("git_hf_agent.cli.create", "Create a repo on the Hub."),
    "doctor": ("git_hf_agent.cli.doctor", "Diagnose git, git-lfs, agent, credentials and endpoint."),
    "credential": ("git_hf_agent.cli.credential", "git credential helper answering with the Hub token."),
    "serve": ("git_hf_agent.cli.serve", "Run the embedded local Hub."),
    "demo": ("git_hf_agent.cli.demo", "Push a huge file to a local Hub and verify it, end to end."),
}


class LazyGroup(click.Group):
    """A click group that imports a subcommand's module only when it is invoked."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module = importlib.import_module(COMMANDS[cmd_name][0])
        return module.cli

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="git hf")
@click.option("--verbose", "-v", is_flag=True, help="Show tracebacks and more detail.")
@click.pass_context
def cli(ctx: click.Context, verbose: bool) -> None:
    """Push huge model and dataset files to the Hugging Face Hub with plain git."""
    ctx.obj = {"verbose": verbose}


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: run the group and map every failure to one exit code."""
    verbose = "--verbose" in (argv or sys.argv[1:]) or "-v" in (argv or sys.argv[1:])
    try:
        code = cli.main(args=argv, prog_name="git hf", standalone_mode=False)
    except HfError as exc:
        # the last line of defence: any URL userinfo, signature or token left in a message is masked
        click.echo(f"error: {redact_text(exc.message)}", err=True)
        if exc.fix:
            click.echo(f"fix: {redact_text(exc.fix)}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception:  # noqa: BLE001 - the one place bugs are reported
        if verbose:
            raise
        exc_type, exc_value, _ = sys.exc_info()
        click.echo(f"bug: {exc_type.__name__}: {redact_text(str(exc_value))}", err=True)
        click.echo("This is a bug in git-hf-agent. Re-run with `git hf --verbose ...` and report the traceback.", err=True)
        sys.exit(3)
    sys.exit(code if isinstance(code, int) else 0)
