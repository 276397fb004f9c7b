"""A fix as GitHub can show it: the replaced line range, the text after the edits, and a diff.

A suggestion block replaces exactly the lines it is anchored on, so a fix whose edits touch lines
8 and 11 is offered as a suggestion on 8..11 holding those four lines as they read after the fix.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass

from bot.fixes.apply import EditConflict, apply_edits
from bot.rules.base import Edit


@dataclass(frozen=True, slots=True)
class Replacement:
    start: int  # first replaced line (1-based)
    end: int  # last replaced line
    old: tuple[str, ...]  # the lines as they are
    new: tuple[str, ...]  # the lines after the fix

    @property
    def text(self) -> str:
        """The suggestion block's content (no trailing newline; empty deletes the range)."""
        return "\n".join(self.new)

    @property
    def changes_something(self) -> bool:
        return self.old != self.new


def span(edits: Sequence[Edit]) -> tuple[int, int]:
    return min(e.start_line for e in edits), max(e.end_line for e in edits)


def replacement(text: str, edits: Sequence[Edit]) -> Replacement | None:
    """The fix's line range before and after; None when the edits conflict or leave the file."""
    if not edits:
        return None
    start, end = span(edits)
    lines = text.splitlines()
    if start < 1 or end > len(lines):
        return None
    old = lines[start - 1 : end]
    shifted = [Edit(e.start_line - start + 1, e.end_line - start + 1, e.new_text) for e in edits]
    try:
        after = apply_edits("\n".join(old) + "\n", shifted)
    except EditConflict:
        return None
    return Replacement(start, end, tuple(old), tuple(after.splitlines()))


def unified_diff(change: Replacement) -> str:
    """The change as a one-hunk unified diff numbered like the file (for ```diff blocks)."""
    body = list(
        difflib.unified_diff(
            list(change.old), list(change.new), lineterm="", n=len(change.old) + len(change.new)
        )
    )[3:]  # drop difflib's ---/+++/@@ lines: the header below numbers the hunk in the file
    header = f"@@ -{change.start},{len(change.old)} +{change.start},{len(change.new)} @@"
    return "\n".join([header, *body])
