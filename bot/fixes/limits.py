"""Fixes must leave a file BuildKit can read: a fix whose new text holds a line longer than
BuildKit's limit (65,535 bytes) is not offered, with the reason. Only a RUN already close to the
limit gets there (a fix that appends `&& mv ...` for each of two thousand artifacts, say)."""

from __future__ import annotations

from dataclasses import replace

from bot.dockerfile.scanner import MAX_LINE_BYTES
from bot.rules.base import Finding

REASON = (
    f"the fixed instruction would have a line over {MAX_LINE_BYTES:,} bytes, which BuildKit refuses: "
    "split the RUN over more lines, and the fix is offered again"
)


def refuse_overlong_fixes(findings: list[Finding]) -> list[Finding]:
    return [
        replace(finding, fix=None, no_fix_reason=REASON)
        if finding.fix is not None and any(_overlong(edit.new_text) for edit in finding.fix.edits)
        else finding
        for finding in findings
    ]


def _overlong(text: str) -> bool:
    if len(text) <= MAX_LINE_BYTES // 4:  # fast path: no line in it can be too long
        return False
    # One byte to spare: in a file with CRLF line endings the line also carries its `\r`.
    return any(len(line.encode("utf-8", "surrogatepass")) >= MAX_LINE_BYTES for line in text.split("\n"))
