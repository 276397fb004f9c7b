"""The check run's output: conclusion, title, summary table and one annotation per finding.

Annotations cover every finding, also those outside the diff (GitHub shows them in the Checks tab
and on the Files changed tab where it can). The conclusion is `failure` when a finding reaches the
configured fail level, `success` otherwise, and `neutral` when the pull request touches no
Dockerfile. Files that could not be analysed are listed, and so are configuration errors: a broken
configuration never switches checks off.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from bot.config import RepoConfig
from bot.review.markdown import code_span, rule_link, rule_title, table_cell
from bot.review.model import Annotation, CheckReport, FileReport
from bot.review.suggestions import replacement, unified_diff
from bot.rules.base import Finding, Severity

SUMMARY_LIMIT = 65535  # characters the Checks API accepts in `output.summary`
LEVELS = {Severity.ERROR: "failure", Severity.WARNING: "warning", Severity.INFO: "notice"}


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def check_report(reports: Sequence[FileReport], config: RepoConfig, head_sha: str) -> CheckReport:
    findings = [(report, f) for report in reports for f in report.findings]
    failing = [f for _, f in findings if f.severity >= config.fail_level]
    severities = Counter(f.severity for _, f in findings)
    if findings:
        counts = ", ".join(_plural(severities[s], s.label) for s in reversed(Severity) if severities[s])
        title = f"{_plural(len(findings), 'finding')}: {counts}"
    else:
        title = "No mount hazards found"
    checked = _plural(len(reports), "Dockerfile")
    intro = (
        f"Checked {checked} at `{head_sha[:12]}`; "
        f"findings at or above **{config.fail_level.label}** fail this check."
    )
    sections = [intro, *_problems(reports), *_config_errors(config)]
    rows = [_row(report, finding) for report, finding in findings]
    return CheckReport(
        conclusion="failure" if failing else "success",
        title=title,
        summary=_fit(sections, rows),
        annotations=tuple(annotation(report, f) for report, f in findings),
    )


def _row(report: FileReport, finding: Finding) -> str:
    return (
        f"| {code_span(report.path)} | {finding.line} | {rule_link(finding.code)} | "
        f"{finding.severity.label} | {table_cell(finding.message)} |"
    )


def _problems(reports: Sequence[FileReport]) -> list[str]:
    lines: list[str] = []
    for report in reports:
        if report.error is not None:
            lines.append(f"- {code_span(report.path)}: {report.error}")
        elif report.result is not None:
            lines.extend(
                f"- {code_span(report.path)} line {p.line}: {p.message}"
                + (" (not analysed)" if p.fatal else "")
                for p in report.result.problems
            )
    return ["**Not analysed, or read differently by BuildKit:**\n" + "\n".join(lines)] if lines else []


def _config_errors(config: RepoConfig) -> list[str]:
    if not config.errors:
        return []
    items = "\n".join(f"- line {error.line}: {error.message}" for error in config.errors)
    source = code_span(config.source or ".github/mountie.yml")
    return [f"**{source} has errors;** these entries were ignored, everything else applies:\n{items}"]


def _fit(sections: list[str], rows: list[str]) -> str:
    """Sections, then as many table rows as fit in the summary limit."""
    header = "| File | Line | Rule | Severity | Message |\n| --- | --- | --- | --- | --- |"
    for kept in range(len(rows), -1, -1):
        table = [header, *rows[:kept]] if rows else []
        if kept < len(rows):
            table.append(f"\n…and {len(rows) - kept} more: see the annotations.")
        text = "\n\n".join([*sections, "\n".join(table)] if table else sections)
        if len(text) <= SUMMARY_LIMIT:
            return text
    return "\n\n".join(sections)[:SUMMARY_LIMIT]


def annotation(report: FileReport, finding: Finding) -> Annotation:
    details = None
    if finding.fix is not None and report.text is not None:
        change = replacement(report.text, finding.fix.edits)
        if change is not None and change.changes_something:
            details = f"Fix: {finding.fix.title}\n{unified_diff(change)}"
    elif finding.no_fix_reason:
        details = f"No automatic fix: {finding.no_fix_reason}"
    return Annotation(
        path=report.path,
        start_line=finding.line,
        end_line=finding.end_line,
        level=LEVELS[finding.severity],
        title=rule_title(finding.code),
        message=finding.message,
        raw_details=details,
    )


def no_dockerfile(config: RepoConfig) -> CheckReport:
    summary = "\n\n".join(["This pull request changes no Dockerfile.", *_config_errors(config)])
    return CheckReport("neutral", "No Dockerfile changed", summary)


def superseded(newer_sha: str) -> CheckReport:
    return CheckReport(
        "neutral",
        "Superseded",
        f"The pull request moved on to `{newer_sha[:12]}` before this review was posted.",
    )


def skipped(reason: str) -> CheckReport:
    return CheckReport("neutral", "Skipped", reason)


def crashed(error: BaseException) -> CheckReport:
    return CheckReport(
        "neutral",
        "Mountie could not finish",
        f"The review stopped with `{type(error).__name__}`: {table_cell(str(error))[:2000]}\n\n"
        "Re-run this check, or comment `/mountie recheck`, to try again.",
    )
