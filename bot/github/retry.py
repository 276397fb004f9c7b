"""Retrying GitHub requests: which failures deserve another try, and how long to wait first.

PyGithub's own urllib3 retry is switched off (`retry=None` in `client.py`): by default it re-sends
POSTs on 5xx, and a write can succeed at GitHub and still be answered 5xx. Here every call states
whether it is idempotent:

- 5xx, timeouts, dropped connections: an idempotent call is sent again after an exponential
  backoff (bounded); a write raises `WriteOutcomeUnknownError`, and its caller looks for what the write
  would have created before sending it again. A connection that was never opened is safe to retry.
- 403/429 rate limits: GitHub applied nothing, so any call waits and is sent again: `Retry-After`
  when given, else until `x-ratelimit-reset` when the hourly budget is spent, else (a secondary
  limit without `Retry-After`) the configured wait, doubling on each repeat, as GitHub asks.
- 401: the installation token expired or was revoked early: refreshed once, then sent again.
- anything else: translated into the exceptions of `bot.github.errors`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import requests
from github import GithubException
from github.Requester import Requester
from urllib3.exceptions import NewConnectionError

from bot.github.errors import (
    ForbiddenError,
    GitHubError,
    GoneError,
    RateLimitError,
    UnprocessableError,
    WriteOutcomeUnknownError,
)

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 4  # tries of an idempotent call failing with 5xx or a lost connection
    backoff: float = 1.0  # seconds before the second try; doubles for each further try
    max_backoff: float = 16.0
    rate_limit_waits: int = 4  # rate-limit waits per call before giving up
    max_rate_limit_wait: float = 900.0  # a longer required wait gives up at once (the job fails)
    secondary_wait: float = 60.0  # secondary limit without Retry-After (AppSettings sets it)


@dataclass(frozen=True, slots=True)
class RateLimit:
    wait: float
    escalate: bool  # a guessed wait (no Retry-After, no reset time): double it on each repeat


def rate_limit(
    status: int, headers: Mapping[str, str], message: str, now: float, secondary_wait: float
) -> RateLimit | None:
    """How long GitHub asks us to wait, when a 403/429 is a rate limit (None: it is not one).

    `headers` have lower-case names."""
    if status not in (403, 429):
        return None
    retry_after = headers.get("retry-after", "").strip()
    if retry_after.isdigit():
        return RateLimit(float(retry_after), escalate=False)
    reset = headers.get("x-ratelimit-reset", "").strip()
    if headers.get("x-ratelimit-remaining", "").strip() == "0" and reset.isdigit():
        # Plus one second: the reset happens somewhere within that second.
        return RateLimit(max(0.0, int(reset) - now) + 1.0, escalate=False)
    if status == 429 or Requester.isRateLimitError(message):
        return RateLimit(secondary_wait, escalate=True)
    return None


def error_message(exc: GithubException) -> str:
    data = exc.data
    if isinstance(data, Mapping) and isinstance(data.get("message"), str):
        return str(data["message"])
    return str(data) if data else ""


def error_details(exc: GithubException) -> tuple[str, ...]:
    """The `errors` GitHub lists with a 422 (strings, or objects with a message or code)."""
    data = exc.data
    errors: Any = data.get("errors") if isinstance(data, Mapping) else None
    if not isinstance(errors, list):
        return ()
    details: list[str] = []
    for item in errors:
        if isinstance(item, Mapping):
            details.append(str(item.get("message") or item.get("code") or item))
        else:
            details.append(str(item))
    return tuple(details)


def translate(exc: GithubException, what: str) -> GitHubError:
    details = error_details(exc)
    text = f"{what}: {exc.status} {error_message(exc)}".rstrip()
    if details:
        text += f" ({'; '.join(details)})"
    kind = {404: GoneError, 403: ForbiddenError, 422: UnprocessableError}.get(exc.status, GitHubError)
    return kind(text, exc.status, details)


def _never_sent(exc: requests.RequestException) -> bool:
    """True when the connection was never opened, so not even a write can have reached GitHub."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, NewConnectionError)


class Retrier:
    def __init__(
        self, policy: RetryPolicy, *, sleep: Callable[[float], None], clock: Callable[[], float]
    ) -> None:
        self.policy = policy
        self._sleep = sleep
        self._clock = clock

    def call(
        self,
        attempt: Callable[[], T],
        *,
        what: str,
        idempotent: bool,
        refresh: Callable[[], None] | None = None,
    ) -> T:
        """Run `attempt` (one HTTP request) until it succeeds or the policy gives up."""
        failures = limits = 0
        refreshed = False
        while True:
            try:
                return attempt()
            except GithubException as exc:
                if exc.status == 401 and refresh is not None and not refreshed:
                    log.info("%s: 401, refreshing the installation token", what)
                    refreshed = True
                    refresh()
                    continue
                headers = {str(k).lower(): str(v) for k, v in (exc.headers or {}).items()}
                limit = rate_limit(
                    exc.status, headers, error_message(exc), self._clock(), self.policy.secondary_wait
                )
                if limit is not None:
                    limits += 1
                    wait = limit.wait * (2 ** (limits - 1) if limit.escalate else 1)
                    if limits > self.policy.rate_limit_waits or wait > self.policy.max_rate_limit_wait:
                        raise RateLimitError(
                            f"{what}: still rate limited (next wait {wait:.0f} s)", exc.status
                        ) from exc
                    log.warning("%s: rate limited (%s), waiting %.1f s", what, exc.status, wait)
                    self._sleep(wait)
                    continue
                if exc.status < 500:
                    raise translate(exc, what) from exc
                if not idempotent:
                    raise WriteOutcomeUnknownError(
                        f"{what}: GitHub answered {exc.status}", exc.status
                    ) from exc
                failures += 1
                if failures >= self.policy.attempts:
                    raise translate(exc, what) from exc
                self._backoff(what, failures, f"{exc.status}")
            except requests.RequestException as exc:
                if not idempotent and not _never_sent(exc):
                    raise WriteOutcomeUnknownError(f"{what}: {type(exc).__name__}") from exc
                failures += 1
                if failures >= self.policy.attempts:
                    raise GitHubError(f"{what}: {type(exc).__name__} {failures} times") from exc
                self._backoff(what, failures, type(exc).__name__)

    def _backoff(self, what: str, failures: int, reason: str) -> None:
        wait = min(self.policy.max_backoff, self.policy.backoff * 2 ** (failures - 1))
        log.warning("%s: %s, try %d in %.1f s", what, reason, failures + 1, wait)
        self._sleep(wait)
