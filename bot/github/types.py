"""Plain records of what the facade reads from GitHub (PyGithub objects never leave `bot/github`)."""

from __future__ import annotations

import hashlib
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
    author: str  # as REST names it: a bot's with its "[bot]" suffix, which GraphQL leaves out
    body: str
    line: int | None = None  # None when GitHub marks it outdated


@dataclass(frozen=True, slots=True)
class ReviewThread:
    id: str  # GraphQL node id, for resolveReviewThread
    is_resolved: bool
    is_outdated: bool
    comments: tuple[ThreadComment, ...]  # the first one starts the thread
    path: str = ""


@dataclass(frozen=True, slots=True)
class Blob:
    """A file as GraphQL's `Blob` gives it: `text` is None for a binary file, cut short when
    `truncated` (around 500 KB), and otherwise GitHub's reading of the bytes, documented only as
    "UTF8 text"."""

    oid: str
    size: int
    text: str | None
    truncated: bool

    @property
    def exact(self) -> bytes | None:
        """The file's bytes when `text` is all of them, unchanged: whole, and its UTF-8 encoding
        has the blob's object id. None otherwise (binary, truncated, transcoded): read it with REST."""
        if self.text is None or self.truncated:
            return None
        try:
            data = self.text.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: not what any UTF-8 file decodes to
            return None
        if len(data) != self.size or hashlib.sha1(b"blob %d\x00" % len(data) + data).hexdigest() != self.oid:
            return None
        return data


@dataclass(frozen=True, slots=True)
class PullSnapshot:
    """What `GitHubClient.read_pull` read in one go."""

    blobs: Mapping[str, Blob | None]  # by `REV:PATH` expression; None: no file there
    threads: tuple[ReviewThread, ...]


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


def _graphql_login(data: Any) -> str:
    """A GraphQL actor's login as REST spells it (a `Bot`'s with the `[bot]` suffix)."""
    login = _login(data)
    if login and isinstance(data, Mapping) and data.get("__typename") == "Bot":
        return f"{login}[bot]"
    return login


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
                int(node.get("databaseId") or 0),
                _graphql_login(node.get("author")),
                str(node.get("body") or ""),
                node["line"] if isinstance(node.get("line"), int) else None,
            )
            for node in nodes
        ),
        path=str(data.get("path") or ""),
    )


def blob(data: Any) -> Blob | None:
    """A `Blob` answer; None for `null` (nothing at that path) or another kind of object (a tree)."""
    if not isinstance(data, Mapping) or not isinstance(data.get("oid"), str):
        return None
    text = data.get("text")
    return Blob(
        oid=data["oid"],
        size=int(data.get("byteSize") or 0),
        text=text if isinstance(text, str) else None,
        truncated=bool(data.get("isTruncated")),
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
