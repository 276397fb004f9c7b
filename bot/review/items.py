"""From one file's findings to review items: grouping, fingerprints and where each can go.

- Findings whose fixes cover overlapping line ranges become one item with one suggestion: GitHub
  applies at most one suggestion per line, and two suggestions over the same lines would undo each
  other. If their edits conflict, the most severe finding's fix is the suggestion and the others
  are named in the same comment.
- A suggestion replaces the whole range from the first to the last edit of the fix, as it reads
  after the edits, and only when that range lies inside ONE hunk (else GitHub answers 422). It is
  never identical to the lines it replaces.
- Otherwise the item is anchored on the finding's own lines when they are in one hunk (on its
  first line when only that one is), with the fix shown as a diff; an item with no line in the
  diff, or in a file without a patch, is not inline at all.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.review.diff import DiffMap, parse_patch
from bot.review.markers import fingerprints
from bot.review.model import FileReport, Item, Placement
from bot.review.suggestions import Replacement, replacement, span, unified_diff
from bot.rules.base import Edit, Finding


def file_items(report: FileReport) -> list[Item]:
    """The report's findings as items, in line order."""
    if report.text is None or not report.findings:
        return []
    text = report.text
    findings = report.findings
    prints = dict(zip(findings, fingerprints(report.path, text, findings), strict=True))
    diff = parse_patch(report.file.patch) if report.file.patch is not None else None
    items: list[Item] = []
    for group in _groups(findings):
        ordered = sorted(group, key=lambda f: (-f.severity, f.line, f.code))
        items.append(_item(report.path, text, diff, ordered, tuple(prints[f] for f in ordered)))
    return sorted(items, key=lambda item: (item.line, item.findings[0].code))


def _groups(findings: Sequence[Finding]) -> list[list[Finding]]:
    """Findings with fixes whose ranges overlap, together; every other finding on its own."""
    fixable = sorted((f for f in findings if f.fix and f.fix.edits), key=_fix_span)
    groups: list[list[Finding]] = []
    end = 0
    for finding in fixable:
        start, stop = _fix_span(finding)
        if groups and start <= end:
            groups[-1].append(finding)
            end = max(end, stop)
        else:
            groups.append([finding])
            end = stop
    groups.extend([f] for f in findings if not (f.fix and f.fix.edits))
    return groups


def _fix_span(finding: Finding) -> tuple[int, int]:
    assert finding.fix is not None
    return span(finding.fix.edits)


def _item(
    path: str, text: str, diff: DiffMap | None, findings: list[Finding], prints: tuple[str, ...]
) -> Item:
    primary = findings[0]
    change, fix_title = _group_change(text, findings)
    fix_diff = unified_diff(change) if change is not None and change.changes_something else None
    base = Item(
        path, tuple(findings), prints, None, Placement.NO_PATCH, fix_title=fix_title, fix_diff=fix_diff
    )
    if diff is None:
        return base
    if change is not None and change.changes_something and diff.same_hunk(change.start, change.end):
        return Item(
            path,
            tuple(findings),
            prints,
            (change.start, change.end),
            Placement.INLINE,
            suggestion=change.text,
            fix_title=fix_title,
            fix_diff=fix_diff,  # for the review body, should the item not fit inline
        )
    if diff.same_hunk(primary.line, primary.end_line):
        anchor = (primary.line, primary.end_line)
    elif diff.hunk_of(primary.line) is not None:
        anchor = (primary.line, primary.line)
    else:
        return Item(
            path,
            tuple(findings),
            prints,
            None,
            Placement.OUTSIDE_DIFF,
            fix_title=fix_title,
            fix_diff=fix_diff,
        )
    return Item(
        path, tuple(findings), prints, anchor, Placement.INLINE, fix_title=fix_title, fix_diff=fix_diff
    )


def _group_change(text: str, findings: list[Finding]) -> tuple[Replacement | None, str | None]:
    """All fixes of the group applied together, else the most severe finding's fix alone (the
    others follow on a later run, once it is applied); with the title of what it does."""
    fixes = [f.fix for f in findings if f.fix is not None]
    if not fixes:
        return None, None
    edits: list[Edit] = list(dict.fromkeys(edit for fix in fixes for edit in fix.edits))
    together = replacement(text, edits)
    if together is not None:
        return together, "; ".join(dict.fromkeys(fix.title for fix in fixes))
    return replacement(text, fixes[0].edits), fixes[0].title
