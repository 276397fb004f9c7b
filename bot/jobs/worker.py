"""`mountie worker`: the huey consumer, in its own process, running jobs on N threads.

SIGINT and SIGTERM both stop it gracefully: no new job starts, running jobs get `shutdown_timeout`
seconds to finish, and a second signal stops it at once. huey delivers at most once, so a job cut
off by the timeout (or a second signal) is put back on the queue rather than lost; the review
service is idempotent per (PR, head SHA), so running it again is safe. Jobs lost to SIGKILL or a
crash are not recovered here (a check run stays `in_progress` and can be re-run from GitHub).
"""

from __future__ import annotations

import logging
import os
import signal
from typing import Any

from huey.consumer import Consumer
from huey.signals import SIGNAL_INTERRUPTED

from bot.app.metrics import METRICS_FILE, MetricsStore
from bot.app.settings import AppSettings
from bot.app.slugs import SlugStore
from bot.jobs.queue import create_huey
from bot.jobs.runner import learn_app_slug, review_runner
from bot.jobs.tasks import JobRunner, WorkerContext, register_tasks

log = logging.getLogger(__name__)

DEFAULT_WORKERS = 2
DEFAULT_SHUTDOWN_TIMEOUT = 8.0  # under Docker's 10 s between SIGTERM and SIGKILL
# An idle worker polls the SQLite queue at most this far apart (huey's default, 10 s, is a slow start).
MAX_POLL_INTERVAL = 1.0


class GracefulConsumer(Consumer):  # type: ignore[misc]  # huey is untyped
    """huey's consumer, with SIGINT graceful like SIGTERM (huey makes one of them immediate)."""

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
    """The consumer over the data directory's queue; `runner` defaults to the review service."""
    huey = create_huey(settings.data_dir)
    metrics = MetricsStore(settings.data_dir / METRICS_FILE)
    register_tasks(huey, WorkerContext(settings, metrics, runner or review_runner(metrics)))

    def requeue(signal_name: str, task: Any) -> None:
        log.warning("job interrupted by shutdown, putting it back on the queue", extra={"task": task.id})
        huey.enqueue(task)

    huey.signal(SIGNAL_INTERRUPTED)(requeue)

    return GracefulConsumer(
        huey,
        workers=workers,
        worker_type="thread",
        periodic=False,
        max_delay=MAX_POLL_INTERVAL,
        shutdown_timeout=shutdown_timeout,
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
    log.info("worker started", extra={"workers": workers, "data_dir": str(settings.data_dir)})
    consumer.run()
    log.info("worker stopped")
    return 0
