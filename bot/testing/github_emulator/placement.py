"""Where a review comment lands in a PR diff, and GitHub's 422 texts when it cannot land.

The texts are the ones GitHub returns (see research/github.md §1.5); GitHub joins several with
Rails' `to_sentence` and never says which comment of a review failed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

from bot.testing.github_emulator.diff import FileChange, Side, diff_hunk, locate, locate_position, parse_patch


@dataclass(frozen=True)
class Rejection:
    """One reason GitHub refuses a review comment, in both of its error shapes."""

    sentence: str  # create-review: {"errors": ["<sentence>"]} ("Validation Error Simple")
    field: str  # create-review-comment: {"errors": [{"field": "pull_request_review_thread.<field>", ...}]}
    detail: str

    def as_error_object(self) -> dict[str, str]:
        field = f"pull_request_review_thread.{self.field}"
        return {
            "resource": "PullRequestReviewComment",
            "code": "custom",
            "field": field,
            "message": f"{field} {self.detail}",
        }


LINE_NOT_IN_DIFF = Rejection(
    "Pull request review thread line must be part of the diff", "line", "must be part of the diff"
)
PATH_INVALID = Rejection(
    "Pull request review thread path is invalid and Pull request review thread diff hunk can't be blank",
    "path",
    "is invalid",
)
HUNK_BLANK = Rejection("Pull request review thread diff hunk can't be blank", "diff_hunk", "can't be blank")
START_NOT_BEFORE_END = Rejection(
    "Pull request review thread start line must precede the end line.",
    "start_line",
    "must precede the end line.",
)
START_OTHER_HUNK = Rejection(
    "Pull request review thread start line must be part of the same hunk as the line.",
    "start_line",
    "must be part of the same hunk as the line.",
)
POSITION_INVALID = Rejection("Pull request review thread position is invalid", "position", "is invalid")
SIDE_INVALID = Rejection(
    "Pull request review thread side is not included in the list", "side", "is not included in the list"
)


@dataclass(frozen=True)
class Placement:
    path: str
    line: int | None
    side: str | None
    start_line: int | None
    start_side: str | None
    position: int | None
    diff_hunk: str
    subject_type: str  # "line" | "file"


class PlacementError(Exception):
    def __init__(self, rejection: Rejection) -> None:
        super().__init__(rejection.sentence)
        self.rejection = rejection


def place(files: list[FileChange], spec: Mapping[str, Any], *, file_level: bool = False) -> Placement:
    """Resolve one comment spec ({path, line, side, start_line, start_side} or legacy {position})."""
    change = next((f for f in files if f.filename == spec.get("path")), None)
    if change is None:
        raise PlacementError(PATH_INVALID)
    if file_level:
        header = change.patch.split("\n", 1)[0] if change.patch else ""
        return Placement(change.filename, None, None, None, None, None, header, "file")
    if change.patch is None:
        raise PlacementError(HUNK_BLANK)
    hunks = parse_patch(change.patch)

    if spec.get("line") is None:
        if spec.get("position") is None:
            raise PlacementError(LINE_NOT_IN_DIFF)
        located = locate_position(hunks, int(spec["position"]))
        if located is None:
            raise PlacementError(POSITION_INVALID)
        index, end = located
        side: Side = "LEFT" if end.kind == "-" else "RIGHT"
        line = end.old_line if side == "LEFT" else end.new_line
        return Placement(
            change.filename, line, side, None, None, end.position, diff_hunk(hunks[index], end), "line"
        )

    raw_side = spec.get("side") or "RIGHT"
    raw_start_side = spec.get("start_side") or raw_side
    if raw_side not in ("LEFT", "RIGHT") or raw_start_side not in ("LEFT", "RIGHT"):
        raise PlacementError(SIDE_INVALID)
    side = cast(Side, raw_side)
    line = int(spec["line"])
    located = locate(hunks, side, line)
    if located is None:
        raise PlacementError(LINE_NOT_IN_DIFF)
    index, end = located

    start_line: int | None = spec.get("start_line")
    start_side: str | None = None
    if start_line is not None:
        start_side = raw_start_side
        start = locate(hunks, cast(Side, start_side), int(start_line))
        if start is not None and start[0] == index and start[1].position >= end.position:
            raise PlacementError(START_NOT_BEFORE_END)
        if start is None or start[0] != index:
            if start_side == side and start_line >= line:
                raise PlacementError(START_NOT_BEFORE_END)
            raise PlacementError(START_OTHER_HUNK)
    return Placement(
        change.filename,
        line,
        side,
        start_line,
        start_side,
        end.position,
        diff_hunk(hunks[index], end),
        "line",
    )
