"""The receiver's decisions without HTTP, over the real SQLite queue: the enqueue-failure path
(503, delivery not claimed) and learning the App's slug from signed payloads. The HTTP behaviour
is in test_webhook_server.py; admission itself (both stores) in tests/jobs/test_store.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bot.app.metrics import DELIVERIES, JOBS_ENQUEUED, MetricsStore
from bot.app.receiver import Receiver
from bot.app.settings import load_settings
from bot.app.signature import sign
from bot.app.slugs import SlugStore
from bot.jobs.model import Job, JobKind
from bot.jobs.queue import HueyJobQueue, open_queue
from tests.app.support import APP_ID, SECRET, app_env, payload


class FailingQueue:
    """The real queue, whose store fails the next `failures` submissions as a full disk would."""

    def __init__(self, queue: HueyJobQueue) -> None:
        self.queue = queue
        self.failures = 0

    def submit(self, job: Job) -> bool:
        if self.failures:
            self.failures -= 1
            raise OSError("disk full")
        return self.queue.submit(job)

    def depth(self) -> dict[str, int]:
        return self.queue.depth()

    def ping(self) -> None:
        self.queue.ping()

    @property
    def jobs(self) -> list[Job]:
        return self.queue.pending_jobs()


def make(tmp_path: Path) -> tuple[Receiver, FailingQueue]:
    queue = FailingQueue(open_queue(load_settings(app_env(tmp_path))))
    receiver = Receiver(
        app_id=APP_ID,
        webhook_secret=SECRET,
        queue=queue,
        metrics=MetricsStore(tmp_path / "metrics.db"),
        slugs=SlugStore(tmp_path),
        clock=lambda: 1000.0,
    )
    return receiver, queue


def deliver(receiver: Receiver, event: str, delivery: str, data: dict[str, Any]) -> Any:
    body = json.dumps(data).encode()
    return receiver.receive(event, delivery, sign(SECRET, body), body)


def test_a_failed_enqueue_is_a_503_and_the_redelivery_is_accepted(tmp_path: Path) -> None:
    receiver, queue = make(tmp_path)
    queue.failures = 1
    first = deliver(receiver, "pull_request", "d-1", payload("pull_request.opened"))
    assert (first.status, first.outcome) == (503, "enqueue_failed")
    assert not queue.queue.store.seen("d-1") and queue.jobs == []
    again = deliver(receiver, "pull_request", "d-1", payload("pull_request.opened"))
    assert (again.status, again.outcome) == (202, "enqueued")
    assert [job.delivery_id for job in queue.jobs] == ["d-1"]
    assert queue.jobs[0].received_at == 1000.0
    duplicate = deliver(receiver, "pull_request", "d-1", payload("pull_request.opened"))
    assert (duplicate.status, duplicate.outcome) == (202, "duplicate") and len(queue.jobs) == 1
    metrics = receiver.metrics
    assert metrics.value(DELIVERIES, {"event": "pull_request", "outcome": "enqueue_failed"}) == 1
    assert metrics.value(DELIVERIES, {"event": "pull_request", "outcome": "enqueued"}) == 1
    assert metrics.value(DELIVERIES, {"event": "pull_request", "outcome": "duplicate"}) == 1
    assert metrics.value(JOBS_ENQUEUED, {"kind": "review"}) == 1


def test_the_slug_learned_from_our_check_run_enables_mentions(tmp_path: Path) -> None:
    receiver, queue = make(tmp_path)
    mention = payload("issue_comment.created", **{"comment.body": "@mountie-bot recheck"})
    assert deliver(receiver, "issue_comment", "c-1", mention).outcome == "ignored"
    ours = {"check_run.app.id": APP_ID, "check_run.name": "Mountie", "check_run.app.slug": "mountie-bot"}
    assert (
        deliver(receiver, "check_run", "r-1", payload("check_run.rerequested", **ours)).outcome == "enqueued"
    )
    assert receiver.slugs.known() == {"mountie-bot"}
    assert deliver(receiver, "issue_comment", "c-2", mention).outcome == "enqueued"
    assert [job.kind for job in queue.jobs] == [JobKind.RERUN, JobKind.RECHECK]


def test_unverified_deliveries_are_counted_without_their_claimed_event(tmp_path: Path) -> None:
    receiver, queue = make(tmp_path)
    answer = receiver.receive("pull_request", "d\n-1", "sha256=00", b"{}")
    assert (answer.status, answer.outcome) == (401, "unauthorized") and queue.jobs == []
    assert receiver.metrics.value(DELIVERIES, {"event": "unverified", "outcome": "unauthorized"}) == 1
