"""Markdown of one item: as an inline review comment, or as an entry of the review body."""

from __future__ import annotations

from bot.review.markdown import code_span, fence, rule_link
from bot.review.markers import fingerprint_marker
from bot.review.model import Item
from bot.rules.base import Finding

BODY_LIMIT = 65536  # characters GitHub accepts in a comment or review body


def finding_text(finding: Finding) -> str:
    return f"**{rule_link(finding.code)}** · {finding.severity.label}\n\n{finding.message}"


def fix_text(item: Item, *, with_suggestion: bool = True) -> str:
    if with_suggestion and item.suggestion is not None:
        return f"**Fix:** {item.fix_title}\n\n{fence(item.suggestion, 'suggestion')}"
    if item.fix_diff is not None:
        return f"**Fix:** {item.fix_title}\n\n{fence(item.fix_diff, 'diff')}"
    reason = next((f.no_fix_reason for f in item.findings if f.no_fix_reason), None)
    return f"**No automatic fix:** {reason}" if reason else ""


def markers(item: Item) -> str:
    return "\n".join(fingerprint_marker(fp) for fp in item.fingerprints)


def comment_body(item: Item) -> str:
    """The inline comment: each finding (rule, severity, message), the suggestion, the markers."""
    parts = [*(finding_text(f) for f in item.findings), fix_text(item), markers(item)]
    body = "\n\n".join(part for part in parts if part)
    if len(body) > BODY_LIMIT:  # a fix spanning thousands of lines: keep the findings, drop the fix
        note = "**Fix:** too long to show here; run `mountie fix` on this file."
        body = "\n\n".join([*(finding_text(f) for f in item.findings), note, markers(item)])
    return body


def summary_entry(item: Item) -> str:
    """An entry of the review body, for an item that cannot be an inline comment."""
    heading = f"#### {code_span(item.path)} line {item.line}"
    parts = [
        heading,
        *(finding_text(f) for f in item.findings),
        fix_text(item, with_suggestion=False),
        markers(item),
    ]
    return "\n\n".join(part for part in parts if part)
