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

`read_pull` reads what a review needs in one GraphQL query: the pull request's review threads and
any number of files (`object(expression: "REV:PATH")`), as `Blob`s whose `exact` bytes are known
only when GitHub's text is the whole file (see `types.Blob`).

`UserToken` instead of `AppSettings` (`mountie review` with GITHUB_TOKEN) authenticates as a user:
no JWT, no installation token, and no check runs (GitHub refuses them to anything but an App).
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Self, TypeVar
from urllib.parse import quote, urlsplit

import github
import requests
from github import Consts
from github.InstallationAuthorization import InstallationAuthorization
from github.Requester import Requester

from bot.app.settings import DEFAULT_API_URL, AppSettings, graphql_url
from bot.engine import MAX_BYTES
from bot.github import types
from bot.github.auth import InstallationTokenAuth, InstallationTokens, app_auth
from bot.github.errors import FileTooLargeError, ForbiddenError, GitHubError, GoneError
from bot.github.retry import Retrier, RetryPolicy
from bot.review.model import Annotation, ChangedFile, ExistingComment, InlineComment

log = logging.getLogger(__name__)

T = TypeVar("T")

PER_PAGE = 100
MAX_PR_FILES = 3000  # GitHub lists at most this many files of a pull request
ANNOTATIONS_PER_REQUEST = 50  # the Checks API limit
USER_AGENT = "mountie"
_NEXT_LINK = re.compile(r'<([^>]+)>;\s*rel="next"')

OBJECTS_PER_QUERY = 50  # files per GraphQL query: each answer may hold ~500 KB of text
_THREAD_FRAGMENT = """
fragment thread on PullRequestReviewThread {
  id isResolved isOutdated path
  comments(first: 100) { nodes { databaseId body line author { __typename login } } }
}
"""
_BLOB_FRAGMENT = """
fragment blob on Blob { oid byteSize isTruncated text }
"""
_THREADS_PAGE = (
    "reviewThreads(first: 100, after: $after) { pageInfo { hasNextPage endCursor } nodes { ...thread } }"
)
_THREADS_QUERY = (
    "query($owner: String!, $name: String!, $number: Int!, $after: String) {\n"
    f"  repository(owner: $owner, name: $name) {{ pullRequest(number: $number) {{ {_THREADS_PAGE} }} }}\n"
    "}\n" + _THREAD_FRAGMENT
)
_RESOLVE_MUTATION = """
mutation($id: ID!) {
  resolveReviewThread(input: {threadId: $id}) { thread { id isResolved } }
}
"""


@dataclass(frozen=True, slots=True)
class UserToken:
    """A user's token instead of the App's credentials (`mountie review` with GITHUB_TOKEN).

    `app_slug` names the App whose comments count as Mountie's own."""

    token: str = field(repr=False)
    api_url: str = DEFAULT_API_URL
    app_slug: str = "mountie"
    secondary_rate_limit_wait: float = 60.0

    @property
    def graphql_url(self) -> str:
        return graphql_url(self.api_url)


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
        settings: AppSettings | UserToken,
        installation_id: int,
        *,
        repository: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        timeout: int = 15,
        throttle: bool = True,
        policy: RetryPolicy | None = None,
        on_call: Callable[[ApiCall], None] | None = None,
    ) -> None:
        self.settings = settings
        self.installation_id = installation_id
        # "owner/name": installation tokens are then asked for this repository only (least
        # privilege: a token that leaks, or a bug, cannot touch the installation's other repos).
        self.repository = repository
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
        self._integration: github.GithubIntegration | None = None
        self._tokens: InstallationTokens | None = None
        auth: github.Auth.Auth
        if isinstance(settings, UserToken):
            self._app_slug = settings.app_slug
            auth = github.Auth.Token(settings.token)
        else:
            self._integration = github.GithubIntegration(
                auth=app_auth(settings.app_id, settings.private_key), **common
            )
            self._tokens = InstallationTokens(self._fetch_token, clock)
            auth = InstallationTokenAuth(self._tokens)
        self._requester: Requester = github.Github(auth=auth, **common).requester

    @classmethod
    def for_repository(cls, settings: AppSettings, repo: str, **options: Any) -> Self:
        """A client for the App's installation on `repo`, found with the JWT
        (`GET /repos/{owner}/{repo}/installation`; 404 when the App is not installed there)."""
        client = cls(settings, 0, repository=repo, **options)
        client.installation_id = client._repo_installation(repo)
        return client

    # -- plumbing ----------------------------------------------------------------------------------

    def _app(self) -> github.GithubIntegration:
        if self._integration is None:
            raise ForbiddenError("this needs the App's credentials, not a user token", 403)
        return self._integration

    def _fetch_token(self) -> tuple[str, float]:
        def attempt() -> tuple[str, float]:
            self.token_requests += 1
            if self.repository is None:
                authorization = self._app().get_access_token(self.installation_id)
            else:
                authorization = self._scoped_token(self.repository.split("/", 1)[-1])
            return authorization.token, authorization.expires_at.timestamp()

        return self._retrier.call(attempt, what="installation token", idempotent=True)

    def _scoped_token(self, name: str) -> InstallationAuthorization:
        """`POST /app/installations/{id}/access_tokens` for one repository of the installation
        (PyGithub's `get_access_token` sends only permissions)."""
        app = self._app()
        headers, data = app.requester.requestJsonAndCheck(
            "POST",
            f"/app/installations/{self.installation_id}/access_tokens",
            headers={"Accept": Consts.mediaTypeIntegrationPreview},
            input={"repositories": [name]},
        )
        return InstallationAuthorization(requester=app.requester, headers=headers, attributes=data)

    def _refresh_token(self) -> None:
        if self._tokens is not None:
            self._tokens.invalidate()
            self._tokens.current()

    def _repo_installation(self, repo: str) -> int:
        owner, name = repo.split("/", 1)

        def attempt() -> int:
            self.calls += 1
            return int(self._app().get_repo_installation(owner, name).id)

        return self._retrier.call(attempt, what=f"GET /repos/{repo}/installation", idempotent=True)

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
            if self._tokens is not None:
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

        refresh = self._refresh_token if self._tokens is not None else None
        return self._retrier.call(attempt, what=what, idempotent=idempotent, refresh=refresh)

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
            kinds = {e.get("type") for e in errors if isinstance(e, Mapping)}
            if "NOT_FOUND" in kinds:
                raise GoneError(f"GraphQL: {'; '.join(messages)}", 404, messages)
            if "FORBIDDEN" in kinds:  # a missing permission: like REST's 403, not worth a retry
                raise ForbiddenError(f"GraphQL: {'; '.join(messages)}", 403, messages)
            raise GitHubError(f"GraphQL: {'; '.join(messages)}", None, messages)
        result = data.get("data") if isinstance(data, Mapping) else None
        return result if isinstance(result, Mapping) else {}

    # -- the app ----------------------------------------------------------------------------------

    def app_slug(self) -> str:
        """The App's slug (GET /app with the JWT, once; check-run answers also tell it)."""
        if self._app_slug is None:

            def attempt() -> str:
                self.calls += 1
                return str(self._app().get_app().slug)

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

    def list_review_threads(
        self, repo: str, number: int, after: str | None = None
    ) -> list[types.ReviewThread]:
        """Every review thread of the pull request (from the one after cursor `after`), with up to
        100 comments each; authors as REST names them (`mountie[bot]`)."""
        owner, name = repo.split("/", 1)
        threads: list[types.ReviewThread] = []
        while True:
            data = self._graphql(
                _THREADS_QUERY, {"owner": owner, "name": name, "number": number, "after": after}
            )
            pull = (data.get("repository") or {}).get("pullRequest") or {}
            page, after = _thread_page(pull)
            threads.extend(page)
            if after is None:
                return threads

    def read_pull(self, repo: str, number: int, expressions: Sequence[str]) -> types.PullSnapshot:
        """The pull request's review threads and the files `expressions` name (`REV:PATH`, REV a SHA
        or `HEAD` for the default branch): one GraphQL query, more only past 100 threads or
        `OBJECTS_PER_QUERY` files. A file that is not there (or is a directory) reads as None."""
        owner, name = repo.split("/", 1)
        wanted = list(dict.fromkeys(expressions))
        chunks = [wanted[i : i + OBJECTS_PER_QUERY] for i in range(0, len(wanted), OBJECTS_PER_QUERY)] or [[]]
        blobs: dict[str, types.Blob | None] = {}
        threads: list[types.ReviewThread] = []
        for index, chunk in enumerate(chunks):
            variables: dict[str, Any] = {"owner": owner, "name": name}
            variables.update((f"f{i}", expression) for i, expression in enumerate(chunk))
            if index == 0:
                variables["number"] = number
            data = self._graphql(_read_query(len(chunk), threads=index == 0), variables)
            repository = data.get("repository") or {}
            blobs.update((e, types.blob(repository.get(f"f{i}"))) for i, e in enumerate(chunk))
            if index == 0:
                page, after = _thread_page(repository.get("pullRequest") or {})
                threads.extend(page)
                if after is not None:
                    threads.extend(self.list_review_threads(repo, number, after))
        return types.PullSnapshot(blobs, tuple(threads))

    def read_files(self, repo: str, expressions: Sequence[str]) -> dict[str, types.Blob | None]:
        """Files only, as `read_pull` reads them (one query per `OBJECTS_PER_QUERY` files)."""
        owner, name = repo.split("/", 1)
        wanted = list(dict.fromkeys(expressions))
        blobs: dict[str, types.Blob | None] = {}
        for start in range(0, len(wanted), OBJECTS_PER_QUERY):
            chunk = wanted[start : start + OBJECTS_PER_QUERY]
            variables: dict[str, Any] = {"owner": owner, "name": name}
            variables.update((f"f{i}", expression) for i, expression in enumerate(chunk))
            data = self._graphql(_read_query(len(chunk), threads=False), variables)
            repository = data.get("repository") or {}
            blobs.update((e, types.blob(repository.get(f"f{i}"))) for i, e in enumerate(chunk))
        return blobs

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


def _read_query(files: int, *, threads: bool) -> str:
    """A query for `files` objects (variables `$f0`...) and, with `threads`, the first page of the
    pull request's review threads. Fragments are declared only when used (GitHub refuses others)."""
    declared = ["$owner: String!", "$name: String!"]
    fields: list[str] = []
    if threads:
        declared += ["$number: Int!", "$after: String"]
        fields.append(f"pullRequest(number: $number) {{ {_THREADS_PAGE} }}")
    for i in range(files):
        declared.append(f"$f{i}: String!")
        fields.append(f"f{i}: object(expression: $f{i}) {{ ...blob }}")
    fragments = (_THREAD_FRAGMENT if threads else "") + (_BLOB_FRAGMENT if files else "")
    body = "\n    ".join(fields)
    head = f"query({', '.join(declared)}) {{\n  repository(owner: $owner, name: $name) {{\n    "
    return f"{head}{body}\n  }}\n}}\n{fragments}"


def _thread_page(pull: Mapping[str, Any]) -> tuple[list[types.ReviewThread], str | None]:
    """The threads of one `reviewThreads` page, and the cursor of the next page (None: the last)."""
    connection = pull.get("reviewThreads") or {}
    threads = [types.review_thread(node) for node in connection.get("nodes") or []]
    info = connection.get("pageInfo") or {}
    after = info.get("endCursor") if info.get("hasNextPage") else None
    return threads, after if isinstance(after, str) else None


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
