"""Expected failures of ``git hf``: one exception type carrying what went wrong and the fix.

Raised anywhere below the CLI, caught once in :func:`git_hf_agent.cli.main.main`,
which prints ``error: <message>`` and ``fix: <fix>`` and exits 1 (pre-commit's shape).
"""

from __future__ import annotations


class HfError(Exception):
    """A failure the user can act on; ``fix`` says what to do next."""

    def __init__(self, message: str, fix: str | None = None, exit_code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix
        self.exit_code = exit_code
