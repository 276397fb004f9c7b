"""Fault injection (errors, lost responses, delays, dropped connections) and rate limiting.

Random failures use their own seeded RNG so a fault test replays identically.
"""

from __future__ import annotations

import math
import random
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from bot.testing.github_emulator.clock import Clock
from bot.testing.github_emulator.errors import ApiError

WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})
RATE_LIMIT_DOCS = "https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api"
SECONDARY_DOCS = RATE_LIMIT_DOCS + "#about-secondary-rate-limits"
SECONDARY_MESSAGE = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. "
    "If you reach out to GitHub Support for help, please include the request ID {request_id}."
)
SECONDARY_CONTENT_MESSAGE = (
    "You have exceeded a secondary rate limit and have been temporarily blocked from content creation. "
    "Please retry your request again later."
)

Action = Literal["fail", "drop", "delay"]
Phase = Literal["before", "after"]


@dataclass
class Fault:
    action: Action
    remaining: int
    status: int = 502
    seconds: float = 0.0
    # True: let the write happen, then fail/drop/delay the answer ("write succeeded, response lost").
    # Such faults only match writes (POST/PATCH/PUT/DELETE).
    after_write: bool = False
    operation: str | None = None  # operationId filter, e.g. "pulls/create-review"; None = any request

    def matches(self, phase: Phase, operation_id: str | None, method: str) -> bool:
        if self.remaining <= 0 or (phase == "after") != self.after_write:
            return False
        if self.after_write and method not in WRITE_METHODS:
            return False
        return self.operation is None or self.operation == operation_id


@dataclass(frozen=True)
class Outcome:
    delay: float = 0.0
    terminal: Fault | None = None  # a fail/drop to apply after the delay


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: list[Fault] = []
        self._rate = 0.0
        self._rate_statuses: tuple[int, ...] = (502,)
        self._rate_after_write = False
        self._rng = random.Random(0)

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._queue.append(fault)

    def set_failure_rate(
        self, rate: float, statuses: Sequence[int], seed: int | None, after_write: bool
    ) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError("rate must be within [0, 1]")
        with self._lock:
            self._rate, self._rate_statuses = rate, tuple(statuses)
            self._rate_after_write = after_write
            self._rng = random.Random(seed)

    def clear(self) -> None:
        with self._lock:
            self._queue.clear()
            self._rate = 0.0

    def plan(self, phase: Phase, operation_id: str | None, method: str) -> Outcome:
        delay = 0.0
        with self._lock:
            for fault in self._queue:
                if not fault.matches(phase, operation_id, method):
                    continue
                fault.remaining -= 1
                if fault.action == "delay":
                    delay += fault.seconds
                    continue
                return Outcome(delay, fault)
            random_phase: Phase = "after" if self._rate_after_write else "before"
            if (
                self._rate > 0
                and phase == random_phase
                and (phase == "before" or method in WRITE_METHODS)
                and self._rng.random() < self._rate
            ):
                status = self._rng.choice(self._rate_statuses)
                return Outcome(delay, Fault("fail", 0, status=status))
            self._queue = [f for f in self._queue if f.remaining > 0]
        return Outcome(delay)


@dataclass
class _Bucket:
    reset_at: float
    used: int = 0


class RateLimits:
    """Primary limits (per installation/user, hourly window) and an on-demand secondary limit."""

    def __init__(self, clock: Clock, limit: int = 5000, window: float = 3600.0) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self.limit = limit
        self.window = window
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self._secondary_until: float | None = None
        self._secondary_writes_only = False
        self._preset_used: int | None = None  # budget already spent in each fresh bucket

    def set_limit(self, limit: int, *, remaining: int | None = None) -> None:
        """Change the hourly limit; `remaining` pre-spends every current and future bucket's budget."""
        with self._lock:
            self.limit = limit
            self._buckets.clear()
            self._preset_used = None if remaining is None else max(0, limit - remaining)

    def hit(self, key: str, resource: str, description: str) -> dict[str, str]:
        """Count one request; return the x-ratelimit-* headers or raise the 403 GitHub sends at zero."""
        now = self._clock.now()
        with self._lock:
            bucket = self._buckets.get((key, resource))
            if bucket is None or bucket.reset_at <= now:
                bucket = _Bucket(reset_at=now + self.window, used=self._preset_used or 0)
                self._buckets[(key, resource)] = bucket
            exhausted = bucket.used >= self.limit
            if not exhausted:
                bucket.used += 1
            headers = {
                "x-ratelimit-limit": str(self.limit),
                "x-ratelimit-remaining": str(max(0, self.limit - bucket.used)),
                "x-ratelimit-used": str(bucket.used),
                "x-ratelimit-reset": str(math.ceil(bucket.reset_at)),
                "x-ratelimit-resource": resource,
            }
        if exhausted:
            raise ApiError(
                403,
                f"API rate limit exceeded for {description}.",
                headers=headers,
                documentation_url=RATE_LIMIT_DOCS,
            )
        return headers

    def snapshot(self, key: str, resource: str) -> tuple[int, int, int]:
        """(limit, used, reset) for `GET /rate_limit`, which does not itself count."""
        now = self._clock.now()
        with self._lock:
            bucket = self._buckets.get((key, resource))
            if bucket is None or bucket.reset_at <= now:
                return self.limit, self._preset_used or 0, math.ceil(now + self.window)
            return self.limit, bucket.used, math.ceil(bucket.reset_at)

    def trigger_secondary(self, seconds: float, *, writes_only: bool) -> None:
        with self._lock:
            self._secondary_until = self._clock.now() + seconds
            self._secondary_writes_only = writes_only

    def check_secondary(self, method: str, request_id: str) -> None:
        with self._lock:
            until, writes_only = self._secondary_until, self._secondary_writes_only
        now = self._clock.now()
        if until is None or now >= until or (writes_only and method not in WRITE_METHODS):
            return
        message = (
            SECONDARY_CONTENT_MESSAGE if writes_only else SECONDARY_MESSAGE.format(request_id=request_id)
        )
        raise ApiError(
            403,
            message,
            headers={"Retry-After": str(max(1, math.ceil(until - now)))},
            documentation_url=SECONDARY_DOCS,
        )
