"""`GitHubClient`: the worker's only way to GitHub, one instance per installation and job.

A thin facade over PyGithub: PyGithub signs the app JWT (`Auth.AppAuth`), exchanges it for
installation tokens (`GithubIntegration`), and sends every request through its `Requester`
(authentication, throttling, JSON, error types). The facade does not use PyGithub's object layer:
its objects complete themselves lazily with hidden GETs, which would break the worker's API budget.
Instead each method is one documented endpoint (lists: every page, built from the `Link` header),
returns plain records (`bot.github.types`, `bot.review.model`), and goes through `Retrier`, which
knows whether the call may be repeated.

REST calls go to `settings.api_url` (`https://HOST/api/v3` for GitHub Enterprise Server), GraphQL
to `settings.graphql_url`. `calls` counts the requests this client sent, installation-token
requests aside (`token_requests`); `rate_remaining` is the last `x-ratelimit-remaining` seen.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

import github
import requests
from github.Requester import Requester

from bot.app.settings import AppSettings
from bot.engine import MAX_BYTES
from bot.github import types
from bot.github.auth import InstallationTokenAuth, InstallationTokens, app_auth
from bot.github.errors import FileTooLargeError, GitHubError, GoneError
from bot.github.retry import Retrier, RetryPolicy
from bot.review.model import Annotation, ChangedFile, ExistingComment, InlineComment

log = logging.getLogger(__name__)

T = TypeVar("T")

PER_PAGE = 100
MAX_PR_FILES = 3000  # GitHub lists at most this many files of a pull request
ANNOTATIONS_PER_REQUEST = 50  # the Checks API limit
USER_AGENT = "mountie"
_NEXT_LINK = re.compile(r'<([^>]+)>;\s*rel="next"')

_THREADS_QUERY = """
query($owner: String!, $name: String!, $number: Int!, $after: String) {
  repository(owner: $owner, name: $name) {
    pullRequest(number: $number) {
      reviewThreads(first: 100, after: $after) {
        pageInfo { hasNextPage endCursor }
        nodes {
          id isResolved isOutdated
          comments(first: 100) { nodes { databaseId body author { login } } }
        }
      }
    }
  }
}
"""
_RESOLVE_MUTATION = """
mutation($id: ID!) {
  resolveReviewThread(input: {threadId: $id}) { thread { id isResolved } }
}
"""


@dataclass(frozen=True, slots=True)
class ApiCall:
    """One request, for logs and metrics (`on_call`)."""

    method: str
    path: str
    status: int  # 0 when no response arrived
    rate_remaining: int | None


class GitHubClient:
    def __init__(
        self,
        settings: AppSettings,
        installation_id: int,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        timeout: int = 15,
        throttle: bool = True,
        policy: RetryPolicy | None = None,
        on_call: Callable[[ApiCall], None] | None = None,
    ) -> None:
        self.settings = settings
        self.installation_id = installation_id
        self.calls = 0
        self.token_requests = 0
        self.rate_remaining: int | None = None
        self._on_call = on_call
        self._app_slug: str | None = None
        self.retry_policy = policy or RetryPolicy(secondary_wait=settings.secondary_rate_limit_wait)
        self._retrier = Retrier(self.retry_policy, sleep=sleep, clock=clock)
        common: dict[str, Any] = {
            "base_url": settings.api_url.rstrip("/"),
            "timeout": timeout,
            "user_agent": USER_AGENT,
            "retry": None,  # see bot.github.retry: PyGithub would re-send POSTs on 5xx
        }
        if not throttle:
            # PyGithub's defaults (0.25 s between requests, 1 s between writes) are what GitHub
            # asks for; tests against the emulator switch them off.
            common.update(seconds_between_requests=None, seconds_between_writes=None)
        self._integration = github.GithubIntegration(
            auth=app_auth(settings.app_id, settings.private_key), **common
        )
        self._tokens = InstallationTokens(self._fetch_token, clock)
        self._requester: Requester = github.Github(
            auth=InstallationTokenAuth(self._tokens), **common
        ).requester

    # -- plumbing ----------------------------------------------------------------------------------

    def _fetch_token(self) -> tuple[str, float]:
        def attempt() -> tuple[str, float]:
            self.token_requests += 1
            authorization = self._integration.get_access_token(self.installation_id)
            return authorization.token, authorization.expires_at.timestamp()

        return self._retrier.call(attempt, what="installation token", idempotent=True)

    def _refresh_token(self) -> None:
        self._tokens.invalidate()
        self._tokens.current()

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
        path = urlsplit(url).path
        what = f"{verb} {path}"

        def attempt() -> tuple[dict[str, Any], Any]:
            self._tokens.current()  # a token fetch failing is not this request failing
            self.calls += 1
            try:
                status, response_headers, output = self._requester.requestJson(
                    verb, url, dict(params) if params else None, dict(headers or {}), body
                )
            except requests.RequestException:
                self._observe(verb, path, 0, {})
                raise
            self._observe(verb, path, status, response_headers)
            data = json.loads(output) if isinstance(output, str) and output else None
            if status >= 400:
                error = data if isinstance(data, dict) else {"message": output}
                raise Requester.createException(status, response_headers, error)
            return response_headers, data

        return self._retrier.call(attempt, what=what, idempotent=idempotent, refresh=self._refresh_token)

    def _observe(self, verb: str, path: str, status: int, headers: Mapping[str, Any]) -> None:
        remaining = str(headers.get("x-ratelimit-remaining", ""))
        if remaining.isdigit():
            self.rate_remaining = int(remaining)
        if self._on_call is not None:
            self._on_call(ApiCall(verb, path, status, self.rate_remaining))

    def _pages(
        self, url: str, *, key: str | None = None, params: Mapping[str, Any] | None = None, limit: int = 0
    ) -> Iterator[Mapping[str, Any]]:
        """Every item of a paginated list, fetched a page at a time as the caller iterates."""
        next_url: str | None = url
        query: Mapping[str, Any] | None = {**(params or {}), "per_page": PER_PAGE}
        seen = 0
        while next_url is not None:
            headers, data = self._request("GET", next_url, idempotent=True, params=query)
            items = data.get(key, []) if key is not None and isinstance(data, Mapping) else data
            for item in items or []:
                yield item
                seen += 1
                if limit and seen >= limit:
                    return
            match = _NEXT_LINK.search(str(headers.get("link", "")))
            next_url, query = (match.group(1), None) if match else (None, None)

    def _graphql(self, query: str, variables: Mapping[str, Any]) -> Mapping[str, Any]:
        _, data = self._request(
            "POST",
            self.settings.graphql_url,
            idempotent=True,  # the query and resolveReviewThread can both be repeated harmlessly
            body={"query": query, "variables": dict(variables)},
        )
        errors = data.get("errors") if isinstance(data, Mapping) else None
        if errors:
            messages = tuple(str(e.get("message", e)) for e in errors if isinstance(e, Mapping))
            if any(isinstance(e, Mapping) and e.get("type") == "NOT_FOUND" for e in errors):
                raise GoneError(f"GraphQL: {'; '.join(messages)}", 404, messages)
            raise GitHubError(f"GraphQL: {'; '.join(messages)}", None, messages)
        result = data.get("data") if isinstance(data, Mapping) else None
        return result if isinstance(result, Mapping) else {}

    # -- the app ----------------------------------------------------------------------------------

    def app_slug(self) -> str:
        """The App's slug (GET /app with the JWT, once; check-run answers also tell it)."""
        if self._app_slug is None:

            def attempt() -> str:
                self.calls += 1
                return str(self._integration.get_app().slug)

            self._app_slug = self._retrier.call(attempt, what="GET /app", idempotent=True)
        return self._app_slug

    @property
    def bot_login(self) -> str:
        """Who the App's comments are by, in REST: `<slug>[bot]`."""
        return f"{self.app_slug()}[bot]"

    # -- pull requests ----------------------------------------------------------------------------

    def get_pull(self, repo: str, number: int) -> types.PullRequest:
        _, data = self._request("GET", f"/repos/{repo}/pulls/{number}", idempotent=True)
        return types.pull_request(data)

    def list_pull_files(self, repo: str, number: int) -> Iterator[ChangedFile]:
        for item in self._pages(f"/repos/{repo}/pulls/{number}/files", limit=MAX_PR_FILES):
            yield types.changed_file(item)

    def get_file(self, repo: str, path: str, ref: str | None = None) -> bytes | None:
        """A file's bytes at `ref` (None: the default branch); None when it does not exist there.

        Raises `FileTooLargeError` over 1 MB: the JSON media type serves no more, and the engine would
        not analyse it anyway."""
        params = {"ref": ref} if ref else None
        try:
            _, data = self._request(
                "GET", f"/repos/{repo}/contents/{quote(path, safe='/')}", idempotent=True, params=params
            )
        except GoneError:
            return None
        except GitHubError as exc:
            if exc.status == 403 and ("too_large" in exc.errors or "too large" in str(exc)):
                raise FileTooLargeError(f"{path} is over 1 MB", 403) from exc
            raise
        if not isinstance(data, Mapping) or data.get("type") != "file":
            return None  # a directory or a submodule
        if int(data.get("size") or 0) > MAX_BYTES or data.get("encoding") != "base64":
            raise FileTooLargeError(f"{path} is over 1 MB")
        return base64.b64decode(str(data.get("content") or ""))

    def list_review_comments(self, repo: str, number: int) -> list[ExistingComment]:
        return [types.review_comment(c) for c in self._pages(f"/repos/{repo}/pulls/{number}/comments")]

    def list_reviews(self, repo: str, number: int) -> list[types.Review]:
        return [types.review(r) for r in self._pages(f"/repos/{repo}/pulls/{number}/reviews")]

    def create_review(
        self, repo: str, number: int, *, commit_id: str, body: str, comments: Sequence[InlineComment]
    ) -> types.Review:
        """A submitted `COMMENT` review (never a pending one) pinned to `commit_id`.

        Not retried on 5xx (`WriteOutcomeUnknownError`): GitHub may have created it."""
        payload = {
            "commit_id": commit_id,
            "body": body,
            "event": "COMMENT",
            "comments": [_review_comment_json(c) for c in comments],
        }
        _, data = self._request(
            "POST", f"/repos/{repo}/pulls/{number}/reviews", idempotent=False, body=payload
        )
        return types.review(data)

    def delete_pending_review(self, repo: str, number: int, review_id: int) -> None:
        with contextlib.suppress(GoneError):  # already gone: what we wanted
            self._request("DELETE", f"/repos/{repo}/pulls/{number}/reviews/{review_id}", idempotent=True)

    def delete_review_comment(self, repo: str, comment_id: int) -> None:
        with contextlib.suppress(GoneError):
            self._request("DELETE", f"/repos/{repo}/pulls/comments/{comment_id}", idempotent=True)

    def list_review_threads(self, repo: str, number: int) -> list[types.ReviewThread]:
        owner, name = repo.split("/", 1)
        threads: list[types.ReviewThread] = []
        after: str | None = None
        while True:
            data = self._graphql(
                _THREADS_QUERY, {"owner": owner, "name": name, "number": number, "after": after}
            )
            connection = ((data.get("repository") or {}).get("pullRequest") or {}).get("reviewThreads") or {}
            threads.extend(types.review_thread(node) for node in connection.get("nodes") or [])
            page = connection.get("pageInfo") or {}
            if not page.get("hasNextPage"):
                return threads
            after = page.get("endCursor")

    def resolve_review_thread(self, thread_id: str) -> None:
        self._graphql(_RESOLVE_MUTATION, {"id": thread_id})

    # -- check runs -------------------------------------------------------------------------------

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
        """In progress, or completed when `conclusion` is given (more than 50 annotations: the rest
        follow in updates, and the run completes with the last one).

        Not retried on 5xx (`WriteOutcomeUnknownError`): GitHub may have created it."""
        batches = _batches(annotations)
        payload: dict[str, Any] = {
            "name": name,
            "head_sha": head_sha,
            "output": {"title": title, "summary": summary, "annotations": batches[0]},
        }
        if external_id is not None:
            payload["external_id"] = external_id
        if conclusion is not None and len(batches) == 1:
            payload["conclusion"] = conclusion
        else:
            payload["status"] = "in_progress"
        _, data = self._request("POST", f"/repos/{repo}/check-runs", idempotent=False, body=payload)
        run = self._note_app(types.check_run(data))
        if len(batches) > 1:
            run = self._update_batches(
                repo, run.id, title=title, summary=summary, conclusion=conclusion, batches=batches[1:]
            )
        return run

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
        """New output, annotations in batches of 50; completes the run with the last batch when
        `conclusion` is given."""
        return self._update_batches(
            repo, run_id, title=title, summary=summary, conclusion=conclusion, batches=_batches(annotations)
        )

    def _update_batches(
        self,
        repo: str,
        run_id: int,
        *,
        title: str,
        summary: str,
        conclusion: str | None,
        batches: list[list[dict[str, Any]]],
    ) -> types.CheckRun:
        data: Any = None
        for index, batch in enumerate(batches):
            payload: dict[str, Any] = {"output": {"title": title, "summary": summary, "annotations": batch}}
            if conclusion is not None and index == len(batches) - 1:
                payload["conclusion"] = conclusion
            # Repeating an update is harmless but for a batch of annotations shown twice.
            _, data = self._request(
                "PATCH", f"/repos/{repo}/check-runs/{run_id}", idempotent=True, body=payload
            )
        return self._note_app(types.check_run(data))

    def get_check_run(self, repo: str, run_id: int) -> types.CheckRun:
        _, data = self._request("GET", f"/repos/{repo}/check-runs/{run_id}", idempotent=True)
        return self._note_app(types.check_run(data))

    def list_check_runs(self, repo: str, ref: str, name: str) -> list[types.CheckRun]:
        """Check runs named `name` on commit `ref`, newest first."""
        items = self._pages(
            f"/repos/{repo}/commits/{ref}/check-runs",
            key="check_runs",
            params={"check_name": name, "filter": "all"},
        )
        return sorted((types.check_run(r) for r in items), key=lambda r: r.id, reverse=True)

    def _note_app(self, run: types.CheckRun) -> types.CheckRun:
        if run.app_slug and self._app_slug is None:
            self._app_slug = run.app_slug
        return run

    # -- conversation -----------------------------------------------------------------------------

    def add_reaction(self, repo: str, comment_id: int, content: str) -> None:
        """React to an issue (PR conversation) comment; GitHub answers 200 when it already exists."""
        self._request(
            "POST",
            f"/repos/{repo}/issues/comments/{comment_id}/reactions",
            idempotent=True,
            body={"content": content},
        )

    def create_issue_comment(self, repo: str, number: int, body: str) -> types.IssueComment:
        _, data = self._request(
            "POST", f"/repos/{repo}/issues/{number}/comments", idempotent=False, body={"body": body}
        )
        return types.issue_comment(data)

    def list_issue_comments(self, repo: str, number: int) -> list[types.IssueComment]:
        return [types.issue_comment(c) for c in self._pages(f"/repos/{repo}/issues/{number}/comments")]

    def permission(self, repo: str, username: str) -> str:
        """`admin`, `write`, `read` or `none` (GitHub folds maintain into write, triage into read)."""
        try:
            _, data = self._request(
                "GET", f"/repos/{repo}/collaborators/{quote(username)}/permission", idempotent=True
            )
        except GoneError:
            return "none"  # not a collaborator, in some setups
        return str(data.get("permission") or "none") if isinstance(data, Mapping) else "none"


def _review_comment_json(comment: InlineComment) -> dict[str, Any]:
    data: dict[str, Any] = {"path": comment.path, "body": comment.body, "line": comment.line, "side": "RIGHT"}
    # GitHub refuses start_line == line (422): a single-line comment has none.
    if comment.start_line is not None and comment.start_line < comment.line:
        data["start_line"] = comment.start_line
        data["start_side"] = "RIGHT"
    return data


def _annotation_json(annotation: Annotation) -> dict[str, Any]:
    data: dict[str, Any] = {
        "path": annotation.path,
        "start_line": annotation.start_line,
        "end_line": annotation.end_line,
        "annotation_level": annotation.level,
        "message": annotation.message,
    }
    if annotation.title:
        data["title"] = annotation.title
    if annotation.raw_details:
        data["raw_details"] = annotation.raw_details
    return data


def _batches(annotations: Sequence[Annotation]) -> list[list[dict[str, Any]]]:
    """Annotations as request-sized batches; always at least one (possibly empty) batch."""
    items = [_annotation_json(a) for a in annotations]
    return [
        items[i : i + ANNOTATIONS_PER_REQUEST] for i in range(0, len(items), ANNOTATIONS_PER_REQUEST)
    ] or [[]]
