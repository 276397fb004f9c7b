"""Plain records of what the facade reads from GitHub (PyGithub objects never leave `bot/github`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.review.model import ChangedFile, ExistingComment


@dataclass(frozen=True, slots=True)
class PullRequest:
    number: int
    state: str  # open | closed
    draft: bool
    head_sha: str
    author: str
    base_ref: str
    default_branch: str


@dataclass(frozen=True, slots=True)
class Review:
    id: int
    author: str
    state: str  # COMMENTED, PENDING, ...
    body: str
    commit_id: str | None


@dataclass(frozen=True, slots=True)
class ThreadComment:
    database_id: int
    author: str  # GraphQL login: a bot's has no "[bot]" suffix
    body: str


@dataclass(frozen=True, slots=True)
class ReviewThread:
    id: str  # GraphQL node id, for resolveReviewThread
    is_resolved: bool
    is_outdated: bool
    comments: tuple[ThreadComment, ...]


@dataclass(frozen=True, slots=True)
class CheckRun:
    id: int
    name: str
    head_sha: str
    status: str
    conclusion: str | None
    external_id: str | None
    started_at: float | None  # UNIX time
    app_slug: str | None


@dataclass(frozen=True, slots=True)
class IssueComment:
    id: int
    author: str
    body: str


def _login(data: Any) -> str:
    return str(data.get("login") or "") if isinstance(data, Mapping) else ""


def _timestamp(value: Any) -> float | None:
    if not isinstance(value, str) or not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def pull_request(data: Mapping[str, Any]) -> PullRequest:
    base = data.get("base") or {}
    return PullRequest(
        number=int(data["number"]),
        state=str(data.get("state") or ""),
        draft=bool(data.get("draft")),
        head_sha=str(data["head"]["sha"]),
        author=_login(data.get("user")),
        base_ref=str(base.get("ref") or ""),
        default_branch=str((base.get("repo") or {}).get("default_branch") or ""),
    )


def changed_file(data: Mapping[str, Any]) -> ChangedFile:
    patch = data.get("patch")
    previous = data.get("previous_filename")
    return ChangedFile(
        path=str(data["filename"]),
        status=str(data.get("status") or ""),
        patch=patch if isinstance(patch, str) else None,
        previous_path=previous if isinstance(previous, str) else None,
    )


def review_comment(data: Mapping[str, Any]) -> ExistingComment:
    line = data.get("line")
    reply_to = data.get("in_reply_to_id")
    return ExistingComment(
        id=int(data["id"]),
        path=str(data.get("path") or ""),
        line=line if isinstance(line, int) else None,
        body=str(data.get("body") or ""),
        author=_login(data.get("user")),
        in_reply_to_id=reply_to if isinstance(reply_to, int) else None,
    )


def review(data: Mapping[str, Any]) -> Review:
    commit = data.get("commit_id")
    return Review(
        id=int(data["id"]),
        author=_login(data.get("user")),
        state=str(data.get("state") or ""),
        body=str(data.get("body") or ""),
        commit_id=commit if isinstance(commit, str) else None,
    )


def review_thread(data: Mapping[str, Any]) -> ReviewThread:
    nodes = ((data.get("comments") or {}).get("nodes")) or []
    return ReviewThread(
        id=str(data["id"]),
        is_resolved=bool(data.get("isResolved")),
        is_outdated=bool(data.get("isOutdated")),
        comments=tuple(
            ThreadComment(
                int(node.get("databaseId") or 0), _login(node.get("author")), str(node.get("body") or "")
            )
            for node in nodes
        ),
    )


def check_run(data: Mapping[str, Any]) -> CheckRun:
    external = data.get("external_id")
    app = data.get("app")
    return CheckRun(
        id=int(data["id"]),
        name=str(data.get("name") or ""),
        head_sha=str(data.get("head_sha") or ""),
        status=str(data.get("status") or ""),
        conclusion=data.get("conclusion") if isinstance(data.get("conclusion"), str) else None,
        external_id=external if isinstance(external, str) and external else None,
        started_at=_timestamp(data.get("started_at")),
        app_slug=str(app.get("slug")) if isinstance(app, Mapping) and app.get("slug") else None,
    )


def issue_comment(data: Mapping[str, Any]) -> IssueComment:
    return IssueComment(id=int(data["id"]), author=_login(data.get("user")), body=str(data.get("body") or ""))
