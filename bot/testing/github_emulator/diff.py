"""Pull-request diffs the way GitHub serves them: per-file `patch` text, hunks, and what is commentable.

GitHub's `patch` field is a unified diff without the `---`/`+++` header, 3 lines of context, and a hunk
heading after the second `@@` taken from the nearest preceding line that starts with a letter, `_` or
`$` (git's default "funcname" rule), e.g. `@@ -4,7 +4,8 @@ FROM base AS build`.
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

Side = Literal["LEFT", "RIGHT"]

NO_NEWLINE = "\\ No newline at end of file"
_HEADING_WIDTH = 80  # git truncates the hunk heading to this many bytes
RENAME_SIMILARITY = 0.5  # git's default rename threshold (-M50%)


@dataclass(frozen=True)
class DiffLine:
    kind: str  # " " context, "+" added, "-" removed, "\\" no-newline marker
    text: str
    old_line: int | None
    new_line: int | None
    position: int  # GitHub's legacy `position`: 1-based line count from the first `@@`


@dataclass(frozen=True)
class Hunk:
    header: str
    header_position: int  # 0 for the first hunk; later headers occupy a position themselves
    lines: tuple[DiffLine, ...]

    def find(self, side: Side, line: int) -> DiffLine | None:
        """The diff line a comment on (side, line) attaches to, if it is inside this hunk."""
        for dl in self.lines:
            if side == "RIGHT" and dl.kind in " +" and dl.new_line == line:
                return dl
            if side == "LEFT" and dl.kind in " -" and dl.old_line == line:
                return dl
        return None


@dataclass(frozen=True)
class FileChange:
    filename: str
    status: str  # added | removed | modified | renamed
    previous_filename: str | None
    sha: str  # blob SHA of the file's new content (old content for removals)
    additions: int
    deletions: int
    patch: str | None  # None for binary files and pure renames, as on GitHub


def blob_sha(content: bytes) -> str:
    """Git's object id for a blob, so `sha` fields look and behave like real ones."""
    return hashlib.sha1(b"blob %d\x00" % len(content) + content).hexdigest()


def is_text(content: bytes) -> bool:
    if b"\x00" in content:
        return False
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _range(start: int, length: int) -> str:
    # Same convention as git/difflib: "-5" for one line, "-4,0" for an empty range after line 4.
    if length == 1:
        return str(start + 1)
    if length == 0:
        return f"{start},0"
    return f"{start + 1},{length}"


def _heading(old_lines: list[str], first_old_index: int) -> str:
    for text in reversed(old_lines[:first_old_index]):
        if text[:1].isalpha() or text[:1] in ("_", "$"):
            return " " + text.rstrip()[:_HEADING_WIDTH].rstrip()
    return ""


def _lines(text: str) -> list[str]:
    """Split on "\\n" only (like git; str.splitlines also splits on \\r, \\f, ...), keeping the newline."""
    parts = text.split("\n")
    return [part + "\n" for part in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def make_patch(old: str, new: str, context: int = 3) -> str:
    """GitHub-style patch between two texts; empty string when they are equal."""
    a = _lines(old)
    b = _lines(new)
    out: list[str] = []

    def emit(prefix: str, text: str) -> None:
        if text.endswith("\n"):
            out.append(prefix + text[:-1])
        else:
            out.extend((prefix + text, NO_NEWLINE))

    for group in difflib.SequenceMatcher(None, a, b, autojunk=False).get_grouped_opcodes(context):
        first, last = group[0], group[-1]
        old_range = _range(first[1], last[2] - first[1])
        new_range = _range(first[3], last[4] - first[3])
        out.append(f"@@ -{old_range} +{new_range} @@{_heading(a, first[1])}")
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                for text in a[i1:i2]:
                    emit(" ", text)
                continue
            for text in a[i1:i2]:
                emit("-", text)
            for text in b[j1:j2]:
                emit("+", text)
    return "\n".join(out)


def parse_patch(patch: str) -> list[Hunk]:
    hunks: list[Hunk] = []
    header = ""
    header_position = 0
    lines: list[DiffLine] = []
    old_no = new_no = 0
    position = 0
    for raw in patch.split("\n"):
        if raw.startswith("@@"):
            if header:
                hunks.append(Hunk(header, header_position, tuple(lines)))
                position += 1
            header, header_position, lines = raw, position, []
            ranges = raw.split("@@")[1].split()
            old_no = int(ranges[0][1:].split(",")[0])
            new_no = int(ranges[1][1:].split(",")[0])
            continue
        if not header:
            continue
        position += 1
        kind = raw[:1] or " "
        if kind == "\\":
            lines.append(DiffLine("\\", raw, None, None, position))
        elif kind == "-":
            lines.append(DiffLine("-", raw[1:], old_no, None, position))
            old_no += 1
        elif kind == "+":
            lines.append(DiffLine("+", raw[1:], None, new_no, position))
            new_no += 1
        else:
            lines.append(DiffLine(" ", raw[1:], old_no, new_no, position))
            old_no += 1
            new_no += 1
    if header:
        hunks.append(Hunk(header, header_position, tuple(lines)))
    return hunks


def locate(hunks: list[Hunk], side: Side, line: int) -> tuple[int, DiffLine] | None:
    """(hunk index, diff line) for a file line on one side of the diff, or None if outside every hunk."""
    for index, hunk in enumerate(hunks):
        found = hunk.find(side, line)
        if found is not None:
            return index, found
    return None


def locate_position(hunks: list[Hunk], position: int) -> tuple[int, DiffLine] | None:
    for index, hunk in enumerate(hunks):
        for dl in hunk.lines:
            if dl.position == position and dl.kind != "\\":
                return index, dl
    return None


def diff_hunk(hunk: Hunk, upto: DiffLine) -> str:
    """A review comment's `diff_hunk`: the hunk header and every hunk line down to the commented one."""
    lines = [hunk.header]
    for dl in hunk.lines:
        lines.append(dl.kind + dl.text if dl.kind != "\\" else dl.text)
        if dl is upto:
            break
    return "\n".join(lines)


def count_changes(patch: str) -> tuple[int, int]:
    additions = deletions = 0
    for raw in patch.split("\n"):
        if raw.startswith("+"):
            additions += 1
        elif raw.startswith("-"):
            deletions += 1
    return additions, deletions


def _file_change(
    filename: str, status: str, old: bytes | None, new: bytes | None, previous: str | None = None
) -> FileChange:
    sha = blob_sha(new if new is not None else old or b"")
    if not is_text(old or b"") or not is_text(new or b""):
        return FileChange(filename, status, previous, sha, 0, 0, None)
    patch = make_patch((old or b"").decode("utf-8"), (new or b"").decode("utf-8"))
    additions, deletions = count_changes(patch)
    return FileChange(filename, status, previous, sha, additions, deletions, patch or None)


def _similarity(old: bytes, new: bytes) -> float:
    if old == new:
        return 1.0
    if not is_text(old) or not is_text(new):
        return 0.0
    matcher = difflib.SequenceMatcher(None, old.decode().splitlines(), new.decode().splitlines())
    return matcher.ratio()


def compare_trees(base: Mapping[str, bytes], head: Mapping[str, bytes]) -> list[FileChange]:
    """Changed files between two snapshots, sorted by path, with git-like rename detection."""
    removed = sorted(p for p in base if p not in head)
    added = sorted(p for p in head if p not in base)
    renames: dict[str, str] = {}  # new path -> old path
    for old_path in removed:
        best: tuple[float, str] | None = None
        for new_path in added:
            if new_path in renames:
                continue
            score = _similarity(base[old_path], head[new_path])
            if score >= RENAME_SIMILARITY and (best is None or score > best[0]):
                best = (score, new_path)
        if best is not None:
            renames[best[1]] = old_path

    changes: list[FileChange] = []
    for path in sorted(set(base) | set(head)):
        if path in renames:
            old_path = renames[path]
            changes.append(_file_change(path, "renamed", base[old_path], head[path], previous=old_path))
        elif path in renames.values():
            continue
        elif path not in base:
            changes.append(_file_change(path, "added", None, head[path]))
        elif path not in head:
            changes.append(_file_change(path, "removed", base[path], None))
        elif base[path] != head[path]:
            changes.append(_file_change(path, "modified", base[path], head[path]))
    return changes
