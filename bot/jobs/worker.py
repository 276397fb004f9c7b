"""`mountie worker`: the huey consumer, in its own process, running jobs on N threads.

SIGINT and SIGTERM both stop it gracefully: no new job starts, running jobs get `shutdown_timeout`
seconds to finish, and a second signal stops it at once. huey delivers at most once, so a job cut
off by the timeout (or a second signal) is put back on the queue rather than lost; the review
service is idempotent per (PR, head SHA), so running it again is safe. Jobs lost to SIGKILL or a
crash are recovered by the sweeper (`bot.jobs.sweeper`), which runs on a thread of every worker
process (one of them sweeps each interval).

The queue is the data directory's SQLite file, or Redis with MOUNTIE_QUEUE_URL; then any number
of `mountie worker` processes, on any machines, share the work.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from typing import Any

from huey.consumer import Consumer
from huey.signals import SIGNAL_INTERRUPTED

from bot.app.metrics import JOBS_RECOVERED, METRICS_FILE, MetricsStore
from bot.app.settings import AppSettings
from bot.app.slugs import SlugStore
from bot.jobs.model import Job
from bot.jobs.queue import HueyJobQueue, open_queue
from bot.jobs.runner import learn_app_slug, review_runner
from bot.jobs.sweeper import Sweeper, github_check_runs
from bot.jobs.tasks import JobRunner, WorkerContext

log = logging.getLogger(__name__)

DEFAULT_WORKERS = 2
DEFAULT_SHUTDOWN_TIMEOUT = 8.0  # under Docker's 10 s between SIGTERM and SIGKILL
# An idle worker polls the SQLite queue at most this far apart (huey's default, 10 s, is a slow start).
MAX_POLL_INTERVAL = 1.0


class GracefulConsumer(Consumer):  # type: ignore[misc]  # huey is untyped
    """huey's consumer, with SIGINT graceful like SIGTERM (huey makes one of them immediate)."""

    queue: HueyJobQueue  # set by build_consumer

    def __init__(self, huey: Any, **options: Any) -> None:
        super().__init__(huey, **options)
        # huey >= 3.5 keeps its signal table here: signal -> (restart, graceful). No SIGHUP re-exec.
        self._signal_actions = {signal.SIGINT: (False, True), signal.SIGTERM: (False, True)}

    def start(self) -> None:
        """huey's start, which installs its handlers last: a signal that arrives while the threads
        start is held and handed to them, not acted on by the default handlers."""
        early: list[int] = []
        for sig in self._signal_actions:
            signal.signal(sig, lambda signum, frame: early.append(signum))
        super().start()
        if early:
            self._handle_signal(early[0], None)
        log.info("worker ready", extra={"pid": os.getpid()})


def build_consumer(
    settings: AppSettings,
    *,
    workers: int = DEFAULT_WORKERS,
    shutdown_timeout: float = DEFAULT_SHUTDOWN_TIMEOUT,
    runner: JobRunner | None = None,
) -> GracefulConsumer:
    """The consumer over the settings' queue; `runner` defaults to the review service."""
    metrics = MetricsStore(settings.data_dir / METRICS_FILE)
    context = WorkerContext(settings, metrics, runner or review_runner(metrics))
    queue = open_queue(settings, context)
    huey = queue.huey

    def requeue(signal_name: str, task: Any) -> None:
        log.warning("job interrupted by shutdown, putting it back on the queue", extra={"task": task.id})
        context.interrupted.add(str(task.id))
        try:
            # Through the store, so the job counts as active again (the sweeper leaves it alone).
            queue.store.requeue(Job.from_dict(task.args[0]), huey.serialize_task(task), time.time())
        except Exception:
            log.exception("could not put the interrupted job back; the sweeper will find it")

    huey.signal(SIGNAL_INTERRUPTED)(requeue)

    consumer = GracefulConsumer(
        huey,
        workers=workers,
        worker_type="thread",
        periodic=False,
        max_delay=MAX_POLL_INTERVAL,
        shutdown_timeout=shutdown_timeout,
    )
    consumer.queue = queue
    return consumer


def build_sweeper(settings: AppSettings, queue: HueyJobQueue, metrics: MetricsStore | None) -> Sweeper:
    from bot.review.service import CHECK_NAME

    def recovered(reason: str) -> None:
        if metrics is not None:
            metrics.inc(JOBS_RECOVERED, {"reason": reason})

    return Sweeper(
        queue.store,
        requeue=queue.requeue,
        check_runs=github_check_runs(settings, CHECK_NAME),
        queue_idle=queue.idle,
        interval=settings.sweep_interval,
        on_requeue=recovered,
    )


def run_worker(
    settings: AppSettings,
    *,
    workers: int = DEFAULT_WORKERS,
    shutdown_timeout: float = DEFAULT_SHUTDOWN_TIMEOUT,
) -> int:
    """Run the review service until SIGINT/SIGTERM; returns the exit status."""
    consumer = build_consumer(settings, workers=workers, shutdown_timeout=shutdown_timeout)
    learn_app_slug(settings, SlugStore(settings.data_dir))
    stop_sweeping = threading.Event()
    metrics = MetricsStore(settings.data_dir / METRICS_FILE)
    build_sweeper(settings, consumer.queue, metrics).start(stop_sweeping)
    mode = "redis" if settings.queue_url else "sqlite"
    log.info("worker started", extra={"workers": workers, "queue": mode, "data_dir": str(settings.data_dir)})
    try:
        consumer.run()
    finally:
        stop_sweeping.set()
    log.info("worker stopped")
    return 0
