"""Findings and file reports made by hand, so the review tests do not depend on what rules find."""

from __future__ import annotations

from bot.dockerfile.errors import Problem
from bot.engine import LintResult
from bot.review.model import ChangedFile, FileReport
from bot.rules.base import Edit, Finding, Fix, Severity

TEXT = "".join(f"RUN echo {n}\n" for n in range(1, 41))  # 40 lines: "RUN echo 1" .. "RUN echo 40"


def finding(
    line: int,
    code: str = "BKM005",
    *,
    end_line: int | None = None,
    severity: Severity = Severity.WARNING,
    edits: tuple[Edit, ...] = (),
    title: str = "Fix it",
    message: str | None = None,
    no_fix_reason: str | None = None,
) -> Finding:
    return Finding(
        code=code,
        severity=severity,
        line=line,
        end_line=end_line or line,
        column=1,
        message=message or f"{code} on line {line}",
        fix=Fix(title, edits) if edits else None,
        no_fix_reason=no_fix_reason,
    )


def replace_line(line: int, text: str) -> Edit:
    return Edit(line, line, text)


def whole_file_patch(text: str) -> str:
    lines = text.splitlines()
    return f"@@ -0,0 +1,{len(lines)} @@\n" + "\n".join("+" + line for line in lines)


def window_patch(text: str, start: int, end: int) -> str:
    """A patch whose only hunk shows lines start..end (the middle one changed)."""
    lines = text.splitlines()[start - 1 : end]
    middle = (end - start) // 2
    body = [" " + line for line in lines]
    body[middle] = "+" + lines[middle]
    body.insert(middle, "-old")
    return f"@@ -{start},{len(lines)} +{start},{len(lines)} @@\n" + "\n".join(body)


def report(
    findings: list[Finding],
    *,
    path: str = "Dockerfile",
    text: str = TEXT,
    patch: str | None = "whole",
    problems: tuple[Problem, ...] = (),
) -> FileReport:
    if patch == "whole":
        patch = whole_file_patch(text)
    return FileReport(
        ChangedFile(path, "added", patch), text, LintResult(path, tuple(findings), problems, None)
    )
