"""The worker process model: graceful stops on SIGINT and SIGTERM, requeueing what a stop cuts
off, `mountie worker` as a process, and `mountie serve` supervising its worker child."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.app.metrics import JOBS_FINISHED, MetricsStore
from bot.app.settings import AppSettings, load_settings
from bot.jobs.model import Job, JobKind, JobOutcome
from bot.jobs.queue import open_queue
from bot.jobs.tasks import Attempt
from bot.jobs.worker import build_consumer
from tests.app.support import ServerProcess, app_env

JOB = Job(JobKind.REVIEW, "d-1", 1, "octo/app", 7, "abc123", event="pull_request.opened")


class SlowRunner:
    """Signals when a job starts, then takes `seconds` (or until released)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.started = threading.Event()
        self.release = threading.Event()
        self.finished = threading.Event()

    def __call__(self, job: Job, settings: AppSettings, attempt: Attempt) -> JobOutcome:
        self.started.set()
        self.release.wait(self.seconds)
        self.finished.set()
        return JobOutcome.REVIEWED


@pytest.fixture
def restore_signals() -> Iterator[None]:
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


def run_consumer_until_signal(
    tmp_path: Path, runner: SlowRunner, sig: int, shutdown_timeout: float
) -> tuple[float, int]:
    """Enqueue one job, run the consumer in this (main) thread, signal it once the job started.

    Returns how long the consumer took to stop after the signal, and how many jobs are left queued."""
    settings = load_settings(app_env(tmp_path))
    open_queue(settings).submit(JOB)
    consumer = build_consumer(settings, workers=1, shutdown_timeout=shutdown_timeout, runner=runner)
    sent = []

    def signal_when_started() -> None:
        assert runner.started.wait(10)
        sent.append(time.monotonic())
        os.kill(os.getpid(), sig)

    threading.Thread(target=signal_when_started, daemon=True).start()
    consumer.run()
    stopped_after = time.monotonic() - sent[0]
    return stopped_after, int(open_queue(settings).huey.pending_count())


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.usefixtures("restore_signals")
def test_a_signal_lets_the_running_job_finish(tmp_path: Path, sig: int) -> None:
    runner = SlowRunner(seconds=0.5)
    stopped_after, left = run_consumer_until_signal(tmp_path, runner, sig, shutdown_timeout=10)
    assert runner.finished.is_set()
    assert 0.3 < stopped_after < 5
    assert left == 0
    metrics = MetricsStore(tmp_path / "metrics.db")
    assert metrics.value(JOBS_FINISHED, {"kind": "review", "outcome": "reviewed"}) == 1


@pytest.mark.usefixtures("restore_signals")
def test_a_job_cut_off_by_the_shutdown_timeout_goes_back_on_the_queue(tmp_path: Path) -> None:
    runner = SlowRunner(seconds=30)
    try:
        stopped_after, left = run_consumer_until_signal(
            tmp_path, runner, signal.SIGTERM, shutdown_timeout=0.3
        )
    finally:
        runner.release.set()  # let the abandoned thread end
    assert stopped_after < 5
    assert left == 1
    queue = open_queue(load_settings(app_env(tmp_path)))
    (requeued,) = queue.pending_jobs()
    assert requeued == JOB
    # Put back through the store: it counts as active again, and its retry resumes it.
    entry = queue.store.entry(JOB.delivery_id)
    assert entry is not None and entry.started and entry.active_at > entry.created_at


def _wait_for(pattern: str, log: Path, timeout: float = 20) -> re.Match[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = re.search(pattern, log.read_text(encoding="utf-8", errors="replace"))
        if match:
            return match
        time.sleep(0.05)
    raise AssertionError(f"{pattern!r} not in the log:\n{log.read_text(encoding='utf-8', errors='replace')}")


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="utf-8")
    except OSError:
        return False
    return "State:\tZ" not in status


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_mountie_worker_stops_cleanly(tmp_path: Path, sig: int) -> None:
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "worker", "--workers", "1"],
            cwd=tmp_path,
            env=app_env(tmp_path / "data"),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_for(r"worker ready", log)
            process.send_signal(sig)
            assert process.wait(15) == 0
        finally:
            if process.poll() is None:
                process.kill()
    text = log.read_text(encoding="utf-8")
    assert f"Received {signal.Signals(sig).name}" in text and "worker stopped" in text
    assert "Traceback" not in text


def test_serve_supervises_its_worker(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data", "--workers", "1")
    try:
        first = int(_wait_for(r"worker started worker_pid=(\d+)", server.log_path).group(1))
        os.kill(first, signal.SIGKILL)
        _wait_for(r"the worker exited with status -9; restarting it", server.log_path)
        second = int(_wait_for(rf"worker started worker_pid=(?!{first}\b)(\d+)", server.log_path).group(1))
        _wait_for(rf"worker ready pid={second}\b", server.log_path)
        assert server.stop(signal.SIGTERM) == 0
        assert not _alive(second)
    finally:
        server.stop()
    text = server.log()
    assert "stopping the worker" in text and "worker stopped" in text and "Finished server process" in text


def test_the_worker_stops_when_serve_dies_without_stopping_it(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data", "--workers", "1")
    try:
        worker = int(_wait_for(r"worker started worker_pid=(\d+)", server.log_path).group(1))
        _wait_for(rf"worker ready pid={worker}\b", server.log_path)
        server.process.kill()
        server.process.wait()
        deadline = time.monotonic() + 15
        while _alive(worker) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(worker)
    finally:
        server.stop()
    assert "is gone; stopping" in server.log()
