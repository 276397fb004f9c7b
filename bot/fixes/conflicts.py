"""Which fix goes first when two rules' fixes change the same lines.

A GitHub suggestion replaces a line range, so two suggestions on overlapping lines conflict: after
one is applied, the other no longer applies. Rules come in two kinds. Most repair something broken
(an artifact lost to a cache mount, a write that fails on a read-only mount); the cache-hygiene
rules (BKM005-BKM009, `Rule.tidies`) tidy up. When a tidying fix overlaps a repairing fix that is
also reported, the tidying one waits: it is reported without a fix, with the reason, and is
offered again when the file is linted after the repair. Identical edits never conflict (they apply
once). Only fixes that are reported count: a suppressed or disabled rule's fix is never shown, so
it holds nothing back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from bot.rules.base import Edit, Finding


def defer_overlapping_tidy_fixes(findings: list[Finding], tidies: Callable[[str], bool]) -> list[Finding]:
    """`findings` with each tidying fix that overlaps a repairing fix taken off (with the reason);
    `tidies(code)` tells the tidying rules."""
    repairs = [
        (finding.code, edit)
        for finding in findings
        if finding.fix is not None and not tidies(finding.code)
        for edit in finding.fix.edits
    ]
    if not repairs:
        return findings
    result: list[Finding] = []
    for finding in findings:
        reason = None
        if finding.fix is not None and tidies(finding.code):
            reason = _wait_reason(finding.fix.edits, repairs)
        result.append(finding if reason is None else replace(finding, fix=None, no_fix_reason=reason))
    return result


def _wait_reason(edits: tuple[Edit, ...], repairs: list[tuple[str, Edit]]) -> str | None:
    for code, other in repairs:
        for edit in edits:
            if edit != other and edit.start_line <= other.end_line and other.start_line <= edit.end_line:
                lines = (
                    f"line {other.start_line}"
                    if other.start_line == other.end_line
                    else f"lines {other.start_line}-{other.end_line}"
                )
                return (
                    f"{code}'s fix also changes {lines}: apply that one first, and this fix is "
                    "offered again on the result"
                )
    return None
