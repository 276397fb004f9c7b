"""Human-readable output: `mountie check` findings with their fixes as diffs, and the rule lists.

A finding reads `path:line:col: CODE [severity] message`; under it, indented, `fix: <title>` and
the fix as a unified diff against the file, or `no fix: <reason>`. A non-fatal problem (something
BuildKit reads differently from what the text suggests) reads `path:line: warning: message`. The
last line sums up. Errors that stop a file from being checked go to standard error, not here.
"""

from __future__ import annotations

from collections.abc import Iterable

from bot.dockerfile.errors import Problem
from bot.fixes.apply import EditConflict, apply_edits
from bot.output import FileReport, Report, plural
from bot.rules import RULES_BY_CODE
from bot.rules.base import Finding, Fix, FixAvailability, Rule

INDENT = "    "


def render_check(report: Report, *, fix_diffs: bool = True) -> str:
    out: list[str] = []
    for file in report.files:
        if file.fatal:
            continue  # reported on standard error
        out.extend(_file_lines(file, fix_diffs=fix_diffs))
    out.append(summary(report))
    return "\n".join(out) + "\n"


def _file_lines(file: FileReport, *, fix_diffs: bool) -> Iterable[str]:
    items: list[tuple[int, int, Finding | Problem]] = [(p.line, 0, p) for p in file.result.problems]
    items += [(f.line, 1, f) for f in file.result.findings]
    for _, _, item in sorted(items, key=lambda entry: (entry[0], entry[1])):
        if isinstance(item, Problem):
            yield problem_line(file.path, item)
            continue
        yield finding_line(file.path, item)
        if item.fix is not None:
            yield f"{INDENT}fix: {item.fix.title}"
            if fix_diffs:
                diff = fix_diff(file.path, file.text, item.fix)
                if diff:
                    yield from (INDENT + line for line in diff.splitlines())
        else:
            yield f"{INDENT}no fix: {no_fix_reason(item)}"


def finding_line(path: str, finding: Finding) -> str:
    message = " ".join(finding.message.split("\n"))
    return f"{path}:{finding.line}:{finding.column}: {finding.code} [{finding.severity.label}] {message}"


def problem_line(path: str, problem: Problem) -> str:
    kind = "error" if problem.fatal else "warning"
    return f"{path}:{problem.line}: {kind}: {problem.message}"


def no_fix_reason(finding: Finding) -> str:
    if finding.no_fix_reason:
        return finding.no_fix_reason
    rule = RULES_BY_CODE.get(finding.code)
    if rule is not None and rule.fix is FixAvailability.NEVER:
        return f"{finding.code} has no automatic fix"
    return "no automatic fix for this case"


def fix_diff(path: str, text: str, fix: Fix, context: int = 1) -> str:
    """The fix, alone, as a unified diff of the file."""
    try:
        fixed = apply_edits(text, fix.edits)
    except (EditConflict, IndexError):
        return ""
    return unified_diff(path, text, fixed, context=context)


def unified_diff(path: str, before: str, after: str, *, context: int = 3) -> str:
    """A `git apply`/`patch -p1` compatible diff (`a/` and `b/` prefixes for relative paths)."""
    import difflib  # only a fix's diff needs it: not imported for a clean check

    old, new = (f"a/{path}", f"b/{path}") if not path.startswith("/") else (path, path)
    lines: list[str] = []
    diff = difflib.unified_diff(
        before.splitlines(keepends=True), after.splitlines(keepends=True), old, new, n=context
    )
    for line in diff:
        if line.endswith("\n"):
            lines.append(line)
        else:
            lines.append(line + "\n\\ No newline at end of file\n")
    return "".join(lines)


def summary(report: Report) -> str:
    findings = report.findings
    checked = [file for file in report.files if not file.fatal]
    parts = [f"Checked {plural(len(checked), 'file')}"]
    if findings:
        counts = ", ".join(f"{n} {label}" for label, n in report.severity_counts().items() if n)
        fixable = sum(1 for f in findings if f.fix is not None)
        text = f"{plural(len(findings), 'finding')} ({counts})"
        if fixable:
            text += f", {fixable} fixable with `mountie fix`"
        parts.append(text)
    else:
        parts.append("no findings")
    broken = len(report.errors) + sum(1 for file in report.files if file.fatal)
    if broken:
        parts.append(f"{plural(broken, 'path')} could not be checked")
    return ": ".join(parts[:2]) + "".join(f"; {part}" for part in parts[2:]) + "."


# --- rules -------------------------------------------------------------------------------------


def _fix_label(rule: Rule) -> str:
    return {"always": "yes", "sometimes": "sometimes", "never": "no"}[rule.fix.value]


def rules_text(rules: Iterable[Rule]) -> str:
    rows = [("CODE", "NAME", "SEVERITY", "FIX", "SUMMARY")]
    rows += [(r.code, r.name, r.severity.label, _fix_label(r), r.summary) for r in rules]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return "".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row[:4], widths, strict=True))
        + "  "
        + row[4]
        + "\n"
        for row in rows
    )


def rules_markdown(rules: Iterable[Rule]) -> str:
    """The table the README embeds between its `rules-table` markers."""

    def cell(text: str) -> str:
        return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")

    lines = ["| Code | Name | Severity | Fix | Summary |", "| --- | --- | --- | --- | --- |"]
    for rule in rules:
        cells = [rule.code, f"`{rule.name}`", rule.severity.label, _fix_label(rule), cell(rule.summary)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def rules_reference(rules: Iterable[Rule]) -> str:
    """Every rule's documentation under a `### BKM001 artifact-in-cache-mount` heading, whose GitHub
    anchor (`#bkm001-artifact-in-cache-mount`) is what review comments link to; the README embeds
    it between its `rule-reference` markers. The doc's own headings go two levels down."""
    sections = []
    for rule in rules:
        facts = f"{rule.summary}. Default severity: {rule.severity.label}. Automatic fix: {_fix_label(rule)}."
        sections.append(f"### {rule.code} {rule.name}\n\n{facts}\n\n{_demote_headings(rule.doc.strip())}\n")
    return "\n".join(sections)


def _demote_headings(markdown: str, levels: int = 2) -> str:
    lines: list[str] = []
    fenced = False
    for line in markdown.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        heading = not fenced and line.startswith("#")
        lines.append("#" * levels + line if heading else line)
    return "\n".join(lines)


def explain(rule: Rule) -> str:
    header = f"{rule.code} {rule.name}: {rule.summary}"
    facts = f"Default severity: {rule.severity.label}. Automatic fix: {_fix_label(rule)}."
    return f"{header}\n{facts}\n\n{rule.doc.strip()}\n"
