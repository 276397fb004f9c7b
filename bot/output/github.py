"""`mountie check --format github`: GitHub Actions workflow commands, one annotation per finding.

    ::error file=Dockerfile,line=6,endLine=6,col=1,title=BKM001 artifact-in-cache-mount::COPY ...

Severity error → `::error`, warning → `::warning`, info → `::notice`. The message gets a second
line with the fix title (or why there is none). Non-fatal BuildKit problems are `::warning`s;
files that could not be checked are `::error`s titled `mountie`. Values are escaped as the
Actions toolkit does: `%`, CR and LF in the message; also `:` and `,` in properties.
"""

from __future__ import annotations

from bot.output import Report
from bot.output.text import no_fix_reason
from bot.rules import RULES_BY_CODE
from bot.rules.base import Finding, Severity

COMMANDS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(name: str, message: str, **properties: object) -> str:
    props = ",".join(
        f"{key}={escape_property(str(value))}" for key, value in properties.items() if value is not None
    )
    return f"::{name}{' ' + props if props else ''}::{escape_data(message)}"


def _finding(path: str, finding: Finding) -> str:
    rule = RULES_BY_CODE.get(finding.code)
    title = f"{finding.code} {rule.name}" if rule is not None else finding.code
    if finding.fix is not None:
        detail = f"fix (mountie fix): {finding.fix.title}"
    else:
        detail = f"no fix: {no_fix_reason(finding)}"
    return command(
        COMMANDS[finding.severity],
        f"{finding.message}\n{detail}",
        file=path,
        line=finding.line,
        endLine=finding.end_line,
        col=finding.column,
        title=title,
    )


def render_check(report: Report) -> str:
    lines: list[str] = []
    for file in report.files:
        for problem in file.result.problems:
            kind = "error" if problem.fatal else "warning"
            lines.append(command(kind, problem.message, file=file.path, line=problem.line, title="mountie"))
        lines.extend(_finding(file.path, finding) for finding in file.result.findings)
    lines.extend(command("error", error.message, file=error.path, title="mountie") for error in report.errors)
    return "".join(line + "\n" for line in lines)
