"""What the CLI says when something fails: one line, with a hint at the fix."""

from __future__ import annotations


class CliError(Exception):
    """A failure the command reports as one line and exit code `code`."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code
