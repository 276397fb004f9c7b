"""Real Mountie processes around an in-process GitHub emulator, in either queue mode:

- `sqlite`: one `mountie serve` (the receiver and its supervised worker child), as on one machine;
- `redis`: one `mountie serve --no-worker` and N `mountie worker` processes, each with a data
  directory of its own (as on separate machines), sharing a Redis key prefix of their own.

Helpers open pull requests in the emulator and deliver signed webhooks for them.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, TypeVar

import httpx

from bot.testing.github_emulator import GitHubEmulator
from tests.app.support import (
    APP_ID,
    ROOT,
    LoggedProcess,
    ServerProcess,
    app_env,
    headers,
    payload,
    private_key_pem,
)
from tests.jobs.backends import queue_env, redis_prefix

T = TypeVar("T")
INSTALLATION_ID = 77
MOTIVATING = (ROOT / "tests" / "data" / "motivating.Dockerfile").read_text(encoding="utf-8")
SWEEP_INTERVAL = 0.5
RETRY_DELAY = 0.5


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = 40.0, every: float = 0.1) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def new_emulator() -> GitHubEmulator:
    emu = GitHubEmulator(strict_responses=True)
    emu.start()
    emu.add_app(APP_ID, "mountie-bot", private_key_pem())
    emu.add_installation(INSTALLATION_ID, APP_ID, "octo")
    return emu


class WorkerProcess(LoggedProcess):
    """`python -m bot worker` with its own data directory and log file, stopped by its pid."""

    def __init__(self, data_dir: Path, env: Mapping[str, str], threads: int) -> None:
        self.data_dir = data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = data_dir.parent / f"{data_dir.name}.log"
        self._log = self.log_path.open("wb")
        command = [
            sys.executable,
            "-m",
            "bot",
            "worker",
            "--workers",
            str(threads),
            "--shutdown-timeout",
            "2",
        ]
        self.process = subprocess.Popen(
            command, cwd=data_dir.parent, env=dict(env), stdout=self._log, stderr=subprocess.STDOUT
        )

    @property
    def pid(self) -> int:
        return self.process.pid


class Cluster:
    def __init__(
        self,
        mode: str,
        root: Path,
        emu: GitHubEmulator,
        *,
        workers: int,
        threads: int,
        prefix: str,
        worker: bool = True,
        **env: str,
    ) -> None:
        self.mode, self.root, self.emu = mode, root, emu
        self.threads = threads
        self.env_overrides = {
            "GITHUB_API_URL": emu.url,
            "MOUNTIE_SWEEP_INTERVAL": str(SWEEP_INTERVAL),
            "MOUNTIE_RETRY_DELAY": str(RETRY_DELAY),
            # No pacing between a job's requests: seconds of waiting per job, and not what is tested.
            "MOUNTIE_GITHUB_THROTTLE": "off",
            **queue_env(mode, prefix),
            **env,
        }
        self.workers: list[WorkerProcess] = []
        self._http = httpx.Client(timeout=30)
        self.receiver = self.start_receiver(worker=worker and mode == "sqlite")
        for _ in range(workers if mode == "redis" and worker else 0):
            self.add_worker()

    def env(self, data_dir: Path) -> dict[str, str]:
        return app_env(data_dir, **self.env_overrides)

    def start_receiver(self, *, worker: bool) -> ServerProcess:
        """`mountie serve`, with its supervised worker or `--no-worker`."""
        data_dir = self.root / "receiver"
        args = ["--workers", str(self.threads), "--shutdown-timeout", "2"]
        if not worker:
            args.append("--no-worker")
        self.receiver = ServerProcess(data_dir, *args, env=self.env(data_dir))
        return self.receiver

    def add_worker(self) -> WorkerProcess:
        data_dir = self.root / f"worker{len(self.workers) + 1}"
        worker = WorkerProcess(data_dir, self.env(data_dir), self.threads)
        self.workers.append(worker)
        return worker

    def logs(self) -> str:
        return "\n".join([self.receiver.log(), *(w.log() for w in self.workers)])

    def worker_running(self, delivery: str) -> int:
        """The pid of the worker process that started the job of `delivery`."""
        pattern = re.compile(rf"job started.*delivery={re.escape(delivery)}")
        if self.mode == "sqlite":
            text = self.receiver.log()
            assert pattern.search(text), f"the job of {delivery} did not start:\n{text}"
            return int(re.findall(r"worker started worker_pid=(\d+)", text)[-1])
        for worker in self.workers:
            if pattern.search(worker.log()):
                return worker.pid
        raise AssertionError(f"no worker started the job of {delivery}:\n{self.logs()}")

    def post(self, event: str, delivery: str, body: dict[str, Any]) -> httpx.Response:
        """A signed delivery over one kept-alive connection, as GitHub's deliveries come."""
        raw = json.dumps(body).encode()
        return self._http.post(
            f"{self.receiver.url}/webhook", content=raw, headers=headers(event, delivery, raw)
        )

    def stop(self) -> None:
        self._http.close()
        for worker in self.workers:
            worker.stop()
        self.receiver.stop()


@contextmanager
def cluster(
    mode: str,
    root: Path,
    emu: GitHubEmulator,
    *,
    workers: int = 1,
    threads: int = 2,
    worker: bool = True,
    **env: str,
) -> Iterator[Cluster]:
    """SQLite: `serve` with its worker; Redis: `serve --no-worker` and `workers` worker processes.
    `worker=False`: no worker at all (jobs stay queued)."""
    with ExitStack() as stack:
        prefix = stack.enter_context(redis_prefix(mode))
        running = Cluster(
            mode, root, emu, workers=workers, threads=threads, prefix=prefix, worker=worker, **env
        )
        stack.callback(running.stop)
        try:
            yield running
        except AssertionError as error:
            # A fault test that times out says little by itself: show what the processes logged.
            tail = "\n".join(running.logs().splitlines()[-200:])
            raise AssertionError(f"{error}\n--- the processes' logs, last 200 lines ---\n{tail}") from error


def open_pull_request(emu: GitHubEmulator, repo: str, number: int, dockerfile: str = MOTIVATING) -> str:
    """PR `number` adding a Dockerfile in `repo` (created on first use); returns its head SHA."""
    if repo.lower() not in emu.store.repos:
        emu.add_repo(repo, files={"README.md": "# app\n"})
    record = emu.store.repos[repo.lower()]
    base = record.branches[record.default_branch]
    head = emu.add_commit(
        repo, {f"svc{number}/Dockerfile": dockerfile}, parent=base, branch=f"feature-{number}"
    )
    emu.add_pull_request(repo, number, base, head, author="alice")
    return head


def pull_request_event(repo: str, number: int, head: str, action: str = "opened") -> dict[str, Any]:
    return payload(
        f"pull_request.{action}",
        number=number,
        **{
            "pull_request.number": number,
            "pull_request.head.sha": head,
            "pull_request.draft": False,
            "pull_request.state": "open",
            "repository.full_name": repo,
            "installation.id": INSTALLATION_ID,
        },
    )


def deliver(running: Cluster, repo: str, number: int, head: str, action: str = "opened") -> tuple[str, int]:
    """One signed delivery; returns its id and the receiver's status."""
    delivery = str(uuid.uuid4())
    response = running.post("pull_request", delivery, pull_request_event(repo, number, head, action))
    return delivery, response.status_code


def kill(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)
