"""Problems found while reading a Dockerfile, before any rule runs."""

from __future__ import annotations

from typing import NamedTuple


class Problem(NamedTuple):
    """Something BuildKit would reject or misread.

    A fatal problem means the file cannot be modelled at all (no rule runs on it); a non-fatal one is
    reported next to the findings.
    """

    line: int
    message: str
    fatal: bool = True


class DockerfileSyntaxError(Exception):
    """Raised inside the parser; turned into a fatal `Problem` by `parse_dockerfile`."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line
        self.message = message
