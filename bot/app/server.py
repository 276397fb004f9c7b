"""`mountie serve`: uvicorn running the receiver, plus (by default) one supervised worker process.

The worker is a separate process, not a thread of the server: huey's consumer installs its own
signal handlers and a review's CPU and API waits must not slow the webhook answers. The worker
starts once the server listens, and is stopped (SIGTERM, up to its shutdown timeout plus a
margin, then SIGKILL) when the server stops; the server stops on SIGINT or SIGTERM.
"""

from __future__ import annotations

import gc
import logging
import os
import signal
import socket
import sys
from types import FrameType

import uvicorn
from fastapi import FastAPI

from bot.app.settings import AppSettings
from bot.app.webapp import build_receiver, create_app
from bot.jobs.supervisor import WorkerSupervisor

log = logging.getLogger(__name__)

STOP_MARGIN_SECONDS = 5.0


class _Server(uvicorn.Server):
    """Starts the worker once listening, and begins stopping it as soon as the server stops."""

    def __init__(self, config: uvicorn.Config, supervisor: WorkerSupervisor | None) -> None:
        super().__init__(config)
        self.supervisor = supervisor

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started and self.supervisor is not None:
            self.supervisor.start()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        # Here, not in the signal handler: a handler that takes locks or logs can deadlock when a
        # second signal interrupts it. The worker drains while uvicorn closes its connections.
        if self.supervisor is not None:
            self.supervisor.request_stop()
        await super().shutdown(sockets=sockets)


def uvicorn_config(app: FastAPI, *, host: str, port: int) -> uvicorn.Config:
    """uvicorn's settings for the receiver (bench/receiver.py serves its floor with them too)."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,  # our handler (and redaction) on the root logger
        access_log=False,  # the receiver logs each delivery itself
        server_header=False,
        lifespan="off",
    )


def worker_command(workers: int, shutdown_timeout: float, env_file: str | None) -> list[str]:
    command = [sys.executable, "-m", "bot", "worker", "--workers", str(workers)]
    command += ["--shutdown-timeout", str(shutdown_timeout)]
    return command + (["--env-file", env_file] if env_file else [])


def serve(
    settings: AppSettings,
    *,
    host: str,
    port: int,
    worker: bool = True,
    workers: int = 2,
    shutdown_timeout: float = 8.0,
    env_file: str | None = None,
) -> int:
    """Run until SIGINT/SIGTERM; returns the exit status (1 when the server could not start)."""
    supervisor = None
    if worker:
        # The child reads the same settings; the data directory is passed resolved, as the parent uses it.
        env = {**os.environ, "MOUNTIE_DATA_DIR": str(settings.data_dir)}
        supervisor = WorkerSupervisor(
            worker_command(workers, shutdown_timeout, env_file), env, shutdown_timeout + STOP_MARGIN_SECONDS
        )
    receiver = build_receiver(settings)
    server = _Server(uvicorn_config(create_app(settings, receiver), host=host, port=port), supervisor)
    # uvicorn re-raises the signal it stopped on once it has restored the previous handlers; with
    # these in place that is harmless, and the worker is stopped below instead of orphaned.
    previous = {sig: signal.signal(sig, _ignore) for sig in (signal.SIGINT, signal.SIGTERM)}
    # Start-up objects (modules, the app) never become garbage: out of the collector's way, so a
    # full collection scans only what requests leave behind (it took 40-50 ms: the p99 latency).
    gc.freeze()
    try:
        server.run()
    except SystemExit as stop:  # uvicorn exits when it cannot bind
        return stop.code if isinstance(stop.code, int) else 1
    finally:
        receiver.close()  # the buffered metrics
        if supervisor is not None:
            supervisor.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0 if server.started else 1


def _ignore(sig: int, frame: FrameType | None) -> None:
    """Placeholder handler while uvicorn owns the signals."""
