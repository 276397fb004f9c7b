"""The one queued task: run a job (through `bot.review.service.run_job`), retrying transient failures.

A transient failure that escapes the runner (GitHub 5xx or rate limit, a dropped connection, a
locked database) is raised back to huey, which runs the job again after 10, 20, 40, 80 and 160
seconds; anything else, or a transient failure on the last attempt, is logged and counted as
`error` and not retried. (`run_job` retries single requests itself and turns GitHub's refusals
into an outcome, so this is the second line.) The receiver registers the same task without a
`WorkerContext`: it only enqueues.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.app.metrics import JOB_RETRIES, JOBS_FINISHED, REVIEW_LATENCY, MetricsStore
from bot.app.settings import AppSettings
from bot.jobs.model import Job, JobOutcome

log = logging.getLogger(__name__)

RETRIES = 5
RETRY_DELAY_SECONDS = 10.0
RETRY_BACKOFF = 2.0
ERROR_OUTCOME = "error"  # the metrics label of a job that raised and will not be retried

JobRunner = Callable[[Job, AppSettings], JobOutcome]


@dataclass(frozen=True, slots=True)
class WorkerContext:
    """What the task needs in the worker process (`bot.jobs.runner.review_runner`, or a test's)."""

    settings: AppSettings
    metrics: MetricsStore | None
    runner: JobRunner
    clock: Callable[[], float] = time.time


def is_transient(error: BaseException) -> bool:
    """Worth another attempt later: the failure is GitHub's or the network's, not the job's."""
    from bot.github import errors

    if isinstance(error, errors.RateLimitError | errors.WriteOutcomeUnknownError):
        return True  # the service looks for what a write created before sending it again
    if isinstance(error, errors.GoneError | errors.ForbiddenError | errors.UnprocessableError):
        return False
    if isinstance(error, errors.FileTooLargeError):
        return False
    if isinstance(error, errors.GitHubError):
        # No status: the connection kept failing; 5xx: GitHub's trouble. Other statuses are ours.
        return error.status is None or error.status >= 500
    if isinstance(error, ConnectionError | TimeoutError | sqlite3.OperationalError):
        return True
    module = type(error).__module__.split(".")[0]
    if module == "requests":  # PyGithub's transport: its errors subclass OSError, not ConnectionError
        return type(error).__name__ in {"ConnectionError", "Timeout", "ReadTimeout", "ConnectTimeout"}
    if module == "github":  # a PyGithub exception the facade did not translate
        status = getattr(error, "status", None)
        rate_limited = type(error).__name__ == "RateLimitExceededException"
        return rate_limited or (isinstance(status, int) and status in (429, 500, 502, 503, 504))
    return False


def execute(job_data: dict[str, Any], retries_left: int, context: WorkerContext) -> JobOutcome | None:
    """Run one job; raises only to ask huey for a retry. Returns the outcome (None: it failed)."""
    job = Job.from_dict(job_data)
    fields = {"job": job.kind.value, "delivery": job.delivery_id, "repo": job.repository, "pr": job.pr_number}
    started = context.clock()
    try:
        outcome = context.runner(job, context.settings)
    except Exception as error:
        if is_transient(error) and retries_left > 0:
            log.warning("job failed transiently, will retry (%d left): %s", retries_left, error, extra=fields)
            if context.metrics is not None:
                context.metrics.inc(JOB_RETRIES, {"kind": job.kind.value})
            raise
        log.exception("job failed", extra=fields)
        _finished(context, job, ERROR_OUTCOME)
        return None
    log.info("job finished: %s in %.2fs", outcome.value, context.clock() - started, extra=fields)
    _finished(context, job, outcome.value)
    return outcome


def _finished(context: WorkerContext, job: Job, outcome: str) -> None:
    if context.metrics is None:
        return
    context.metrics.inc(JOBS_FINISHED, {"kind": job.kind.value, "outcome": outcome})
    if job.received_at > 0:
        latency = max(0.0, context.clock() - job.received_at)
        context.metrics.observe(REVIEW_LATENCY, latency, {"outcome": outcome})


def register_tasks(huey: Any, context: WorkerContext | None = None) -> Any:
    """Register the task on `huey`; returns its wrapper (calling it enqueues a job's data)."""

    def run_job(job_data: dict[str, Any], task: Any = None) -> None:
        if context is None:
            raise RuntimeError("this process only enqueues jobs; run them with `mountie worker`")
        execute(job_data, int(task.retries) if task is not None else 0, context)

    # Registered as "bot.jobs.tasks.run_job" in every process that builds the queue.
    decorate = huey.task(
        retries=RETRIES, retry_delay=RETRY_DELAY_SECONDS, retry_backoff=RETRY_BACKOFF, context=True
    )
    return decorate(run_job)
