"""Apply line-range edits to a Dockerfile's text."""

from __future__ import annotations

import itertools
from collections.abc import Iterable

from bot.rules.base import Edit


class EditConflict(ValueError):  # noqa: N818 - imported by the CLI and the App
    pass


def apply_edits(text: str, edits: Iterable[Edit]) -> str:
    """Replace each edit's lines with its new text. Identical edits count once; overlapping
    different edits are a conflict (the caller applies the others and reports it)."""
    unique = sorted(set(edits), key=lambda e: (e.start_line, e.end_line))
    for before, after in itertools.pairwise(unique):
        if after.start_line <= before.end_line:
            raise EditConflict(
                f"edits on lines {before.start_line}-{before.end_line} and "
                f"{after.start_line}-{after.end_line} overlap"
            )
    newline = "\r\n" if "\r\n" in text else "\n"
    lines = text.split("\n")
    trailing = lines and lines[-1] == ""
    if trailing:
        lines.pop()
    for edit in reversed(unique):
        replacement = edit.new_text.split("\n") if edit.new_text else []
        if newline == "\r\n":
            replacement = [line + "\r" for line in replacement]
        lines[edit.start_line - 1 : edit.end_line] = replacement
    return "\n".join(lines) + ("\n" if trailing else "")


def merge_compatible(edits: Iterable[Edit]) -> tuple[list[Edit], list[Edit]]:
    """Split edits into a set that applies together and the ones that conflict with it."""
    accepted: list[Edit] = []
    rejected: list[Edit] = []
    for edit in edits:
        if edit in accepted:
            continue
        if any(edit.start_line <= other.end_line and other.start_line <= edit.end_line for other in accepted):
            rejected.append(edit)
        else:
            accepted.append(edit)
    return accepted, rejected
