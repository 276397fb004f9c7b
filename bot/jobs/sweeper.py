"""The sweeper: puts back on the queue the jobs a dead worker took with it.

huey delivers at most once: a worker killed mid-job (SIGKILL, OOM, a lost machine) loses the job,
and the PR's `Mountie` check run stays `in_progress`. Every `MOUNTIE_SWEEP_INTERVAL` seconds, one
worker process (whichever takes the store's `sweeper` lease for that interval) looks for them.

**Which PRs to look at.** Mountie keeps no database of reviews: GitHub is the source of truth for
what was posted. But GitHub cannot say which PRs we *meant* to review, and listing check runs for
every repository of every installation would cost API calls in proportion to the installations,
not to the work. So the sweeper reads the jobs in flight that the queue's own store keeps anyway
(`bot.jobs.store`: admitted and not ended, with when they were last active), and asks GitHub
only about the few that look abandoned:

- idle for `STUCK_AFTER_INTERVALS` sweep intervals (not queued, started or retried since), not
  waiting for a scheduled retry, and no worker holds their PR's lease (a live worker renews it);
- never started: abandoned only when the queue is empty (else it is still waiting its turn), and
  still so after a short grace (`NOT_STARTED_GRACE`, at most half an interval): a worker that has
  just taken the job off the queue has not marked it started yet, and putting it back then would
  run it twice.

For each, GitHub decides, from Mountie's check runs on the job's commit for that PR:

- a run still `queued` or `in_progress`: the review was cut off: re-enqueued (its retry resumes
  that run, and the review's markers keep it from posting anything twice);
- no run at all: the job died before starting one: re-enqueued;
- a completed run started after the job was admitted: the job did finish, only its bookkeeping
  was lost: dropped.

Jobs admitted more than `GIVE_UP_AFTER` ago are dropped with a warning. What a sweep cannot
see: a check run stuck for a job this store no longer holds (a Redis flushed without
persistence); the Re-run button (`check_run.rerequested`) still recovers those.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.app.settings import AppSettings
from bot.github import GitHubClient, GitHubError, GoneError
from bot.github.types import CheckRun
from bot.jobs.model import Job
from bot.jobs.runner import request_retry_policy
from bot.jobs.store import CoordinationStore, InFlight, lease_key, new_owner

log = logging.getLogger(__name__)

LEADER_KEY = "sweeper"
STUCK_AFTER_INTERVALS = 3
GIVE_UP_AFTER = 24 * 3600.0
CLOCK_SKEW = 5.0  # seconds GitHub's clock may run behind ours when comparing start times
# Seconds to look again at a never-started job before putting it back: far longer than a worker
# takes from taking a job off the queue to marking it started (or scheduling its retry).
NOT_STARTED_GRACE = 1.0

# Mountie's check runs on the commit a job is about (for its PR); raises GoneError when the PR or
# the repository is gone, another GitHubError when GitHub cannot tell now.
CheckRuns = Callable[[Job], list[CheckRun]]


@dataclass
class SweepReport:
    leader: bool = False
    requeued: list[str] = field(default_factory=list)  # delivery ids
    dropped: list[str] = field(default_factory=list)
    asked: int = 0  # jobs GitHub was asked about


class Sweeper:
    def __init__(
        self,
        store: CoordinationStore,
        *,
        requeue: Callable[[Job], None],
        check_runs: CheckRuns,
        queue_idle: Callable[[], bool],
        interval: float,
        clock: Callable[[], float] = time.time,
        on_requeue: Callable[[str], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.store = store
        self.requeue = requeue
        self.check_runs = check_runs
        self.queue_idle = queue_idle
        self.interval = interval
        self.clock = clock
        self.on_requeue = on_requeue  # reason -> metrics
        self.sleep = sleep
        self.owner = new_owner()

    @property
    def stuck_after(self) -> float:
        return STUCK_AFTER_INTERVALS * self.interval

    def sweep(self) -> SweepReport:
        """One sweep, if this process leads this interval."""
        report = SweepReport()
        # Not released: the lease lapses by itself, so one process sweeps per interval.
        if not self.store.acquire(LEADER_KEY, self.owner, self.interval * 0.9):
            return report
        report.leader = True
        now = self.clock()
        idle: bool | None = None
        unstarted: list[InFlight] = []
        for entry in self.store.in_flight():
            job = entry.job
            if now - entry.created_at > GIVE_UP_AFTER:
                log.warning("giving up on job %s, admitted a day ago", job.delivery_id)
                self._drop(entry, report)
                continue
            if now - entry.idle_since() < self.stuck_after or self.store.holder(lease_key(job)):
                continue
            if not entry.started:
                if idle is None:
                    idle = self.queue_idle()
                if idle:
                    unstarted.append(entry)
                continue
            self._ask_github(entry, report)
        if unstarted:
            self._requeue_unstarted(unstarted, report)
        if report.requeued or report.dropped:
            log.info(
                "sweep: %d re-enqueued, %d dropped, %d looked up on GitHub",
                len(report.requeued),
                len(report.dropped),
                report.asked,
            )
        return report

    def _requeue_unstarted(self, seen: list[InFlight], report: SweepReport) -> None:
        """Put back the never-started jobs of `seen` that, after the grace, are still unchanged
        (not started, finished, re-queued or waiting) with the queue still empty."""
        self.sleep(min(NOT_STARTED_GRACE, self.interval / 2))
        if not self.queue_idle():
            return
        current = {entry.job.delivery_id: entry for entry in self.store.in_flight()}
        for entry in seen:
            now = current.get(entry.job.delivery_id)
            if now is None or now.started or now.idle_since() != entry.idle_since():
                continue  # a worker took it meanwhile (or it ended)
            self._requeue(now, "lost before it started", report)

    def _ask_github(self, entry: InFlight, report: SweepReport) -> None:
        job = entry.job
        report.asked += 1
        try:
            runs = self.check_runs(job)
        except GoneError:
            log.info("job %s: the pull request or repository is gone", job.delivery_id)
            self._drop(entry, report)
            return
        except GitHubError as error:
            log.warning("job %s: cannot read its check runs now: %s", job.delivery_id, error)
            return
        if any(run.status != "completed" for run in runs):
            self._requeue(entry, "check run left in progress", report)
            return
        since = entry.created_at - CLOCK_SKEW
        if any(run.started_at is not None and run.started_at >= since for run in runs):
            log.info("job %s finished (its check run is complete); forgetting it", job.delivery_id)
            self._drop(entry, report)
            return
        self._requeue(entry, "no check run started", report)

    def _requeue(self, entry: InFlight, reason: str, report: SweepReport) -> None:
        job = entry.job
        log.warning(
            "re-enqueueing %s %s #%s (%s): %s",
            job.kind.value,
            job.repository,
            job.pr_number,
            job.delivery_id,
            reason,
        )
        self.requeue(job)
        report.requeued.append(job.delivery_id)
        if self.on_requeue is not None:
            self.on_requeue(reason)

    def _drop(self, entry: InFlight, report: SweepReport) -> None:
        self.store.finish(entry.job)
        report.dropped.append(entry.job.delivery_id)

    def run(self, stop: threading.Event) -> None:
        """Sweep every interval until `stop` is set; a failed sweep is logged and retried next time."""
        while not stop.wait(self.interval):
            try:
                self.sweep()
            except Exception:
                log.exception("sweep failed")

    def start(self, stop: threading.Event) -> threading.Thread:
        thread = threading.Thread(target=self.run, args=(stop,), name="sweeper", daemon=True)
        thread.start()
        return thread


def github_check_runs(settings: AppSettings, check_name: str) -> CheckRuns:
    """`CheckRuns` through the GitHub API: the PR's head when the job names no commit."""

    def runs(job: Job) -> list[CheckRun]:
        client = GitHubClient(
            settings,
            job.installation_id,
            repository=job.repository,  # a token for this repository only
            throttle=settings.github_throttle,
            policy=request_retry_policy(settings),
        )
        sha = job.head_sha
        if sha is None:
            if job.pr_number is None:
                return []
            sha = client.get_pull(job.repository, job.pr_number).head_sha
        found = client.list_check_runs(job.repository, sha, check_name)
        if job.pr_number is None:
            return found
        return [run for run in found if run.external_id in (None, str(job.pr_number))]

    return runs
