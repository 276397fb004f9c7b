"""The data the review pipeline passes around (contract between its pure and I/O halves)."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from bot.engine import LintResult
from bot.rules.base import Finding, Severity


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

    @property
    def path(self) -> str:
        return self.file.path

    @property
    def findings(self) -> tuple[Finding, ...]:
        return self.result.findings if self.result is not None else ()

    @property
    def analysed(self) -> bool:
        """Whether the rules ran, so a finding missing from `findings` is really gone."""
        return self.result is not None and not self.result.fatal


@dataclass(frozen=True, slots=True)
class ExistingComment:
    """A review comment already on the pull request (any author)."""

    id: int
    path: str
    line: int | None  # None when GitHub marks it outdated
    body: str
    author: str
    in_reply_to_id: int | None
    resolved: bool = False  # its thread is resolved (known from GraphQL; REST does not say)


@enum.unique
class Placement(enum.Enum):
    INLINE = "inline"
    OUTSIDE_DIFF = "outside the lines this pull request changes"
    NO_PATCH = "GitHub shows no diff for this file"
    OVER_LIMIT = "over the limit of inline comments per review"
    REFUSED = "refused by GitHub as inline comments"


@dataclass(frozen=True, slots=True)
class Item:
    """What one review comment (or summary entry) says: findings of one file whose fixes overlap,
    or a single finding."""

    path: str
    findings: tuple[Finding, ...]  # most severe first
    fingerprints: tuple[str, ...]  # one per finding
    anchor: tuple[int, int] | None  # (first, last) RIGHT-side lines to comment on; None: not inline
    placement: Placement
    suggestion: str | None = None  # replaces the anchor's lines
    fix_title: str | None = None
    fix_diff: str | None = None  # the fix as a unified diff, when it cannot be a suggestion

    @property
    def severity(self) -> Severity:
        return max(f.severity for f in self.findings)

    @property
    def line(self) -> int:
        return self.findings[0].line


@dataclass(frozen=True, slots=True)
class InlineComment:
    path: str
    line: int  # last line of the range (RIGHT side)
    start_line: int | None  # first line when the range spans several lines, else None
    body: str
    fingerprints: tuple[str, ...]


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
    """What one run posts on the pull request: a review (maybe none) and threads to resolve."""

    inline: tuple[Item, ...]  # new items posted as inline comments (`comments`)
    comments: tuple[InlineComment, ...]
    summary: tuple[Item, ...]  # new items that cannot be inline (outside the diff, over the cap)
    body: str | None  # None: post no review at all (nothing new)
    resolve: tuple[int, ...]  # root comment ids of Mountie's own threads whose finding is gone

    @property
    def writes(self) -> bool:
        return self.body is not None or bool(self.resolve)


@dataclass(frozen=True, slots=True)
class CheckReport:
    """The check run's verdict and output."""

    conclusion: str  # success, failure, neutral
    title: str
    summary: str
    annotations: tuple[Annotation, ...] = ()
