"""The queued task, run the way the worker runs it (dequeue, execute) with a job runner injected,
over both queue modes: transient failures come back with backoff, others end the job, outcomes are
counted; jobs for one PR are coalesced and serialised by its lease; a retry resumes."""

from __future__ import annotations

import datetime
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from github import GithubException, RateLimitExceededException

from bot.app.metrics import JOB_RETRIES, JOBS_FINISHED, REVIEW_LATENCY, MetricsStore
from bot.app.settings import AppSettings, load_settings
from bot.github.errors import (
    FileTooLargeError,
    ForbiddenError,
    GitHubError,
    GoneError,
    RateLimitError,
    UnprocessableError,
    WriteOutcomeUnknownError,
)
from bot.jobs.model import Job, JobKind, JobOutcome
from bot.jobs.queue import HueyJobQueue, open_queue
from bot.jobs.store import lease_key
from bot.jobs.tasks import (
    FOLLOW_UP_DELAY,
    FOLLOW_UP_EVENT,
    LEASE_WAIT,
    RETRIES,
    RETRY_DELAY_SECONDS,
    Attempt,
    WorkerContext,
    is_transient,
)
from tests.app.support import app_env
from tests.jobs.backends import MODES, settings_for

NOW = 1012.5  # the worker's clock
JOB = Job(
    kind=JobKind.REVIEW,
    delivery_id="d-1",
    installation_id=1,
    repository="octo/app",
    pr_number=7,
    head_sha="abc123",
    event="pull_request.opened",
    received_at=1000.0,
)


@dataclass
class Runner:
    """Fails with `errors` in turn, then returns `outcome`; records the jobs it was given."""

    errors: list[BaseException] = field(default_factory=list)
    outcome: JobOutcome = JobOutcome.REVIEWED
    jobs: list[Job] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)
    during: Callable[[], None] | None = None  # runs inside the job (the PR's lease is held)

    def __call__(self, job: Job, settings: AppSettings, attempt: Attempt) -> JobOutcome:
        self.jobs.append(job)
        self.attempts.append(attempt)
        if self.during is not None:
            self.during()
        if self.errors:
            raise self.errors.pop(0)
        return self.outcome


@dataclass
class Setup:
    huey: Any
    queue: HueyJobQueue
    metrics: MetricsStore
    runner: Runner


@pytest.fixture(params=MODES)
def setup(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Setup]:
    with settings_for(request.param, tmp_path) as settings:
        metrics = MetricsStore(tmp_path / "metrics.db")
        runner = Runner()
        queue = open_queue(settings, WorkerContext(settings, metrics, runner, clock=lambda: NOW))
        yield Setup(queue.huey, queue, metrics, runner)


def run_next(huey: Any) -> Any:
    """Execute the next due task, pending or scheduled (as the consumer would, later); returns it."""
    task = huey.dequeue() if huey.pending_count() else None  # RedisHuey's dequeue waits 1 s when empty
    if task is None:
        (task,) = huey.read_schedule(datetime.datetime(2100, 1, 1))
    huey.execute(task, timestamp=datetime.datetime(2100, 1, 1))
    return task


def test_a_job_runs_once_and_is_counted(setup: Setup) -> None:
    setup.queue.submit(JOB)
    assert setup.queue.pending_jobs() == [JOB]
    run_next(setup.huey)
    assert setup.runner.jobs == [JOB]
    assert setup.huey.pending_count() == 0 and setup.huey.scheduled_count() == 0
    assert setup.metrics.value(JOBS_FINISHED, {"kind": "review", "outcome": "reviewed"}) == 1
    assert setup.metrics.value(REVIEW_LATENCY, {"outcome": "reviewed"}, "sum") == 12.5
    assert setup.metrics.value(REVIEW_LATENCY, {"outcome": "reviewed"}, "le=30.0") == 1


def test_transient_failures_are_retried_with_backoff(setup: Setup) -> None:
    setup.runner.errors = [ConnectionError("reset"), GitHubError("GET /pulls/7: 502", 502)]
    setup.queue.submit(JOB)
    delays = []
    for _ in range(2):
        task = run_next(setup.huey)
        (scheduled,) = setup.huey.scheduled()
        delays.append(
            (scheduled.eta - datetime.datetime.now(datetime.UTC).replace(tzinfo=None)).total_seconds()
        )
        assert scheduled.id == task.id
    assert delays[0] == pytest.approx(RETRY_DELAY_SECONDS, abs=2)
    assert delays[1] == pytest.approx(2 * RETRY_DELAY_SECONDS, abs=2)
    run_next(setup.huey)
    assert len(setup.runner.jobs) == 3
    # Each retry takes over what the failed attempt started; none is the last try.
    attempts = setup.runner.attempts
    assert [(a.resume, a.final) for a in attempts] == [(False, False), (True, False), (True, False)]
    # What the earlier attempts did happened after the job was admitted.
    assert len({a.admitted_at for a in attempts}) == 1 and attempts[0].admitted_at <= time.time()
    assert setup.huey.scheduled_count() == 0
    assert setup.metrics.value(JOB_RETRIES, {"kind": "review"}) == 2
    assert setup.metrics.value(JOBS_FINISHED, {"kind": "review", "outcome": "reviewed"}) == 1


def test_a_permanent_failure_is_not_retried(setup: Setup, caplog: pytest.LogCaptureFixture) -> None:
    setup.runner.errors = [
        ForbiddenError("POST /check-runs: 403 Resource not accessible by integration", 403)
    ]
    setup.queue.submit(JOB)
    run_next(setup.huey)
    assert setup.huey.scheduled_count() == 0 and setup.huey.pending_count() == 0
    assert setup.metrics.value(JOBS_FINISHED, {"kind": "review", "outcome": "error"}) == 1
    assert setup.queue.store.in_flight() == []
    assert "job failed" in caplog.text and "Resource not accessible" in caplog.text


def test_transient_failures_stop_after_the_last_retry(setup: Setup) -> None:
    setup.runner.errors = [TimeoutError("read timeout") for _ in range(RETRIES + 1)]
    setup.queue.submit(JOB)
    for n in range(RETRIES + 1):
        run_next(setup.huey)
        entry = setup.queue.store.entry(JOB.delivery_id)
        if n < RETRIES:  # the sweeper leaves a job alone while it waits for its retry
            assert entry is not None and entry.started and entry.waiting_until > entry.active_at
    assert len(setup.runner.jobs) == RETRIES + 1
    assert [a.final for a in setup.runner.attempts] == [False] * RETRIES + [True]
    assert setup.huey.scheduled_count() == 0 and setup.huey.pending_count() == 0
    assert setup.metrics.value(JOB_RETRIES, {"kind": "review"}) == RETRIES
    assert setup.metrics.value(JOBS_FINISHED, {"kind": "review", "outcome": "error"}) == 1


def test_the_receiver_side_registration_only_enqueues(tmp_path: Path) -> None:
    queue = open_queue(load_settings(app_env(tmp_path)))
    queue.submit(JOB)
    task = queue.huey.dequeue()
    with pytest.raises(RuntimeError, match="only enqueues"):
        task.execute()


def _github(status: int, message: str = "") -> GithubException:
    return GithubException(status, {"message": message}, {})


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (ConnectionError("reset"), True),
        (TimeoutError(), True),
        (sqlite3.OperationalError("database is locked"), True),
        (requests.ConnectionError("refused"), True),
        (requests.ReadTimeout("slow"), True),
        (RateLimitExceededException(403, {"message": "API rate limit exceeded"}, {}), True),
        (_github(502), True),
        (_github(404), False),
        (_github(422, "Validation Failed"), False),
        (RateLimitError("still rate limited", 403), True),
        (WriteOutcomeUnknownError("POST /reviews: GitHub answered 502", 502), True),
        (GitHubError("GET /pulls: ConnectionError 4 times"), True),
        (GitHubError("GET /pulls: 503", 503), True),
        (GitHubError("GET /pulls: 418", 418), False),
        (GoneError("GET /pulls/7: 404", 404), False),
        (ForbiddenError("403", 403), False),
        (UnprocessableError("422", 422), False),
        (FileTooLargeError("too large"), False),
        (ValueError("a bug"), False),
        (KeyError("a bug"), False),
    ],
)
def test_which_failures_are_transient(error: BaseException, transient: bool) -> None:
    assert is_transient(error) is transient


def review(delivery: str, sha: str) -> Job:
    return Job(JobKind.REVIEW, delivery, 1, "octo/app", 7, sha, event="pull_request.synchronize")


def test_only_the_newest_of_a_prs_queued_reviews_runs(setup: Setup) -> None:
    jobs = [review(f"push-{n}", str(n) * 40) for n in range(1, 4)]
    other_pr = Job(JobKind.REVIEW, "other", 1, "octo/app", 8, "f" * 40)
    for job in [*jobs, other_pr]:
        assert setup.queue.submit(job)
    for _ in range(4):
        run_next(setup.huey)
    assert setup.runner.jobs == [jobs[-1], other_pr]
    assert setup.metrics.value(JOBS_FINISHED, {"kind": "review", "outcome": "superseded"}) == 2
    assert setup.metrics.value(JOBS_FINISHED, {"kind": "review", "outcome": "reviewed"}) == 2
    assert setup.queue.store.in_flight() == [] and setup.queue.store.newest(lease_key(JOB)) is None


def test_rechecks_are_never_coalesced(setup: Setup) -> None:
    recheck = Job(JobKind.RECHECK, "c-1", 1, "octo/app", 7, None, commenter="alice", comment_id=3)
    setup.queue.submit(recheck)
    setup.queue.submit(JOB)
    run_next(setup.huey)
    run_next(setup.huey)
    assert setup.runner.jobs == [recheck, JOB]


def test_a_busy_pr_makes_the_job_wait_without_spending_a_retry(setup: Setup) -> None:
    store = setup.queue.store
    assert store.acquire(lease_key(JOB), "another worker", 30)
    setup.queue.submit(JOB)
    run_next(setup.huey)
    assert setup.runner.jobs == []
    (waiting,) = setup.huey.scheduled()
    wait = (waiting.eta - datetime.datetime.now(datetime.UTC).replace(tzinfo=None)).total_seconds()
    assert LEASE_WAIT - 0.5 <= wait <= LEASE_WAIT * 1.5 and waiting.retries == RETRIES
    entry = store.entry(JOB.delivery_id)
    assert entry is not None and not entry.started and entry.waiting_until >= NOW + LEASE_WAIT
    store.release(lease_key(JOB), "another worker")
    run_next(setup.huey)
    assert setup.runner.jobs == [JOB]
    assert [(a.resume, a.final) for a in setup.runner.attempts] == [(False, False)]


def test_the_prs_lease_is_held_while_the_job_runs_then_released(setup: Setup) -> None:
    holders: list[str | None] = []
    setup.runner.during = lambda: holders.append(setup.queue.store.holder(lease_key(JOB)))
    setup.queue.submit(JOB)
    run_next(setup.huey)
    assert holders[0] is not None and setup.queue.store.holder(lease_key(JOB)) is None


def test_a_job_an_earlier_attempt_started_resumes_even_when_a_newer_push_is_queued(setup: Setup) -> None:
    # A job cut off mid-way (its check run in progress) still runs: the run must be completed.
    first, second = review("push-1", "1" * 40), review("push-2", "2" * 40)
    setup.queue.submit(first)
    setup.queue.store.begin(first, 1000.0)
    setup.queue.submit(second)
    run_next(setup.huey)
    run_next(setup.huey)
    assert setup.runner.jobs == [first, second]
    assert setup.runner.attempts[0].resume and not setup.runner.attempts[1].resume


def test_a_review_superseded_by_a_push_without_a_queued_job_is_followed_up(setup: Setup) -> None:
    setup.runner.outcome = JobOutcome.SUPERSEDED
    setup.queue.submit(JOB)
    run_next(setup.huey)
    (task,) = setup.huey.pending()
    # Later: the late delivery of the push that moved the head would coalesce it away.
    wait = (task.eta - datetime.datetime.now(datetime.UTC).replace(tzinfo=None)).total_seconds()
    assert FOLLOW_UP_DELAY - 2 < wait <= FOLLOW_UP_DELAY
    (follow,) = setup.queue.pending_jobs()
    assert (follow.kind, follow.pr_number, follow.head_sha, follow.event) == (
        JobKind.REVIEW,
        7,
        None,
        FOLLOW_UP_EVENT,
    )
    assert setup.queue.store.newest(lease_key(JOB)) == follow.delivery_id
    assert setup.queue.store.seen(follow.delivery_id) and follow.delivery_id != JOB.delivery_id


def test_no_follow_up_when_the_newer_pushs_job_is_queued(setup: Setup) -> None:
    newer = review("push-2", "2" * 40)
    setup.runner.outcome = JobOutcome.SUPERSEDED

    def push() -> None:
        assert setup.queue.submit(newer)

    setup.runner.during = push
    setup.queue.submit(JOB)
    run_next(setup.huey)
    assert setup.queue.pending_jobs() == [newer]


def test_a_late_delivery_coalesces_the_follow_up_away(setup: Setup) -> None:
    setup.runner.outcome = JobOutcome.SUPERSEDED
    setup.queue.submit(JOB)
    run_next(setup.huey)  # superseded, nothing newer queued yet: a follow-up is scheduled
    late = review("push-late", "9" * 40)
    setup.queue.submit(late)  # the push's own delivery, late
    setup.runner.outcome = JobOutcome.REVIEWED
    run_next(setup.huey)  # the follow-up: no longer the newest
    run_next(setup.huey)
    assert setup.runner.jobs == [JOB, late]
    assert setup.queue.store.in_flight() == []
