"""What `POST /webhook` does with a delivery once its body is read, free of HTTP framework code.

Order: the signature over the raw bytes (401, nothing else looked at), then the headers and the
JSON (400), then routing. A job-worthy delivery is claimed in the ledger and enqueued in one atomic
step (`JobQueue.submit`, see `bot.jobs.store`): 202 once the job is queued; a claimed id is a
redelivery (202, nothing done); if the queue's store cannot be reached (a disk error, Redis down)
nothing is claimed and the answer is 503, so the delivery shows as failed on GitHub and can be
redelivered. Pings get 200; everything else 202.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.app import signature
from bot.app.metrics import DELIVERIES, JOBS_ENQUEUED, MetricsStore
from bot.app.routing import Outcome, RoutingContext, learned_slug, route
from bot.app.slugs import SlugStore
from bot.jobs.queue import JobQueue

log = logging.getLogger(__name__)

# Event names that may appear as a metrics label; anything else is counted as "other".
KNOWN_EVENTS = frozenset(
    {
        "ping",
        "pull_request",
        "issue_comment",
        "check_run",
        "check_suite",
        "installation",
        "installation_repositories",
        "pull_request_review",
        "pull_request_review_comment",
        "push",
    }
)
MAX_DELIVERY_ID_LENGTH = 100
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    outcome: str  # also the metrics label
    detail: str
    body: dict[str, Any] = field(default_factory=dict)


class Receiver:
    def __init__(
        self,
        *,
        app_id: int,
        webhook_secret: str,
        queue: JobQueue,
        metrics: MetricsStore,
        slugs: SlugStore,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.app_id = app_id
        self._secret = webhook_secret
        self.queue = queue
        self.metrics = metrics
        self.slugs = slugs
        self._clock = clock

    def receive(self, event: str | None, delivery: str | None, sig: str | None, body: bytes) -> Answer:
        if not signature.verify(self._secret, body, sig):
            reason = "missing X-Hub-Signature-256" if not sig else "X-Hub-Signature-256 does not match"
            return self._answer("unverified", Answer(401, "unauthorized", reason), delivery)
        label = event if event in KNOWN_EVENTS else "other"
        if not event or not delivery or len(delivery) > MAX_DELIVERY_ID_LENGTH:
            return self._answer(
                label, Answer(400, "bad_request", "missing X-GitHub-Event or X-GitHub-Delivery")
            )
        try:
            payload = json.loads(body)
        except (UnicodeDecodeError, ValueError):
            return self._answer(label, Answer(400, "bad_request", "the body is not JSON"), delivery)
        if not isinstance(payload, dict):
            return self._answer(label, Answer(400, "bad_request", "the body is not a JSON object"), delivery)
        return self._answer(label, self._dispatch(event, delivery, payload), delivery)

    def _dispatch(self, event: str, delivery: str, payload: dict[str, Any]) -> Answer:
        slug = learned_slug(event, payload, self.app_id)
        if slug is not None and self.slugs.remember(slug):
            log.info("learned the App's slug: %s", slug)
        context = RoutingContext(self.app_id, self.slugs.known())
        decision = route(event, payload, delivery, context, received_at=self._clock())
        if decision.outcome is Outcome.PONG:
            return Answer(200, "pong", "pong", {"zen": payload.get("zen", "")})
        if decision.outcome is not Outcome.ENQUEUE or decision.job is None:
            return Answer(202, decision.outcome.value, decision.reason)
        job = decision.job
        try:
            admitted = self.queue.submit(job)
        except Exception as error:
            log.error("could not enqueue the job: %s", error, extra={"delivery": delivery})
            return Answer(503, "enqueue_failed", "the job could not be queued; redeliver later")
        if not admitted:
            return Answer(202, "duplicate", "delivery already received")
        self.metrics.inc(JOBS_ENQUEUED, {"kind": job.kind.value})
        return Answer(202, "enqueued", decision.reason, {"job": job.kind.value})

    def reject(self, status: int, outcome: str, detail: str, delivery: str | None) -> Answer:
        """A delivery refused before its body was read (too large)."""
        return self._answer("unverified", Answer(status, outcome, detail), delivery)

    def _answer(self, label: str, answer: Answer, delivery: str | None = None) -> Answer:
        self.metrics.inc(DELIVERIES, {"event": label, "outcome": answer.outcome})
        level = logging.INFO if answer.status < 400 else logging.WARNING
        # The header is untrusted until verified: no control characters into the log.
        shown = _UNSAFE.sub("?", delivery or "-")[:MAX_DELIVERY_ID_LENGTH]
        extra = {"delivery": shown, "event": label}
        log.log(level, "webhook %s: %s", answer.outcome, answer.detail, extra=extra)
        return answer
