"""`mountie check --format sarif`: SARIF 2.1.0 for GitHub code scanning (`upload-sarif`).

One run. `tool.driver.rules` lists every rule (id, name, shortDescription = summary,
fullDescription = the doc's "What it does", help = the whole doc as text and Markdown,
defaultConfiguration.level). Each finding is a result with its level (error, warning, note),
message, location (a relative, `/`-separated, percent-encoded `uri` when the path is under the
working directory, else an absolute `file:` URI; region startLine, endLine, startColumn), the
related lines as relatedLocations, a `partialFingerprints["mountieFindingHash/v1"]` that does not
change when lines move (a hash of the rule, the path and the instruction's text, with an
occurrence number) so code scanning keeps one alert per problem across pushes, and its fix.

A fix is one `fixes[]` entry whose replacements each replace whole lines: `deletedRegion` runs from
column 1 of `startLine` to column 1 of the line after the last replaced line, so it includes that
line's newline, and `insertedContent.text` is the new lines, each ending with the file's newline
sequence (empty to delete). When the last replaced line is the file's last line and has no
newline, the region ends at that line's end instead and the inserted text has no final newline.

Files that could not be checked, and BuildKit problems, are `invocations[0]
.toolExecutionNotifications` (code scanning shows them as tool errors and warnings);
`executionSuccessful` is false when any input could not be checked.
"""

from __future__ import annotations

import hashlib
import os
import re
import urllib.parse
from collections import Counter
from pathlib import Path, PurePosixPath
from typing import Any

from bot import __version__
from bot.dockerfile.errors import Problem
from bot.output import STDIN_NAME, FileReport, Report, dump_json
from bot.rules import ALL_RULES
from bot.rules.base import Edit, Finding, Rule, Severity

SARIF_SCHEMA_URI = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
FINGERPRINT_KEY = "mountieFindingHash/v1"

LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}
_PROBLEM_SEVERITY = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "recommendation"}
_WHAT_IT_DOES = re.compile(r"##\s*What it does\s*\n(.*?)(?=\n##|\Z)", re.S)


def artifact_uri(path: str) -> str:
    if path == STDIN_NAME:
        return "stdin"
    posix = PurePosixPath(path)
    if posix.is_absolute() or (posix.parts and posix.parts[0] == ".."):
        return Path(os.path.abspath(path)).as_uri()
    return urllib.parse.quote(posix.as_posix(), safe="/")


def _physical_lines(text: str) -> list[str]:
    """Lines as `apply_edits` counts them: split on "\\n", each keeping its terminator."""
    lines = text.split("\n")
    out = [line + "\n" for line in lines[:-1]]
    if lines[-1]:
        out.append(lines[-1])
    return out


def rule_descriptor(rule: Rule) -> dict[str, Any]:
    match = _WHAT_IT_DOES.search(rule.doc)
    full = " ".join(match.group(1).split()) if match else rule.summary
    return {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": full},
        "help": {"text": rule.doc.strip(), "markdown": rule.doc.strip()},
        "defaultConfiguration": {"level": LEVELS[rule.severity]},
        "properties": {
            "tags": ["dockerfile", "buildkit", "correctness"],
            "precision": "high",
            "problem.severity": _PROBLEM_SEVERITY[rule.severity],
        },
    }


def _location(uri: str, start: int, end: int | None = None, column: int | None = None) -> dict[str, Any]:
    region: dict[str, Any] = {"startLine": max(start, 1)}
    if end is not None:
        region["endLine"] = max(end, start, 1)
    if column is not None:
        region["startColumn"] = max(column, 1)
    return {"physicalLocation": {"artifactLocation": {"uri": uri}, "region": region}}


def _replacement(edit: Edit, lines: list[str], newline: str) -> dict[str, Any]:
    new_lines = edit.new_text.split("\n") if edit.new_text else []
    last = lines[edit.end_line - 1] if 0 < edit.end_line <= len(lines) else "\n"
    if last.endswith("\n"):
        region = {
            "startLine": edit.start_line,
            "startColumn": 1,
            "endLine": edit.end_line + 1,
            "endColumn": 1,
        }
        inserted = "".join(line + newline for line in new_lines)
    else:
        region = {
            "startLine": edit.start_line,
            "startColumn": 1,
            "endLine": edit.end_line,
            "endColumn": len(last.rstrip("\r")) + 1,
        }
        inserted = newline.join(new_lines)
    return {"deletedRegion": region, "insertedContent": {"text": inserted}}


def _fingerprint(finding: Finding, path: str, lines: list[str], seen: Counter[str]) -> str:
    snippet = " ".join("".join(lines[finding.line - 1 : finding.end_line]).split())
    key = "\0".join((finding.code, path, snippet))
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    seen[digest] += 1
    return f"{digest}:{seen[digest]}"


def _result(
    finding: Finding, file: FileReport, rule_index: dict[str, int], lines: list[str], seen: Counter[str]
) -> dict[str, Any]:
    uri = artifact_uri(file.path)
    result: dict[str, Any] = {
        "ruleId": finding.code,
        "ruleIndex": rule_index[finding.code],
        "level": LEVELS[finding.severity],
        "message": {"text": finding.message},
        "locations": [_location(uri, finding.line, finding.end_line, finding.column)],
        "partialFingerprints": {FINGERPRINT_KEY: _fingerprint(finding, file.path, lines, seen)},
    }
    if finding.related_lines:
        result["relatedLocations"] = [
            {"id": number, **_location(uri, line), "message": {"text": f"related instruction (line {line})"}}
            for number, line in enumerate(finding.related_lines, start=1)
        ]
    if finding.fix is not None:
        newline = "\r\n" if "\r\n" in file.text else "\n"
        result["fixes"] = [
            {
                "description": {"text": finding.fix.title},
                "artifactChanges": [
                    {
                        "artifactLocation": {"uri": uri},
                        "replacements": [
                            _replacement(edit, lines, newline)
                            for edit in sorted(set(finding.fix.edits), key=lambda e: e.start_line)
                        ],
                    }
                ],
            }
        ]
    return result


def _notification(message: str, level: str, uri: str | None, line: int | None = None) -> dict[str, Any]:
    notification: dict[str, Any] = {"level": level, "message": {"text": message}}
    if uri is not None:
        location: dict[str, Any] = {"physicalLocation": {"artifactLocation": {"uri": uri}}}
        if line is not None:
            location["physicalLocation"]["region"] = {"startLine": max(line, 1)}
        notification["locations"] = [location]
    return notification


def _problem_notification(file: FileReport, problem: Problem) -> dict[str, Any]:
    level = "error" if problem.fatal else "warning"
    text = f"{file.path}:{problem.line}: {problem.message}"
    return _notification(text, level, artifact_uri(file.path), problem.line)


def report_to_sarif(report: Report) -> dict[str, Any]:
    rules: list[Rule] = list(ALL_RULES)
    rule_index = {rule.code: index for index, rule in enumerate(rules)}
    descriptors = [rule_descriptor(rule) for rule in rules]
    for finding in report.findings:  # a finding from a rule outside the registry (plugins, tests)
        if finding.code not in rule_index:
            rule_index[finding.code] = len(descriptors)
            descriptors.append(
                {"id": finding.code, "defaultConfiguration": {"level": LEVELS[finding.severity]}}
            )

    results: list[dict[str, Any]] = []
    notifications: list[dict[str, Any]] = []
    for file in report.files:
        if file.result.findings:  # most files have none: no need to split them into lines
            lines = _physical_lines(file.text)
            seen: Counter[str] = Counter()
            results.extend(_result(f, file, rule_index, lines, seen) for f in file.result.findings)
        notifications.extend(_problem_notification(file, p) for p in file.result.problems)
    for error in report.errors:
        notifications.append(
            _notification(f"{error.path}: {error.message}", "error", artifact_uri(error.path))
        )

    return {
        "$schema": SARIF_SCHEMA_URI,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "mountie",
                        "version": __version__,
                        "semanticVersion": __version__,
                        "rules": descriptors,
                    }
                },
                "invocations": [
                    {
                        "executionSuccessful": not report.broken,
                        "exitCode": report.exit_code,
                        "toolExecutionNotifications": notifications,
                    }
                ],
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }


def render_check(report: Report) -> str:
    return dump_json(report_to_sarif(report)) + "\n"
