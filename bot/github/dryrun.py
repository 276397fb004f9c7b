"""`DryRunClient`: the real client for every read, and a recorder for every write.

`mountie review --dry-run` runs the worker's review pipeline with it: what the review would post
(the review, the check run, threads to resolve, reactions, replies) is kept in `posted`, and
nothing is sent. Each write method of `GitHubClient` is overridden to record and to answer as
GitHub would; as a safety net, any other request that is not a read (a REST GET, a GraphQL query)
raises `DryRunWriteError` before it leaves the process.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from bot.github import types
from bot.github.client import GitHubClient
from bot.review.model import Annotation, InlineComment


class DryRunWriteError(RuntimeError):
    """A dry run was about to send a write that it does not know how to record."""


@dataclass(frozen=True, slots=True)
class ReviewDraft:
    number: int
    commit_id: str
    body: str
    comments: tuple[InlineComment, ...]


@dataclass(frozen=True, slots=True)
class CheckRunDraft:
    id: int
    name: str
    head_sha: str
    title: str
    summary: str
    conclusion: str | None  # None: still in progress
    external_id: str | None
    annotations: tuple[Annotation, ...]


@dataclass
class Posted:
    """Everything a dry run would have written, in order per kind."""

    reviews: list[ReviewDraft] = field(default_factory=list)
    check_runs: dict[int, CheckRunDraft] = field(default_factory=dict)
    resolved_threads: list[str] = field(default_factory=list)
    issue_comments: list[tuple[int, str]] = field(default_factory=list)
    reactions: list[tuple[int, str]] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)  # pending reviews and comments

    @property
    def nothing(self) -> bool:
        return not (
            self.reviews
            or self.check_runs
            or self.resolved_threads
            or self.issue_comments
            or self.reactions
            or self.deleted
        )


class DryRunClient(GitHubClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.posted = Posted()

    # -- the safety net ----------------------------------------------------------------------------

    def _request(
        self,
        verb: str,
        url: str,
        *,
        idempotent: bool,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[dict[str, Any], Any]:
        query = body.get("query") if isinstance(body, Mapping) else None
        reading = verb == "GET" or (
            verb == "POST"
            and url == self.settings.graphql_url
            and isinstance(query, str)
            and query.lstrip().startswith("query")
        )
        if not reading:
            raise DryRunWriteError(f"dry run: refusing to send {verb} {url}")
        return super()._request(verb, url, idempotent=idempotent, params=params, body=body, headers=headers)

    # -- writes, recorded ------------------------------------------------------------------------

    def create_review(
        self, repo: str, number: int, *, commit_id: str, body: str, comments: Sequence[InlineComment]
    ) -> types.Review:
        self.posted.reviews.append(ReviewDraft(number, commit_id, body, tuple(comments)))
        return types.Review(-len(self.posted.reviews), self.bot_login, "COMMENTED", body, commit_id)

    def delete_pending_review(self, repo: str, number: int, review_id: int) -> None:
        self.posted.deleted.append(f"pending review {review_id}")

    def delete_review_comment(self, repo: str, comment_id: int) -> None:
        self.posted.deleted.append(f"review comment {comment_id}")

    def resolve_review_thread(self, thread_id: str) -> None:
        self.posted.resolved_threads.append(thread_id)

    def create_check_run(
        self,
        repo: str,
        *,
        name: str,
        head_sha: str,
        title: str,
        summary: str,
        external_id: str | None = None,
        conclusion: str | None = None,
        annotations: Sequence[Annotation] = (),
    ) -> types.CheckRun:
        draft = CheckRunDraft(
            -1 - len(self.posted.check_runs),
            name,
            head_sha,
            title,
            summary,
            conclusion,
            external_id,
            tuple(annotations),
        )
        self.posted.check_runs[draft.id] = draft
        return self._check_run(draft)

    def update_check_run(
        self,
        repo: str,
        run_id: int,
        *,
        title: str,
        summary: str,
        conclusion: str | None = None,
        annotations: Sequence[Annotation] = (),
    ) -> types.CheckRun:
        # GitHub adds each update's annotations to those the run already has.
        old = self.posted.check_runs[run_id]
        draft = replace(
            old,
            title=title,
            summary=summary,
            conclusion=conclusion or old.conclusion,
            annotations=old.annotations + tuple(annotations),
        )
        self.posted.check_runs[run_id] = draft
        return self._check_run(draft)

    def _check_run(self, draft: CheckRunDraft) -> types.CheckRun:
        return types.CheckRun(
            id=draft.id,
            name=draft.name,
            head_sha=draft.head_sha,
            status="completed" if draft.conclusion else "in_progress",
            conclusion=draft.conclusion,
            external_id=draft.external_id,
            started_at=time.time(),
            app_slug=None,
        )

    def add_reaction(self, repo: str, comment_id: int, content: str) -> None:
        self.posted.reactions.append((comment_id, content))

    def create_issue_comment(self, repo: str, number: int, body: str) -> types.IssueComment:
        self.posted.issue_comments.append((number, body))
        return types.IssueComment(-len(self.posted.issue_comments), self.bot_login, body)
