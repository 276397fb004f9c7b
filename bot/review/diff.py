"""Where a review comment may go: the RIGHT-side lines of each hunk of a file's `patch`.

GitHub accepts a comment on a line only if the line is inside a hunk of the pull request's diff
(an added line or one of the context lines around it), and a multi-line comment only if its first
and last lines are in the same hunk; anything else fails the whole review with a 422. Within a
hunk the RIGHT-side lines are contiguous (deleted lines have no RIGHT-side number), so a hunk is a
line range.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_HEADER = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


@dataclass(frozen=True, slots=True)
class Hunk:
    start: int  # first RIGHT-side line
    end: int  # last RIGHT-side line; start - 1 when the hunk only deletes
    added: frozenset[int]

    def __contains__(self, line: object) -> bool:
        return isinstance(line, int) and self.start <= line <= self.end


@dataclass(frozen=True, slots=True)
class DiffMap:
    hunks: tuple[Hunk, ...]

    def hunk_of(self, line: int) -> Hunk | None:
        return next((hunk for hunk in self.hunks if line in hunk), None)

    def same_hunk(self, start: int, end: int) -> bool:
        """Whether lines `start..end` all lie in one hunk (a valid multi-line comment range)."""
        hunk = self.hunk_of(start)
        return hunk is not None and end in hunk

    @property
    def added(self) -> frozenset[int]:
        return frozenset().union(*(hunk.added for hunk in self.hunks))


def parse_patch(patch: str) -> DiffMap:
    """Hunks of a GitHub `patch` (a unified diff without the ---/+++ file header).

    Lines are counted against the hunk header, so a "\\ No newline at end of file" marker or text
    after the last hunk line cannot shift the numbering."""
    hunks: list[Hunk] = []
    lines = patch.splitlines()
    index = 0
    while index < len(lines):
        match = _HEADER.match(lines[index])
        index += 1
        if match is None:
            continue
        old_left = int(match.group(2) or "1")
        new_start = int(match.group(3))
        new_left = int(match.group(4) or "1")
        # "+0,0" (everything deleted) numbers the empty RIGHT side from 0.
        line = new_start if new_left else new_start + 1
        start = line
        added: set[int] = set()
        while index < len(lines) and (old_left > 0 or new_left > 0):
            text = lines[index]
            if text.startswith("@@"):
                break
            index += 1
            kind = text[:1]
            if kind == "+":
                added.add(line)
                line += 1
                new_left -= 1
            elif kind == "-":
                old_left -= 1
            elif kind in (" ", ""):  # some tools strip the space of an empty context line
                line += 1
                new_left -= 1
                old_left -= 1
            # "\" marks the missing newline of the line before: no line of its own.
        hunks.append(Hunk(start, line - 1, frozenset(added)))
    return DiffMap(tuple(hunks))
