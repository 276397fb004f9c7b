"""What an endpoint handler receives (the validated request plus emulator services) and returns."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlencode

from bot.testing.github_emulator.auth import Principal, check_repo_access
from bot.testing.github_emulator.clock import Clock
from bot.testing.github_emulator.errors import ApiError
from bot.testing.github_emulator.faults import RateLimits
from bot.testing.github_emulator.render import Renderer
from bot.testing.github_emulator.state import Repo, Store
from bot.testing.github_emulator.validation import Operation

T = TypeVar("T")
MAX_PER_PAGE = 100


@dataclass
class Response:
    status: int
    body: Any = None  # JSON-able, or bytes for raw media types
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Settings:
    token_lifetime: float = 3600.0  # installation tokens: one hour on GitHub
    manifest_code_lifetime: float = 3600.0
    web_login: str = "octocat"  # the account "signed in" to the web pages (`web.py`)


@dataclass
class Context:
    operation: Operation
    method: str
    path: str
    query: dict[str, list[str]]
    params: dict[str, Any]
    body: Any
    headers: dict[str, str]  # lowercase names
    principal: Principal
    store: Store
    render: Renderer
    clock: Clock
    settings: Settings
    rate_limits: RateLimits

    @property
    def now(self) -> float:
        return self.clock.now()

    @property
    def actor(self) -> str:
        return self.principal.login

    def repo(self) -> Repo:
        """The `{owner}/{repo}` of the path, after GitHub's existence and permission checks."""
        repo = self.store.repo(self.params["owner"], self.params["repo"])
        check_repo_access(self.store, self.principal, self.operation.operation_id, repo)
        return repo

    def field(self, name: str, default: T) -> T:
        """A body field, falling back to `default` when absent (bodies are schema-validated already)."""
        if isinstance(self.body, dict) and name in self.body and self.body[name] is not None:
            value: T = self.body[name]
            return value
        return default

    def since(self) -> float | None:
        """The `since` query parameter as epoch seconds (ISO 8601 on the wire)."""
        raw = self.params.get("since")
        if raw is None:
            return None
        # Already checked against the parameter's `format: date-time` by validation.
        parsed = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()

    def paginate(
        self,
        items: Sequence[T],
        render: Callable[[T], Any],
        *,
        wrap: Callable[[list[Any]], Any] | None = None,
        max_items: int | None = None,
    ) -> Response:
        """One page of `items` with GitHub's `per_page`/`page` semantics and RFC 5988 `Link` header."""
        if max_items is not None:
            items = items[:max_items]
        per_page = min(max(int(self.params.get("per_page") or 30), 1), MAX_PER_PAGE)
        page = max(int(self.params.get("page") or 1), 1)
        last = max(1, math.ceil(len(items) / per_page))
        chunk = [render(item) for item in items[(page - 1) * per_page : page * per_page]]
        headers = {}
        links = self._links(page, last)
        if links:
            headers["Link"] = links
        return Response(200, wrap(chunk) if wrap else chunk, headers)

    def _links(self, page: int, last: int) -> str:
        def url(number: int) -> str:
            query = {k: v[-1] for k, v in self.query.items() if k != "page"}
            query["page"] = str(number)
            return f"{self.render.api}{self.path}?{urlencode(query)}"

        parts = []
        if page > 1:
            parts.append(f'<{url(min(page - 1, last))}>; rel="prev"')
        if page < last:
            parts += [f'<{url(page + 1)}>; rel="next"', f'<{url(last)}>; rel="last"']
        if page > 1:
            parts.append(f'<{url(1)}>; rel="first"')
        return ", ".join(parts)


def require_body_length(text: str, resource: str | None = None, limit: int = 65536) -> None:
    """GitHub's body cap; `resource` selects the object error shape, None the plain-string one."""
    if len(text) <= limit:
        return
    if resource is None:
        message = f"Body is too long (maximum is {limit} characters)"
        raise ApiError(422, "Unprocessable Entity", errors=[message])
    raise ApiError(
        422,
        "Validation Failed",
        errors=[
            {
                "resource": resource,
                "code": "custom",
                "field": "body",
                "message": f"body is too long (maximum is {limit} characters)",
            },
        ],
    )
