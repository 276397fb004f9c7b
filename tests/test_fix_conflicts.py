"""The engine's fix policies: a tidying fix (BKM005-BKM009) waits while a reported repairing fix
changes the same lines, and is offered once that fix is applied (`bot.fixes.conflicts`); a fix
that would leave a line BuildKit refuses is not offered (`bot.fixes.limits`)."""

from __future__ import annotations

from pathlib import Path

from bot.config import RepoConfig
from bot.engine import LintOptions, lint_text
from bot.fixes.apply import apply_edits
from bot.fixes.conflicts import defer_overlapping_tidy_fixes
from bot.fixes.limits import REASON as OVERLONG
from bot.rules import ALL_RULES
from bot.rules.base import Edit, Finding, Fix, Severity

# Source: tests/fixtures/rules/BKM005 (BKM004's fix merges the two RUNs that BKM005's id fix edits).
FIXTURE = Path(__file__).parent / "fixtures" / "rules" / "BKM005" / "separate_copy_out.Dockerfile"


def _by_code(findings: tuple[Finding, ...], code: str) -> list[Finding]:
    return [finding for finding in findings if finding.code == code]


def test_tidy_fix_waits_for_the_overlapping_repair() -> None:
    result = lint_text(FIXTURE.read_text(encoding="utf-8"))
    (repair,) = _by_code(result.findings, "BKM004")
    assert repair.fix is not None
    waiting = _by_code(result.findings, "BKM005")
    assert len(waiting) == 2
    for finding in waiting:
        assert finding.fix is None
        assert finding.no_fix_reason is not None
        assert finding.no_fix_reason.startswith("BKM004's fix also changes lines 10-13: apply that one first")


def test_tidy_fix_is_offered_after_the_repair_is_applied() -> None:
    text = FIXTURE.read_text(encoding="utf-8")
    (repair,) = _by_code(lint_text(text).findings, "BKM004")
    assert repair.fix is not None
    repaired = apply_edits(text, repair.fix.edits)
    after = lint_text(repaired)
    assert _by_code(after.findings, "BKM004") == []
    offered = _by_code(after.findings, "BKM005")
    assert offered and all(finding.fix is not None for finding in offered)


def test_a_disabled_or_suppressed_repair_holds_nothing_back() -> None:
    """Its suggestion is never shown, so there is nothing for the tidying fix to conflict with."""
    text = FIXTURE.read_text(encoding="utf-8")
    disabled = lint_text(text, options=LintOptions.from_config(RepoConfig(disabled=frozenset({"BKM004"}))))
    assert _by_code(disabled.findings, "BKM004") == []
    assert all(finding.fix is not None for finding in _by_code(disabled.findings, "BKM005"))

    suppressed = lint_text("# mountie global ignore=BKM004 merged later\n" + text)
    assert _by_code(suppressed.findings, "BKM004") == []
    assert all(finding.fix is not None for finding in _by_code(suppressed.findings, "BKM005"))


def _finding(code: str, *edits: Edit) -> Finding:
    return Finding(code, Severity.WARNING, edits[0].start_line, edits[0].end_line, 1, "m", Fix("t", edits))


def test_identical_edits_and_neighbouring_lines_do_not_conflict() -> None:
    tidies = {"BKM007"}.__contains__
    same = Edit(3, 4, "RUN x")
    findings = [_finding("BKM001", same, Edit(9, 9, "COPY a b")), _finding("BKM007", same, Edit(5, 5, "y"))]
    assert defer_overlapping_tidy_fixes(findings, tidies) == findings
    overlapping = [_finding("BKM001", Edit(3, 4, "RUN x")), _finding("BKM007", Edit(4, 4, "RUN y"))]
    deferred = defer_overlapping_tidy_fixes(overlapping, tidies)
    assert deferred[0] == overlapping[0]
    assert deferred[1].fix is None
    assert (
        deferred[1].no_fix_reason is not None
        and "BKM001's fix also changes lines 3-4" in deferred[1].no_fix_reason
    )


def test_the_tidying_rules_are_the_cache_hygiene_rules() -> None:
    assert {rule.code for rule in ALL_RULES if rule.tidies} == {
        "BKM005",
        "BKM006",
        "BKM007",
        "BKM008",
        "BKM009",
    }


def _near_the_line_limit(padding: int) -> str:
    run = "RUN --mount=type=cache,target=/app/target cargo build" + " && true" * padding
    copy = "COPY --from=build /app/target/release/app /app"
    return f"FROM rust:1.79 AS build\nWORKDIR /app\n{run}\nFROM scratch\n{copy}\n"


def test_a_fix_that_would_make_a_line_too_long_for_buildkit_is_not_offered() -> None:
    """BuildKit refuses lines over 65,535 bytes: BKM001's fix appends a move to the RUN's line."""
    short = [f for f in lint_text(_near_the_line_limit(100)).findings if f.code == "BKM001"]
    assert short and short[0].fix is not None
    text = _near_the_line_limit(8185)  # the RUN line: 65,534 bytes, one under the limit
    assert max(len(line.encode()) for line in text.splitlines()) < 65535
    (finding,) = [f for f in lint_text(text).findings if f.code == "BKM001"]
    assert finding.fix is None
    assert finding.no_fix_reason == OVERLONG
