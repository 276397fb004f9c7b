"""What `POST /webhook` does with a delivery once its body is read, free of HTTP framework code.

Order: the signature over the raw bytes (401, nothing else looked at), then the headers and the
JSON (400), then routing. A job-worthy delivery is claimed in the ledger and enqueued in one atomic
step (`JobQueue.submit`, see `bot.jobs.store`): 202 once the job is queued; a claimed id is a
redelivery (202, nothing done); if the queue's store cannot be reached (a disk error, Redis down)
nothing is claimed and the answer is 503, so the delivery shows as failed on GitHub and can be
redelivered. Pings get 200; everything else 202.

`receive` does it all in one call. The web app splits it around the queue instead: `examine`
(signature, headers, JSON, routing: no I/O but the slug file) on its event loop, then the job
through the queue's group commit (`bot.jobs.queue.BatchedAdmission`), then `admitted`. Every
delivery is counted (`mountie_webhook_deliveries_total`) and logged on one line. Payloads are
parsed with orjson: a third of the receiver's time went to the standard library's parser.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from bot.app import signature
from bot.app.metrics import DELIVERIES, JOBS_ENQUEUED, MetricsStore
from bot.app.routing import Outcome, RoutingContext, learned_slug, route
from bot.app.slugs import SlugStore
from bot.jobs.model import Job
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
class Admission:
    """A verified delivery whose job the queue is to admit (`Receiver.examine`)."""

    job: Job
    label: str  # the event's metrics label
    reason: str


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
        step = self.examine(event, delivery, sig, body)
        if isinstance(step, Answer):
            return step
        try:
            admitted: bool | Exception = self.queue.submit(step.job)
        except Exception as error:
            admitted = error
        return self.admitted(step, admitted)

    def examine(
        self, event: str | None, delivery: str | None, sig: str | None, body: bytes
    ) -> Answer | Admission:
        """The answer (counted and logged), or the job to admit, then to pass to `admitted`."""
        if not signature.verify(self._secret, body, sig):
            reason = "missing X-Hub-Signature-256" if not sig else "X-Hub-Signature-256 does not match"
            return self._answer("unverified", Answer(401, "unauthorized", reason), delivery)
        label = event if event in KNOWN_EVENTS else "other"
        if not event or not delivery or len(delivery) > MAX_DELIVERY_ID_LENGTH:
            return self._answer(
                label, Answer(400, "bad_request", "missing X-GitHub-Event or X-GitHub-Delivery")
            )
        try:
            payload = orjson.loads(body)
        except ValueError:  # orjson.JSONDecodeError: not JSON, not UTF-8
            return self._answer(label, Answer(400, "bad_request", "the body is not JSON"), delivery)
        if not isinstance(payload, dict):
            return self._answer(label, Answer(400, "bad_request", "the body is not a JSON object"), delivery)
        step = self._dispatch(event, delivery, payload, label)
        return self._answer(label, step, delivery) if isinstance(step, Answer) else step

    def _dispatch(self, event: str, delivery: str, payload: dict[str, Any], label: str) -> Answer | Admission:
        slug = learned_slug(event, payload, self.app_id)
        if slug is not None and self.slugs.remember(slug):
            log.info("learned the App's slug: %s", slug)
        # Only comments can name the App by its slug: other events skip the slug file's stat().
        slugs = self.slugs.known() if event == "issue_comment" else frozenset[str]()
        context = RoutingContext(self.app_id, slugs)
        decision = route(event, payload, delivery, context, received_at=self._clock())
        if decision.outcome is Outcome.PONG:
            return Answer(200, "pong", "pong", {"zen": payload.get("zen", "")})
        if decision.outcome is not Outcome.ENQUEUE or decision.job is None:
            return Answer(202, decision.outcome.value, decision.reason)
        return Admission(decision.job, label, decision.reason)

    def admitted(self, admission: Admission, admitted: bool | BaseException) -> Answer:
        """The answer (counted and logged) once the queue took the job (True), found its delivery
        already claimed (False), or failed (the error: nothing was claimed)."""
        job = admission.job
        if isinstance(admitted, BaseException):
            log.error("could not enqueue the job: %s", admitted, extra={"delivery": job.delivery_id})
            answer = Answer(503, "enqueue_failed", "the job could not be queued; redeliver later")
        elif not admitted:
            answer = Answer(202, "duplicate", "delivery already received")
        else:
            self.metrics.inc(JOBS_ENQUEUED, {"kind": job.kind.value})
            answer = Answer(202, "enqueued", admission.reason, {"job": job.kind.value})
        return self._answer(admission.label, answer, job.delivery_id)

    def close(self) -> None:
        """At shutdown: write the buffered metrics."""
        self.metrics.close()

    def reject(self, status: int, outcome: str, detail: str, delivery: str | None) -> Answer:
        """A delivery refused before its body was read (too large)."""
        return self._answer("unverified", Answer(status, outcome, detail), delivery)

    def _answer(self, label: str, answer: Answer, delivery: str | None = None) -> Answer:
        self.metrics.inc(DELIVERIES, {"event": label, "outcome": answer.outcome})
        level = logging.INFO if answer.status < 400 else logging.WARNING
        extra = {"delivery": shown(delivery), "event": label}
        log.log(level, "webhook %s: %s", answer.outcome, answer.detail, extra=extra)
        return answer


def shown(delivery: str | None) -> str:
    """A delivery id as logged: the header is untrusted until verified, so no control characters."""
    return _UNSAFE.sub("?", delivery or "-")[:MAX_DELIVERY_ID_LENGTH]
