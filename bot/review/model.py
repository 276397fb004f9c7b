"""The data the review pipeline passes around (contract between its pure and I/O halves)."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.engine import LintResult


@dataclass(frozen=True, slots=True)
class ChangedFile:
    """One entry of `GET /pulls/{n}/files`."""

    path: str
    status: str  # added, modified, renamed, removed, ...
    patch: str | None  # None for binary or very large diffs: no inline comments possible
    previous_path: str | None = None


@dataclass(frozen=True, slots=True)
class FileReport:
    """A changed Dockerfile and what the engine found in it at the head SHA."""

    file: ChangedFile
    text: str | None  # None when it could not be read (too large, not UTF-8, ...)
    result: LintResult | None
    error: str | None = None  # why it was not analysed


@dataclass(frozen=True, slots=True)
class ExistingComment:
    """A review comment already on the pull request (any author)."""

    id: int
    path: str
    line: int | None  # None when GitHub marks it outdated
    body: str
    author: str
    in_reply_to_id: int | None
    thread_id: str | None = None  # GraphQL node id of the review thread, when known
    thread_resolved: bool = False


@dataclass(frozen=True, slots=True)
class InlineComment:
    path: str
    line: int  # last line of the range (RIGHT side)
    start_line: int | None  # first line when the range spans several lines, else None
    body: str
    fingerprint: str


@dataclass(frozen=True, slots=True)
class Annotation:
    path: str
    start_line: int
    end_line: int
    level: str  # notice, warning, failure
    title: str
    message: str
    raw_details: str | None = None


@dataclass(frozen=True, slots=True)
class ReviewPlan:
    """What one run posts: a review (maybe none), threads to resolve, and the check run output."""

    comments: tuple[InlineComment, ...]
    summary_entries: tuple[str, ...]  # findings that could not be inline (outside the diff, over the cap)
    review_body: str | None  # None: post no review at all (nothing new)
    stale_threads: tuple[str, ...]  # GraphQL thread ids of Mountie's own threads whose finding is gone
    stale_comments: tuple[int, ...]  # Mountie's own outdated comments to delete when unthreaded
    conclusion: str  # success, failure, neutral
    check_title: str
    check_summary: str
    annotations: tuple[Annotation, ...] = field(default=())
