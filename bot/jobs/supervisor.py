"""Keeps one `mountie worker` child process running beside the receiver (`mountie serve`).

The child is started in its own process group, so a terminal's Ctrl-C reaches only the parent,
which then stops the child with exactly one SIGTERM (a second signal would cut the child's
graceful shutdown short). A child that exits on its own is restarted after a delay that doubles
up to 30 s, and resets once a child has run for a minute. The child watches its parent
(`PARENT_ENV`) and stops itself if the parent dies without stopping it.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence

log = logging.getLogger(__name__)

PARENT_ENV = "MOUNTIE_SUPERVISOR_PID"
FIRST_RESTART_DELAY = 1.0
MAX_RESTART_DELAY = 30.0
STABLE_AFTER_SECONDS = 60.0


class WorkerSupervisor:
    def __init__(self, command: Sequence[str], env: Mapping[str, str], stop_timeout: float) -> None:
        self.command = list(command)
        self.env = {**env, PARENT_ENV: str(os.getpid())}
        self.stop_timeout = stop_timeout
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._thread: threading.Thread | None = None
        self.restarts = 0

    @property
    def pid(self) -> int | None:
        with self._lock:
            return self._process.pid if self._process is not None else None

    def start(self) -> None:
        if self._thread is None:
            self._spawn()
            self._thread = threading.Thread(target=self._watch, name="worker-supervisor", daemon=True)
            self._thread.start()

    def request_stop(self) -> None:
        """Start stopping the child now (SIGTERM) without waiting; `stop` waits."""
        with self._lock:
            if self._stopping.is_set():
                return
            self._stopping.set()
            if self._process is not None and self._process.poll() is None:
                log.info("stopping the worker", extra={"worker_pid": self._process.pid})
                self._process.send_signal(signal.SIGTERM)

    def stop(self) -> int | None:
        """Stop the child (SIGTERM, then SIGKILL after `stop_timeout`); returns its exit status."""
        self.request_stop()
        with self._lock:
            process = self._process
        if process is None:
            return None
        try:
            return process.wait(self.stop_timeout)
        except subprocess.TimeoutExpired:
            log.warning("the worker did not stop in %.0fs; killing it", self.stop_timeout)
            process.kill()
            return process.wait()
        finally:
            if self._thread is not None:
                self._thread.join(timeout=1.0)

    def _spawn(self) -> None:
        with self._lock:
            if self._stopping.is_set():
                return
            # process_group=0: a new group, so terminal signals go to the parent only.
            self._process = subprocess.Popen(self.command, env=self.env, process_group=0)
            log.info("worker started", extra={"worker_pid": self._process.pid})

    def _watch(self) -> None:
        delay = FIRST_RESTART_DELAY
        while True:
            with self._lock:
                process = self._process
            assert process is not None
            started = time.monotonic()
            status = process.wait()
            if self._stopping.is_set():
                return
            if time.monotonic() - started >= STABLE_AFTER_SECONDS:
                delay = FIRST_RESTART_DELAY
            log.error("the worker exited with status %s; restarting it in %.0fs", status, delay)
            if self._stopping.wait(delay):
                return
            self.restarts += 1
            self._spawn()
            delay = min(delay * 2, MAX_RESTART_DELAY)


def watch_parent(expected: int, interval: float = 1.0) -> threading.Thread:
    """In the child: SIGTERM ourselves (a graceful stop) once the supervising parent is gone."""

    def watch() -> None:
        while os.getppid() == expected:
            time.sleep(interval)
        log.warning("the supervising process %d is gone; stopping", expected)
        os.kill(os.getpid(), signal.SIGTERM)

    thread = threading.Thread(target=watch, name="parent-watch", daemon=True)
    thread.start()
    return thread
