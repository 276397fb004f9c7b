"""The coordination store, the same behaviour over SQLite and over the real Redis: atomic admission
(ledger + queue), the ledger's lifetime, per-PR leases, the newest job per PR, the jobs in flight."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from bot.app.settings import AppSettings, load_settings
from bot.jobs.model import Job, JobKind
from bot.jobs.queue import (
    QUEUE_FILE,
    BatchedAdmission,
    HueyJobQueue,
    create_huey,
    create_store,
    job_data,
    open_queue,
    queue_name,
)
from bot.jobs.store import LEDGER_TTL, lease_key, lease_ttl
from bot.jobs.store_sqlite import SqliteStore, StoreBusyError
from tests.app.support import app_env
from tests.jobs.backends import MODES, settings_for

DAY = 24 * 3600.0
REVIEW = Job(JobKind.REVIEW, "d-1", 1, "Octo/App", 7, "a" * 40, event="pull_request.opened")


def review(delivery: str, sha: str = "b" * 40, number: int = 7) -> Job:
    return Job(JobKind.REVIEW, delivery, 1, "octo/app", number, sha, event="pull_request.synchronize")


@pytest.fixture(params=MODES)
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AppSettings]:
    with settings_for(request.param, tmp_path / "data") as settings:
        yield settings


@pytest.fixture
def queue(settings: AppSettings) -> HueyJobQueue:
    return open_queue(settings)


def test_a_delivery_is_admitted_once_with_its_job_on_the_queue(queue: HueyJobQueue) -> None:
    assert queue.submit(REVIEW)
    assert not queue.submit(REVIEW)  # a redelivery: nothing enqueued
    assert queue.store.seen("d-1") and not queue.store.seen("d-2")
    assert queue.pending_jobs() == [REVIEW]
    task = queue.huey.dequeue()  # what a worker's consumer reads
    assert Job.from_dict(task.args[0]) == REVIEW and task.name.endswith("run_job")


def test_claims_and_jobs_are_shared_by_every_process_of_the_queue(
    queue: HueyJobQueue, settings: AppSettings
) -> None:
    assert queue.submit(REVIEW)
    other = open_queue(settings)  # what another receiver or worker builds
    assert not other.submit(REVIEW)
    assert other.pending_jobs() == [REVIEW]


def test_a_failed_admission_claims_nothing(queue: HueyJobQueue, tmp_path: Path) -> None:
    # Break the queue itself: the claim must not survive its job.
    if isinstance(queue.store, SqliteStore):
        with sqlite3.connect(tmp_path / "data" / QUEUE_FILE) as conn:
            conn.execute("DROP TABLE task")
        error: type[Exception] = sqlite3.OperationalError
    else:
        queue.huey.storage.conn.set(queue.huey.storage.queue_key, "not a list")
        error = redis.ResponseError
    with pytest.raises(error):
        queue.submit(REVIEW)
    assert not queue.store.seen("d-1")
    assert queue.store.entry("d-1") is None and queue.store.newest(lease_key(REVIEW)) is None


def test_the_ledger_outlives_githubs_redelivery_windows(queue: HueyJobQueue) -> None:
    assert LEDGER_TTL > 7 * DAY  # github.com: 3 days; GitHub Enterprise Server: 7
    assert queue.submit(REVIEW)
    if isinstance(queue.store, SqliteStore):
        row = queue.store._conn().execute("SELECT seen_at FROM mountie_deliveries WHERE id = 'd-1'")
        assert row.fetchone()[0] == pytest.approx(time.time(), abs=5)
    else:
        ttl = queue.huey.storage.conn.ttl(f"{queue.huey.name}:delivery:d-1")
        assert LEDGER_TTL - 60 <= ttl <= LEDGER_TTL


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def test_sqlite_ledger_entries_expire_after_their_ttl_and_are_purged(tmp_path: Path) -> None:
    huey = create_huey(tmp_path)
    clock = Clock()
    store = SqliteStore(tmp_path / QUEUE_FILE, huey.storage.name, ledger_ttl=3 * DAY, clock=clock)
    assert store.admit(REVIEW, b"m1", clock.now)
    clock.now += 3 * DAY - 60
    assert not store.admit(REVIEW, b"m2", clock.now)  # a redelivery within the window
    clock.now += 120
    assert not store.seen("d-1")
    assert store.admit(REVIEW, b"m3", clock.now)  # expired: a new delivery as far as we can tell
    for n in range(3):
        store.admit(review(f"old-{n}"), b"m", clock.now)
    clock.now += 3 * DAY + 1
    assert store.purge() == 4
    assert huey.pending_count() == 5


def test_only_review_jobs_are_a_prs_newest_and_finishing_clears_only_ones_own(queue: HueyJobQueue) -> None:
    store = queue.store
    pr = lease_key(review("r-1"))
    assert queue.submit(review("r-1", "1" * 40))
    assert queue.submit(review("r-2", "2" * 40))
    recheck = Job(JobKind.RECHECK, "c-1", 1, "octo/app", 7, None, commenter="alice", comment_id=5)
    assert queue.submit(recheck)
    assert store.newest(pr) == "r-2"
    store.finish(review("r-1"))  # an older job ending leaves the newest alone
    assert store.newest(pr) == "r-2"
    store.finish(review("r-2"))
    assert store.newest(pr) is None
    assert [e.job.delivery_id for e in store.in_flight()] == ["c-1"]
    assert store.newest(lease_key(review("x", number=8))) is None


def test_a_job_in_flight_from_admission_to_its_end(queue: HueyJobQueue) -> None:
    store = queue.store
    before = time.time()
    assert queue.submit(REVIEW)
    [entry] = store.in_flight()
    assert entry.job == REVIEW and not entry.started and entry.waiting_until == 0
    assert before <= entry.created_at == entry.active_at <= time.time()
    store.begin(REVIEW, entry.created_at + 5)
    started = store.entry("d-1")
    assert started is not None and started.started and started.active_at == entry.created_at + 5
    store.wait("d-1", entry.created_at + 60)
    waiting = store.entry("d-1")
    assert waiting is not None and waiting.idle_since() == entry.created_at + 60
    queue.huey.flush()
    store.requeue(REVIEW, queue.message(REVIEW), entry.created_at + 70)
    requeued = store.entry("d-1")
    assert requeued is not None and requeued.started and requeued.created_at == entry.created_at
    assert (requeued.active_at, requeued.waiting_until) == (entry.created_at + 70, 0)
    assert queue.pending_jobs() == [REVIEW]
    store.finish(REVIEW)
    assert store.entry("d-1") is None and store.in_flight() == []


def test_begin_tracks_a_job_whose_entry_was_lost(queue: HueyJobQueue) -> None:
    queue.store.begin(REVIEW, 100.0)
    entry = queue.store.entry("d-1")
    assert entry is not None and entry.started and entry.created_at == 100.0


def test_a_lease_has_one_holder_at_a_time_until_it_lapses(queue: HueyJobQueue) -> None:
    store = queue.store
    assert store.acquire("pr:octo/app#7", "a", 0.3)
    assert not store.acquire("pr:octo/app#7", "b", 0.3)
    assert store.holder("pr:octo/app#7") == "a"
    assert store.acquire("pr:octo/app#8", "b", 0.3)  # another PR: independent
    assert store.renew("pr:octo/app#7", "a", 0.3)
    assert not store.renew("pr:octo/app#7", "b", 0.3)
    time.sleep(0.4)
    assert store.holder("pr:octo/app#7") is None
    assert store.acquire("pr:octo/app#7", "b", 5)  # lapsed: taken over
    assert not store.renew("pr:octo/app#7", "a", 5)
    store.release("pr:octo/app#7", "a")  # compare-and-delete: not a's any more
    assert store.holder("pr:octo/app#7") == "b"
    store.release("pr:octo/app#7", "b")
    assert store.holder("pr:octo/app#7") is None
    assert store.acquire("pr:octo/app#7", "c", 5)


def test_lease_keys_and_ttl() -> None:
    assert lease_key(REVIEW) == "pr:octo/app#7"
    fork_rerun = Job(JobKind.RERUN, "r", 1, "octo/app", None, "c" * 40, check_run_id=3)
    assert lease_key(fork_rerun) == f"sha:octo/app@{'c' * 40}"
    assert lease_ttl(60) == 30 and lease_ttl(1) == 2 and lease_ttl(5) == 10


def test_queue_names_keep_deployments_apart() -> None:
    assert queue_name("") == queue_name("redis://h:6379/0") == "mountie"
    assert queue_name("redis://h:6379/0?prefix=staging") == "mountie_staging"


def test_an_unreachable_redis_is_an_error_not_a_hang(tmp_path: Path) -> None:
    settings = load_settings(app_env(tmp_path, MOUNTIE_QUEUE_URL="redis://127.0.0.1:9/0"))
    huey = create_huey(settings.data_dir, settings.queue_url)
    store = create_store(huey, settings.data_dir, settings.queue_url)
    started = time.monotonic()
    with pytest.raises(redis.ConnectionError):
        store.ping()
    assert time.monotonic() - started < 5


@pytest.mark.parametrize(
    "job",
    [
        REVIEW,
        Job(JobKind.RECHECK, "d-2", 1, "octo/app", 7, None, commenter="alice", comment_id=9, event="x"),
        Job(JobKind.RERUN, "d-3", 1, "octo/app", None, "c" * 40, check_run_id=5, received_at=12.5),
    ],
    ids=["review", "recheck", "rerun"],
)
def test_the_receivers_job_data_is_to_dict(job: Job) -> None:
    assert job_data(job) == job.to_dict()
    assert Job.from_dict(job_data(job)) == job


def sqlite_queue(tmp_path: Path) -> tuple[HueyJobQueue, SqliteStore, BatchedAdmission]:
    queue = open_queue(load_settings(app_env(tmp_path / "data")))
    assert isinstance(queue.store, SqliteStore)
    batched = queue.batched()
    assert batched is not None
    return queue, queue.store, batched


def test_a_batch_is_admitted_in_one_transaction_each_delivery_once(tmp_path: Path) -> None:
    queue, store, batched = sqlite_queue(tmp_path)
    assert queue.submit(review("d-0"))
    jobs = [review("d-1"), review("d-0"), review("d-2", sha="c" * 40), review("d-1")]
    admitted = asyncio.run(admit_now(batched, jobs))
    assert admitted == [True, False, True, False]  # d-0 from before, d-1 twice in the batch
    assert [job.delivery_id for job in queue.pending_jobs()] == ["d-0", "d-1", "d-2"]
    assert store.newest(lease_key(review("any"))) == "d-2"
    assert {entry.job.delivery_id for entry in store.in_flight()} == {"d-0", "d-1", "d-2"}


async def admit_now(batched: BatchedAdmission, jobs: list[Job]) -> list[bool]:
    return batched.admit_now([batched.entry(job) for job in jobs])


def test_the_loops_admission_never_waits_for_another_writer(tmp_path: Path) -> None:
    queue, store, batched = sqlite_queue(tmp_path)
    with sqlite3.connect(tmp_path / "data" / QUEUE_FILE, isolation_level=None) as other:
        other.execute("BEGIN IMMEDIATE")  # another process writing
        start = time.monotonic()
        with pytest.raises(StoreBusyError):
            asyncio.run(admit_now(batched, [review("d-1")]))
        assert time.monotonic() - start < 1.0  # at once, not after the 5 s busy timeout
        other.execute("COMMIT")
    assert not store.seen("d-1") and queue.pending_jobs() == []
    assert asyncio.run(batched.admit_waiting([batched.entry(review("d-1"))])) == [True]
    assert store.seen("d-1")


def test_checkpoints_keep_the_wal_small(tmp_path: Path) -> None:
    """The loop's commits leave the WAL to `checkpoint`: with it, the WAL starts over."""
    _, _, batched = sqlite_queue(tmp_path)
    wal = tmp_path / "data" / f"{QUEUE_FILE}-wal"

    async def deliveries(count: int) -> None:
        for n in range(count):
            batched.admit_now([batched.entry(review(f"d-{n}-{i}")) for i in range(8)])
            if batched.checkpoint_due():
                await batched.checkpoint()

    asyncio.run(deliveries(300))  # 2,400 deliveries: some 30 MB of WAL without checkpoints
    assert wal.stat().st_size < 4 * 1024 * 1024, wal.stat().st_size
