"""The queued task, run the way the worker runs it (dequeue, execute) with a job runner injected:
transient failures come back with backoff, others end the job, outcomes are counted."""

from __future__ import annotations

import datetime
import sqlite3
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
from bot.jobs.queue import HueyJobQueue, create_huey
from bot.jobs.tasks import RETRIES, RETRY_DELAY_SECONDS, WorkerContext, is_transient, register_tasks
from tests.app.support import app_env

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

    def __call__(self, job: Job, settings: AppSettings) -> JobOutcome:
        self.jobs.append(job)
        if self.errors:
            raise self.errors.pop(0)
        return self.outcome


@dataclass
class Setup:
    huey: Any
    queue: HueyJobQueue
    metrics: MetricsStore
    runner: Runner


@pytest.fixture
def setup(tmp_path: Path) -> Setup:
    settings = load_settings(app_env(tmp_path))
    huey = create_huey(tmp_path)
    metrics = MetricsStore(tmp_path / "metrics.db")
    runner = Runner()
    task = register_tasks(huey, WorkerContext(settings, metrics, runner, clock=lambda: 1012.5))
    return Setup(huey, HueyJobQueue(huey, task), metrics, runner)


def run_next(huey: Any) -> Any:
    """Execute the next due task, pending or scheduled (as the consumer would, later); returns it."""
    task = huey.dequeue()
    if task is None:
        (task,) = huey.read_schedule(datetime.datetime(2100, 1, 1))
    huey.execute(task, timestamp=datetime.datetime(2100, 1, 1))
    return task


def test_a_job_runs_once_and_is_counted(setup: Setup) -> None:
    setup.queue.enqueue(JOB)
    assert setup.queue.pending_jobs() == [JOB]
    run_next(setup.huey)
    assert setup.runner.jobs == [JOB]
    assert setup.huey.pending_count() == 0 and setup.huey.scheduled_count() == 0
    assert setup.metrics.value(JOBS_FINISHED, {"kind": "review", "outcome": "reviewed"}) == 1
    assert setup.metrics.value(REVIEW_LATENCY, {"outcome": "reviewed"}, "sum") == 12.5
    assert setup.metrics.value(REVIEW_LATENCY, {"outcome": "reviewed"}, "le=30.0") == 1


def test_transient_failures_are_retried_with_backoff(setup: Setup) -> None:
    setup.runner.errors = [ConnectionError("reset"), GitHubError("GET /pulls/7: 502", 502)]
    setup.queue.enqueue(JOB)
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
    assert setup.huey.scheduled_count() == 0
    assert setup.metrics.value(JOB_RETRIES, {"kind": "review"}) == 2
    assert setup.metrics.value(JOBS_FINISHED, {"kind": "review", "outcome": "reviewed"}) == 1


def test_a_permanent_failure_is_not_retried(setup: Setup, caplog: pytest.LogCaptureFixture) -> None:
    setup.runner.errors = [
        ForbiddenError("POST /check-runs: 403 Resource not accessible by integration", 403)
    ]
    setup.queue.enqueue(JOB)
    run_next(setup.huey)
    assert setup.huey.scheduled_count() == 0 and setup.huey.pending_count() == 0
    assert setup.metrics.value(JOBS_FINISHED, {"kind": "review", "outcome": "error"}) == 1
    assert "job failed" in caplog.text and "Resource not accessible" in caplog.text


def test_transient_failures_stop_after_the_last_retry(setup: Setup) -> None:
    setup.runner.errors = [TimeoutError("read timeout") for _ in range(RETRIES + 1)]
    setup.queue.enqueue(JOB)
    for _ in range(RETRIES + 1):
        run_next(setup.huey)
    assert len(setup.runner.jobs) == RETRIES + 1
    assert setup.huey.scheduled_count() == 0 and setup.huey.pending_count() == 0
    assert setup.metrics.value(JOB_RETRIES, {"kind": "review"}) == RETRIES
    assert setup.metrics.value(JOBS_FINISHED, {"kind": "review", "outcome": "error"}) == 1


def test_the_receiver_side_registration_only_enqueues(tmp_path: Path) -> None:
    huey = create_huey(tmp_path)
    HueyJobQueue(huey, register_tasks(huey)).enqueue(JOB)
    task = huey.dequeue()
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
