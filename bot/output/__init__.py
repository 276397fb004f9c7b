"""What `mountie check` reports, independent of the output format.

Each format module (`text`, `json_format`, `sarif`, `github`) turns a `Report` into the text
written to standard output. Format modules are imported only when chosen, to keep the command's
start-up fast.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from bot.discovery import InputError
from bot.engine import LintResult
from bot.rules.base import Finding, Severity

FORMATS = ("text", "json", "sarif", "github")

STDIN_NAME = "<stdin>"

# Exit statuses, shared by every subcommand.
EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_ERROR = 2


@dataclass(frozen=True, slots=True)
class FileReport:
    """One Dockerfile that was read: its text (for diffs and fingerprints) and what lint found."""

    path: str  # as shown: normalised, forward slashes; standard input is `<stdin>` or --stdin-filename
    text: str
    result: LintResult

    @property
    def fatal(self) -> bool:
        return self.result.fatal


@dataclass(frozen=True, slots=True)
class Report:
    files: tuple[FileReport, ...]
    errors: tuple[InputError, ...]  # paths that could not be read at all
    fail_level: Severity

    @property
    def findings(self) -> list[Finding]:
        return [finding for file in self.files for finding in file.result.findings]

    def failing(self) -> list[Finding]:
        return [f for f in self.findings if f.severity >= self.fail_level]

    @property
    def broken(self) -> bool:
        """Some input could not be checked: an unreadable path or a file BuildKit cannot parse."""
        return bool(self.errors) or any(file.fatal for file in self.files)

    @property
    def exit_code(self) -> int:
        if self.broken:
            return EXIT_ERROR
        return EXIT_FINDINGS if self.failing() else EXIT_OK

    def severity_counts(self) -> dict[str, int]:
        counts = Counter(f.severity for f in self.findings)
        return {severity.label: counts[severity] for severity in sorted(Severity, reverse=True)}


def plural(count: int, word: str, many: str | None = None) -> str:
    return f"{count} {word if count == 1 else (many or word + 's')}"


__all__ = [
    "EXIT_ERROR",
    "EXIT_FINDINGS",
    "EXIT_OK",
    "FORMATS",
    "STDIN_NAME",
    "FileReport",
    "InputError",
    "Report",
    "plural",
]
