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


class _NotPlainJSONError(Exception):
    pass


def dump_json(value: object) -> str:
    """`json.dumps(value, indent=2, ensure_ascii=False)`, byte for byte, for documents made of
    dicts with string keys, lists, tuples, strings, ints, booleans and None, in half the time
    (`indent` makes json use its pure-Python encoder; this one writes strings with the C one).
    Anything else (a float, a key that is not a string) goes to `json.dumps` itself."""
    from json.encoder import encode_basestring

    out: list[str] = []
    append = out.append

    def emit(item: object, newline: str) -> None:
        if isinstance(item, str):
            append(encode_basestring(item))
        elif isinstance(item, dict):
            if not item:
                append("{}")
                return
            inner = newline + "  "
            separator = "{" + inner
            for key, member in item.items():
                if not isinstance(key, str):
                    raise _NotPlainJSONError
                append(separator)
                append(encode_basestring(key))
                append(": ")
                emit(member, inner)
                separator = "," + inner
            append(newline + "}")
        elif isinstance(item, list | tuple):
            if not item:
                append("[]")
                return
            inner = newline + "  "
            separator = "[" + inner
            for member in item:
                append(separator)
                emit(member, inner)
                separator = "," + inner
            append(newline + "]")
        elif item is None:
            append("null")
        elif item is True:
            append("true")
        elif item is False:
            append("false")
        elif type(item) is int:
            append(int.__repr__(item))
        else:
            raise _NotPlainJSONError

    try:
        emit(value, "\n")
    except _NotPlainJSONError:
        import json

        return json.dumps(value, indent=2, ensure_ascii=False)
    return "".join(out)


__all__ = [
    "EXIT_ERROR",
    "EXIT_FINDINGS",
    "EXIT_OK",
    "FORMATS",
    "STDIN_NAME",
    "FileReport",
    "InputError",
    "Report",
    "dump_json",
    "plural",
]
