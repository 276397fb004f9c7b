"""The job queue: huey, over SQLite in the data directory (default) or Redis (MOUNTIE_QUEUE_URL).

- No setting: `SqliteHuey` in `MOUNTIE_DATA_DIR/queue.db`, durable across restarts, zero servers;
  the receiver and the worker processes of one host share the file.
- `MOUNTIE_QUEUE_URL=redis://HOST:PORT/DB`: `RedisHuey`, so any number of receivers
  (`mountie serve --no-worker`) and workers (`mountie worker`) on any machines share one queue.
  `?prefix=NAME` keeps several deployments apart in one Redis database.

The coordination store (ledger, leases, jobs in flight: `bot.jobs.store`) always lives beside the
queue, in the same SQLite file or the same Redis, so a delivery is claimed and its job enqueued
in one atomic step. The task code (`bot.jobs.tasks`) is the same in both modes: each process
builds its own huey object and registers the same task, so the receiver puts messages the
workers understand.

Over SQLite, the receiver admits deliveries through `BatchedAdmission`: on its event loop,
several deliveries share one transaction (a group commit), each answered once it has committed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import orjson
from huey import RedisHuey, SqliteHuey

from bot.app.settings import AppSettings
from bot.jobs.model import Job
from bot.jobs.store import CoordinationStore
from bot.jobs.store_redis import RedisStore
from bot.jobs.store_sqlite import SqliteStore
from bot.jobs.tasks import WorkerContext, register_tasks

log = logging.getLogger(__name__)

QUEUE_NAME = "mountie"
QUEUE_FILE = "queue.db"
# A receiver must answer GitHub within 10 s even when Redis is gone: fail fast, answer 503.
REDIS_CONNECT_TIMEOUT = 2.0
# Above the consumer's BRPOP wait (1 s), so an idle worker's read does not time out.
REDIS_SOCKET_TIMEOUT = 10.0
# BatchedAdmission's commits leave the WAL to a checkpoint in a thread after this many of them
# (a few hundred WAL pages, about 1 MB; SQLite's own automatic checkpoint runs at 1,000 pages).
CHECKPOINT_EVERY_COMMITS = 20


def queue_name(queue_url: str = "") -> str:
    """huey's queue name, which is also the namespace of Mountie's own keys."""
    prefix = dict(parse_qsl(urlsplit(queue_url).query)).get("prefix", "") if queue_url else ""
    return f"{QUEUE_NAME}_{prefix}" if prefix else QUEUE_NAME


def redis_url(queue_url: str) -> str:
    """The URL without Mountie's own `prefix` parameter, as redis-py reads it."""
    parts = urlsplit(queue_url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "prefix"]
    return urlunsplit(parts._replace(query=urlencode(query)))


def create_huey(data_dir: Path, queue_url: str = "") -> Any:
    """The queue (huey is untyped, hence Any). No result store: nothing reads task results."""
    name = queue_name(queue_url)
    if not queue_url:
        data_dir.mkdir(parents=True, exist_ok=True)
        return SqliteHuey(name, filename=str(data_dir / QUEUE_FILE), results=False, utc=True)
    from redis import ConnectionPool
    from redis.backoff import ExponentialBackoff
    from redis.exceptions import ConnectionError, TimeoutError
    from redis.retry import Retry

    pool = ConnectionPool.from_url(
        redis_url(queue_url),
        socket_connect_timeout=REDIS_CONNECT_TIMEOUT,
        socket_timeout=REDIS_SOCKET_TIMEOUT,
        health_check_interval=30,
        # Twice, quickly: a pooled connection that a Redis restart closed is replaced at once,
        # and a Redis that is down is reported (a 503 to GitHub) within a few seconds.
        retry=Retry(ExponentialBackoff(cap=0.2, base=0.05), 2),
        retry_on_error=[ConnectionError, TimeoutError],
    )
    return RedisHuey(name, connection_pool=pool, results=False, utc=True, blocking=True, read_timeout=1)


def create_store(huey: Any, data_dir: Path, queue_url: str = "") -> CoordinationStore:
    """The coordination store beside `huey`'s queue (see `bot.jobs.store`)."""
    if not queue_url:
        return SqliteStore(data_dir / QUEUE_FILE, huey.storage.name)
    return RedisStore(huey.storage.conn, queue_name(queue_url), huey.storage.queue_key)


class JobQueue(Protocol):
    """What the receiver needs from the queue."""

    def submit(self, job: Job) -> bool:
        """Claim the job's delivery and enqueue the job, atomically; False: a redelivery."""
        ...

    def depth(self) -> dict[str, int]: ...

    def ping(self) -> None: ...


class HueyJobQueue:
    """Jobs as huey messages: the task's single argument is `Job.to_dict()` (plain data)."""

    def __init__(
        self, huey: Any, task: Any, store: CoordinationStore, clock: Callable[[], float] = time.time
    ) -> None:
        self.huey = huey
        self.store = store
        self._task = task
        self._clock = clock

    def message(self, job: Job, data: dict[str, Any] | None = None) -> bytes:
        """The huey message that runs `job` (`data`: its `to_dict()`, if already made)."""
        message: bytes = self.huey.serialize_task(self._task.s(job.to_dict() if data is None else data))
        return message

    def submit(self, job: Job) -> bool:
        return self.store.admit(job, self.message(job), self._clock())

    def batched(self) -> BatchedAdmission | None:
        """Group-committed admission on the event loop, where the store allows it (SQLite)."""
        if isinstance(self.store, SqliteStore):
            return BatchedAdmission(self, self.store, self._clock)
        return None

    def requeue(self, job: Job) -> None:
        """Put an admitted job back on the queue (the sweeper)."""
        self.store.requeue(job, self.message(job), self._clock())

    def depth(self) -> dict[str, int]:
        """Jobs waiting to run now, and jobs scheduled for a later retry."""
        return {"pending": int(self.huey.pending_count()), "scheduled": int(self.huey.scheduled_count())}

    def idle(self) -> bool:
        depth = self.depth()
        return depth["pending"] == 0 and depth["scheduled"] == 0

    def ping(self) -> None:
        self.store.ping()

    def pending_jobs(self) -> list[Job]:
        """The jobs waiting, oldest first (for tests and inspection)."""
        return [Job.from_dict(task.args[0]) for task in self.huey.pending()]


Entry = tuple[Job, bytes, str]  # a job, its huey message, its `to_dict()` as JSON


class BatchedAdmission:
    """Admission on the receiver's event loop over SQLite, several deliveries to a transaction.

    The receiver gathers the jobs of the deliveries at hand (`entry` for each) and admits them in
    one transaction on the loop itself with `admit_now` (`SqliteStore.admit_many(wait=False)`):
    no thread hop, and one commit for the lot instead of one each. That raises `StoreBusyError`,
    having done nothing, when another process holds the write lock; then, and when `purge_due`,
    `admit_waiting` admits them from a thread, waiting for the lock as `admit` does. The loop's
    commits do not checkpoint the WAL: when `checkpoint_due`, the receiver runs `checkpoint` (in a
    thread) twice, the second time holding its commits, so that the WAL starts over.
    """

    def __init__(
        self,
        queue: HueyJobQueue,
        store: SqliteStore,
        clock: Callable[[], float] = time.time,
        checkpoint_every: int = CHECKPOINT_EVERY_COMMITS,
    ) -> None:
        self._queue = queue
        self._store = store
        self._clock = clock
        self._checkpoint_every = checkpoint_every
        self._commits = 0

    def entry(self, job: Job) -> Entry:
        data = job_data(job)
        # orjson: the standard library's encoder was 2% of the receiver's time per delivery.
        return job, self._queue.message(job, data), orjson.dumps(data).decode()

    def purge_due(self) -> bool:
        return self._store.purge_due()

    def admit_now(self, entries: Sequence[Entry]) -> list[bool]:
        """On the event loop: claim and enqueue, in one transaction (see `SqliteStore.admit_many`)."""
        admitted = self._store.admit_many(entries, self._clock(), wait=False)
        self._commits += 1
        return admitted

    async def admit_waiting(self, entries: Sequence[Entry]) -> list[bool]:
        """`admit_now`, from a thread that waits for the write lock (and purges when due)."""
        admit = functools.partial(self._store.admit_many, entries, self._clock())
        return await asyncio.get_running_loop().run_in_executor(None, admit)

    def checkpoint_due(self) -> bool:
        return self._commits >= self._checkpoint_every

    async def checkpoint(self) -> None:
        """Copy the WAL into the database from a thread; no `admit_now` may run meanwhile."""
        self._commits = 0
        try:
            await asyncio.get_running_loop().run_in_executor(None, self._store.checkpoint)
        except sqlite3.Error as error:
            log.warning("WAL checkpoint failed (the next one retries): %s", error)


_JOB_FIELDS = tuple(field.name for field in dataclasses.fields(Job))


def job_data(job: Job) -> dict[str, Any]:
    """`job.to_dict()`, without `dataclasses.asdict`'s deep copy (~8 us): a Job's fields are all
    immutable scalars (tests/jobs/test_store.py checks that the two agree)."""
    data = {name: getattr(job, name) for name in _JOB_FIELDS}
    data["kind"] = job.kind.value
    return data


def open_queue(settings: AppSettings, context: WorkerContext | None = None) -> HueyJobQueue:
    """The queue of these settings, with the task registered (to run it: a `WorkerContext`)."""
    huey = create_huey(settings.data_dir, settings.queue_url)
    store = create_store(huey, settings.data_dir, settings.queue_url)
    return HueyJobQueue(huey, register_tasks(huey, store, settings, context), store)
