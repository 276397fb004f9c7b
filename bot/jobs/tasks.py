"""The one queued task: run a job, one at a time per pull request, retrying transient failures.

For each job a worker takes:

1. **Coalesce**: a REVIEW job that is no longer its PR's newest (a later push was admitted) and
   never started ends at once as `superseded`; only the newest head SHA is reviewed.
2. **Lease**: take the PR's lease (`bot.jobs.store`); when another worker holds it, the job is
   rescheduled `LEASE_WAIT` seconds later (huey's `RetryTask`, which does not spend a retry).
3. Run it (`bot.review.service.run_job` through `JobRunner`), telling it whether an earlier
   attempt started it (`Attempt.resume`: reuse that attempt's check run) and whether a retry
   follows (`Attempt.final`: if not, a transient failure leaves the check run for the retry).
4. A transient failure that escapes (GitHub 5xx or rate limit, a dropped connection, a locked
   database) is raised back to huey, which runs the job again after `retry_delay` seconds,
   doubling `RETRIES` times; anything else, or a transient failure on the last attempt, is logged
   and counted as `error`.
5. A REVIEW superseded while it ran (the PR's head moved) by a push whose own job is not queued
   is followed, `FOLLOW_UP_DELAY` seconds later, by a REVIEW of the PR's current head: that
   push's delivery may have arrived first (deliveries can arrive out of order) and been coalesced
   away. If it is merely late, it arrives within the delay and coalesces the follow-up away.

The receiver registers the same task without a `WorkerContext`: it only enqueues.
"""

from __future__ import annotations

import logging
import random
import sqlite3
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from huey.exceptions import RetryTask

from bot.app.metrics import JOB_RETRIES, JOBS_FINISHED, REVIEW_LATENCY, MetricsStore
from bot.app.settings import AppSettings
from bot.jobs.model import Job, JobKind, JobOutcome
from bot.jobs.store import CoordinationStore, LeaseKeeper, lease_key, lease_ttl, new_owner

log = logging.getLogger(__name__)

RETRIES = 5
RETRY_DELAY_SECONDS = 10.0  # the default of MOUNTIE_RETRY_DELAY
RETRY_BACKOFF = 2.0
LEASE_WAIT = 1.0  # seconds before a job whose PR is busy tries again (plus up to half of it, random)
ERROR_OUTCOME = "error"  # the metrics label of a job that raised and will not be retried
FOLLOW_UP_EVENT = "follow-up"
FOLLOW_UP_DELAY = 10.0


@dataclass(frozen=True, slots=True)
class Attempt:
    resume: bool = False  # an earlier attempt started this job: reuse what it began on GitHub
    final: bool = True  # no retry follows: a failure is reported now, not left to the retry
    admitted_at: float = 0.0  # when the job was admitted (what an earlier attempt did came later)


JobRunner = Callable[[Job, AppSettings, Attempt], JobOutcome]


@dataclass(frozen=True, slots=True)
class WorkerContext:
    """What the task needs in the worker process (`bot.jobs.runner.review_runner`, or a test's)."""

    settings: AppSettings
    metrics: MetricsStore | None
    runner: JobRunner
    clock: Callable[[], float] = time.time
    # Ids of tasks a stopping worker gave up on and put back on the queue: should their thread
    # still end, the job stays in flight for the copy on the queue (which resumes it).
    interrupted: set[str] = field(default_factory=set)


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


def execute(
    job_data: dict[str, Any],
    retries_left: int,
    context: WorkerContext,
    store: CoordinationStore,
    *,
    submit: Callable[[Job, float], bool],
    task_id: str = "",
) -> JobOutcome | None:
    """Run one job; raises only to ask huey to run it again. Returns the outcome (None: it failed)."""
    job = Job.from_dict(job_data)
    fields = {"job": job.kind.value, "delivery": job.delivery_id, "repo": job.repository, "pr": job.pr_number}
    fields["task"] = task_id
    key = lease_key(job)
    entry = store.entry(job.delivery_id)
    resume = (entry is not None and entry.started) or retries_left < RETRIES
    if not resume and _superseded(job, store):
        return _end(context, store, job, JobOutcome.SUPERSEDED, fields=fields, detail="(newer push queued)")
    ttl = lease_ttl(context.settings.sweep_interval)
    owner = new_owner()
    if not store.acquire(key, owner, ttl):
        delay = LEASE_WAIT * (1 + random.random() / 2)
        store.wait(job.delivery_id, context.clock() + delay + ttl)
        log.info("pull request busy, trying again in %.1fs", delay, extra=fields)
        raise RetryTask(delay=delay)
    with LeaseKeeper(store, key, owner, ttl):
        if not resume and _superseded(job, store):
            return _end(
                context, store, job, JobOutcome.SUPERSEDED, fields=fields, detail="(newer push queued)"
            )
        started = context.clock()
        store.begin(job, started)
        log.info("job started%s", " (resuming an earlier attempt)" if resume else "", extra=fields)
        admitted = entry.created_at if entry is not None else started
        attempt = Attempt(resume=resume, final=retries_left == 0, admitted_at=admitted)
        try:
            outcome = context.runner(job, context.settings, attempt)
        except Exception as error:
            if is_transient(error) and retries_left > 0:
                delay = context.settings.retry_delay * RETRY_BACKOFF ** (RETRIES - retries_left)
                store.wait(job.delivery_id, context.clock() + delay)
                log.warning(
                    "job failed transiently, will retry (%d left): %s", retries_left, error, extra=fields
                )
                if context.metrics is not None:
                    context.metrics.inc(JOB_RETRIES, {"kind": job.kind.value})
                raise
            log.exception("job failed", extra=fields)
            _end(context, store, job, None, fields=fields)
            return None
        if (
            outcome is JobOutcome.SUPERSEDED
            and job.kind is JobKind.REVIEW
            and store.newest(key) == job.delivery_id
        ):
            # The head moved on, and no job for the new head is queued: review the current head.
            follow = replace(job, delivery_id=_follow_up_id(job), head_sha=None, event=FOLLOW_UP_EVENT)
            submit(follow, FOLLOW_UP_DELAY)
            log.info(
                "the push that superseded this review has no job queued: %s follows",
                follow.delivery_id,
                extra=fields,
            )
        return _end(
            context, store, job, outcome, fields=fields, detail=f"in {context.clock() - started:.2f}s"
        )


def _superseded(job: Job, store: CoordinationStore) -> bool:
    if job.kind is not JobKind.REVIEW:
        return False  # rechecks and re-runs are explicit requests: each one runs
    newest = store.newest(lease_key(job))
    return newest is not None and newest != job.delivery_id


def _follow_up_id(job: Job) -> str:
    return f"{job.delivery_id[:60]}+{uuid.uuid4().hex[:12]}"


def _end(
    context: WorkerContext,
    store: CoordinationStore,
    job: Job,
    outcome: JobOutcome | None,
    *,
    fields: dict[str, Any],
    detail: str = "",
) -> JobOutcome | None:
    if fields.get("task") in context.interrupted:
        log.warning("job ended after its worker gave up on it; the copy on the queue will resume it")
        return outcome
    try:
        store.finish(job)
    except Exception as error:  # the sweeper finds the entry later and asks GitHub
        log.warning("could not drop the job from the jobs in flight: %s", error, extra=fields)
    label = outcome.value if outcome is not None else ERROR_OUTCOME
    if outcome is not None:
        log.info("job finished: %s %s", label, detail, extra=fields)
    _finished(context, job, label)
    return outcome


def _finished(context: WorkerContext, job: Job, outcome: str) -> None:
    if context.metrics is None:
        return
    context.metrics.inc(JOBS_FINISHED, {"kind": job.kind.value, "outcome": outcome})
    if job.received_at > 0:
        latency = max(0.0, context.clock() - job.received_at)
        context.metrics.observe(REVIEW_LATENCY, latency, {"outcome": outcome})


def register_tasks(
    huey: Any, store: CoordinationStore, settings: AppSettings, context: WorkerContext | None = None
) -> Any:
    """Register the task on `huey`; returns its wrapper (`wrapper.s(job_data)` is a message).

    Receivers and workers must register it with the same settings: the retry delay travels in
    each message."""

    def submit(job: Job, delay: float) -> bool:
        message = huey.serialize_task(wrapper.s(job.to_dict(), delay=delay))
        return store.admit(job, message, time.time())

    def run_job(job_data: dict[str, Any], task: Any = None) -> None:
        if context is None:
            raise RuntimeError("this process only enqueues jobs; run them with `mountie worker`")
        retries = int(task.retries) if task is not None else 0
        task_id = str(task.id) if task is not None else ""
        execute(job_data, retries, context, store, submit=submit, task_id=task_id)

    # Registered as "bot.jobs.tasks.run_job" in every process that builds the queue.
    decorate = huey.task(
        retries=RETRIES, retry_delay=settings.retry_delay, retry_backoff=RETRY_BACKOFF, context=True
    )
    wrapper = decorate(run_job)
    return wrapper
