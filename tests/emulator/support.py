"""Helpers shared by the emulator tests: PyGithub clients, raw HTTP calls, a standard PR scenario."""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import github
from github.Commit import Commit

from bot.testing.github_emulator import GitHubEmulator

REPO = "octo/app"
APP_ID = 4242
INSTALLATION_ID = 99
BASE_DOCKERFILE = """\
FROM python:3.12-slim AS build
WORKDIR /src
COPY requirements.txt .
RUN pip install -r requirements.txt
COPY . .
RUN python -m compileall .
RUN python -m pytest -q
RUN rm -rf tests
ENV PYTHONDONTWRITEBYTECODE=1
ENV PYTHONUNBUFFERED=1
LABEL org.opencontainers.image.title=app
LABEL org.opencontainers.image.source=https://github.com/octo/app

FROM python:3.12-slim
ARG VERSION=dev
ENV APP_VERSION=$VERSION
COPY --from=build /src /app
WORKDIR /app
EXPOSE 8080
USER nobody
HEALTHCHECK CMD python -c "import app"
ENTRYPOINT ["python", "/app/main.py"]
"""
# Two hunks: line 4 gains a cache mount (hunk @@ -1,7 +1,7 @@) and line 20 `USER nobody` is deleted
# (hunk @@ -17,6 +17,5 @@). Commentable RIGHT lines: 1-7 and 17-21; line 10 is outside the diff.
HEAD_DOCKERFILE = BASE_DOCKERFILE.replace(
    "RUN pip install -r requirements.txt",
    "RUN --mount=type=cache,target=/root/.cache/pip pip install -r requirements.txt",
).replace("USER nobody\n", "")


def client(emu: GitHubEmulator, token: str, **kwargs: Any) -> github.Github:
    """A PyGithub client without throttling or retries (tests assert on single requests)."""
    options: dict[str, Any] = {"seconds_between_requests": 0, "seconds_between_writes": 0, "retry": None}
    options.update(kwargs)
    return github.Github(base_url=emu.url, auth=github.Auth.Token(token), **options)


def commit(pr: Any, sha: str) -> Commit:
    """A Commit object for `create_review(commit=...)` without a GET /commits call (not in the subset)."""
    return Commit(pr.requester, {}, {"sha": sha, "url": f"{pr.base.repo.url}/commits/{sha}"}, completed=True)


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: Any


def raw(
    emu: GitHubEmulator,
    method: str,
    path: str,
    body: Any = None,
    *,
    token: str | None = None,
    headers: dict[str, str] | None = None,
    data: bytes | None = None,
    timeout: float = 5.0,
) -> RawResponse:
    """One HTTP request with the stdlib client, for what PyGithub cannot send (bad bodies, odd headers)."""
    url = urlsplit(emu.url)
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=timeout)
    all_headers = {"Accept": "application/vnd.github+json", **(headers or {})}
    if token is not None:
        all_headers["Authorization"] = f"token {token}"
    payload = data if data is not None else (json.dumps(body).encode() if body is not None else None)
    if payload is not None:
        all_headers.setdefault("Content-Type", "application/json")
    try:
        conn.request(method, path, body=payload, headers=all_headers)
        response = conn.getresponse()
        content = response.read()
        parsed: Any = content
        if response.getheader("Content-Type", "").startswith("application/json"):
            parsed = json.loads(content)
        return RawResponse(response.status, {k.lower(): v for k, v in response.getheaders()}, parsed)
    finally:
        conn.close()


@dataclass
class Scenario:
    base: str
    head: str
    token: str


def review_scenario(emu: GitHubEmulator, *, number: int = 7, author: str = "alice") -> Scenario:
    """octo/app with PR #7 changing the Dockerfile, the app installed, and an installation token."""
    base = emu.add_repo(REPO, files={"Dockerfile": BASE_DOCKERFILE, "README.md": "# app\n"})
    head = emu.add_commit(REPO, {"Dockerfile": HEAD_DOCKERFILE}, branch=f"feature-{number}")
    emu.add_pull_request(REPO, number, base, head, author=author)
    return Scenario(base, head, emu.issue_installation_token(INSTALLATION_ID))
