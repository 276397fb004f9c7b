"""The coordination store in SQLite: tables beside huey's in the queue file of the data directory.

One file, so admitting a delivery is one transaction: the ledger row, huey's `task` row (huey's
own schema: `queue`, `data`, `priority`; `SqliteHuey.dequeue` reads it), the in-flight row and the
PR's newest job. Leases are upserts that only take over an expired row. Everything is shared by
the receiver and worker processes on this host (WAL, per-thread connections, a busy timeout).

`admit_many` admits several deliveries in one transaction (the receiver's group commit, see
`bot.jobs.queue.BatchedAdmission`); with `wait=False` it runs on the receiver's event loop, so it
never sleeps in the busy handler (`StoreBusyError` at once instead, nothing done), never purges and
never checkpoints: `purge` and `checkpoint` then run from a thread.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from bot.jobs.model import Job, JobKind
from bot.jobs.sqlite import SqliteFile
from bot.jobs.store import LEDGER_TTL, InFlight, lease_key

PURGE_INTERVAL_SECONDS = 3600.0
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS mountie_deliveries "
    "(id TEXT PRIMARY KEY, seen_at REAL NOT NULL) WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS mountie_deliveries_seen_at ON mountie_deliveries (seen_at)",
    "CREATE TABLE IF NOT EXISTS mountie_leases "
    "(key TEXT PRIMARY KEY, owner TEXT NOT NULL, expires_at REAL NOT NULL) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS mountie_newest (pr TEXT PRIMARY KEY, delivery TEXT NOT NULL) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS mountie_inflight (delivery TEXT PRIMARY KEY, job TEXT NOT NULL, "
    "created_at REAL NOT NULL, active_at REAL NOT NULL, started INTEGER NOT NULL DEFAULT 0, "
    "waiting_until REAL NOT NULL DEFAULT 0) WITHOUT ROWID",
)


class StoreBusyError(Exception):
    """Another connection holds the write lock (only from `admit_many(wait=False)`)."""


class SqliteStore:
    def __init__(
        self,
        path: Path,
        queue_name: str,
        *,
        ledger_ttl: float = LEDGER_TTL,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._db = SqliteFile(path, _SCHEMA)
        # The event loop's connection (`admit_many(wait=False)`): fails at once rather than wait,
        # and leaves checkpoints to `checkpoint`, from a thread.
        self._nowait = SqliteFile(path, _SCHEMA, busy_timeout=0.0, autocheckpoint=False)
        self.queue_name = queue_name
        self.ledger_ttl = ledger_ttl
        self._clock = clock  # leases and ledger expiry (one host: one clock)
        self._last_purge = float("-inf")

    def _conn(self) -> sqlite3.Connection:
        return self._db.connection()

    # -- admission ----------------------------------------------------------------------------------

    def admit(self, job: Job, message: bytes, now: float) -> bool:
        return self.admit_many([(job, message, json.dumps(job.to_dict()))], now)[0]

    def admit_many(
        self, entries: Sequence[tuple[Job, bytes, str]], now: float, *, wait: bool = True
    ) -> list[bool]:
        """`admit` for each (job, message, the job's `to_dict()` as JSON), in order, in one
        transaction: on an error nothing is claimed; a delivery id twice in `entries` is admitted
        once. `wait=False`: `StoreBusyError`, with nothing done, if another connection holds the
        write lock; no purge, no checkpoint."""
        wall = self._clock()
        if wait and self.purge_due():
            self.purge()
        try:
            conn = (self._db if wait else self._nowait).connection()
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as error:
            if not wait and error.sqlite_errorcode in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                raise StoreBusyError(str(error)) from error
            raise
        try:
            admitted = [self._admit(conn, entry, now, wall) for entry in entries]
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return admitted

    def _admit(
        self, conn: sqlite3.Connection, entry: tuple[Job, bytes, str], now: float, wall: float
    ) -> bool:
        job, message, data = entry
        claimed = conn.execute(
            "INSERT INTO mountie_deliveries (id, seen_at) VALUES (?, ?) ON CONFLICT (id) "
            "DO UPDATE SET seen_at = excluded.seen_at WHERE mountie_deliveries.seen_at < ?",
            (job.delivery_id, wall, wall - self.ledger_ttl),
        ).rowcount
        if claimed != 1:
            return False
        self._enqueue(conn, message)
        conn.execute(
            "INSERT OR REPLACE INTO mountie_inflight (delivery, job, created_at, active_at) "
            "VALUES (?, ?, ?, ?)",
            (job.delivery_id, data, now, now),
        )
        if job.kind is JobKind.REVIEW:
            conn.execute(
                "INSERT OR REPLACE INTO mountie_newest (pr, delivery) VALUES (?, ?)",
                (lease_key(job), job.delivery_id),
            )
        return True

    def _enqueue(self, conn: sqlite3.Connection, message: bytes) -> None:
        conn.execute(
            "INSERT INTO task (queue, data, priority) VALUES (?, ?, 0)",
            (self.queue_name, sqlite3.Binary(message)),
        )

    def requeue(self, job: Job, message: bytes, now: float) -> None:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            self._enqueue(conn, message)
            conn.execute(
                "INSERT INTO mountie_inflight (delivery, job, created_at, active_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (delivery) DO UPDATE SET active_at = excluded.active_at, waiting_until = 0",
                (job.delivery_id, json.dumps(job.to_dict()), now, now),
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def seen(self, delivery_id: str) -> bool:
        row = self._conn().execute(
            "SELECT 1 FROM mountie_deliveries WHERE id = ? AND seen_at >= ?",
            (delivery_id, self._clock() - self.ledger_ttl),
        )
        return row.fetchone() is not None

    def purge_due(self) -> bool:
        """An hour since the last `purge` (which `admit_many(wait=True)` then runs first)."""
        return self._clock() - self._last_purge >= PURGE_INTERVAL_SECONDS

    def checkpoint(self) -> None:
        """Copy the WAL into the database (PASSIVE: without waiting for readers or writers), for
        the commits of `admit_many(wait=False)`, which do not. The WAL starts over only after a
        checkpoint that copied all of it, so the caller runs one with its commits held, after one
        without that copied the bulk: run beside a busy writer, none ever finishes, and the WAL
        grew by gigabytes."""
        self._conn().execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()

    def purge(self) -> int:
        """Drop expired ledger entries and leases; returns how many deliveries."""
        now = self._clock()
        self._last_purge = now
        conn = self._conn()
        conn.execute("DELETE FROM mountie_leases WHERE expires_at < ?", (now,))
        return conn.execute(
            "DELETE FROM mountie_deliveries WHERE seen_at < ?", (now - self.ledger_ttl,)
        ).rowcount

    # -- newest and in flight -----------------------------------------------------------------------

    def newest(self, pr: str) -> str | None:
        row = self._conn().execute("SELECT delivery FROM mountie_newest WHERE pr = ?", (pr,)).fetchone()
        return str(row[0]) if row else None

    def entry(self, delivery_id: str) -> InFlight | None:
        row = (
            self._conn()
            .execute(
                "SELECT job, created_at, active_at, started, waiting_until FROM mountie_inflight "
                "WHERE delivery = ?",
                (delivery_id,),
            )
            .fetchone()
        )
        return _entry(row) if row else None

    def begin(self, job: Job, now: float) -> None:
        self._conn().execute(
            "INSERT INTO mountie_inflight (delivery, job, created_at, active_at, started) "
            "VALUES (?, ?, ?, ?, 1) ON CONFLICT (delivery) DO UPDATE SET "
            "active_at = excluded.active_at, started = 1, waiting_until = 0",
            (job.delivery_id, json.dumps(job.to_dict()), now, now),
        )

    def wait(self, delivery_id: str, until: float) -> None:
        self._conn().execute(
            "UPDATE mountie_inflight SET waiting_until = ? WHERE delivery = ?", (until, delivery_id)
        )

    def finish(self, job: Job) -> None:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute("DELETE FROM mountie_inflight WHERE delivery = ?", (job.delivery_id,))
            conn.execute(
                "DELETE FROM mountie_newest WHERE pr = ? AND delivery = ?", (lease_key(job), job.delivery_id)
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def in_flight(self) -> list[InFlight]:
        rows = self._conn().execute(
            "SELECT job, created_at, active_at, started, waiting_until FROM mountie_inflight "
            "ORDER BY created_at"
        )
        return [_entry(row) for row in rows.fetchall()]

    # -- leases -------------------------------------------------------------------------------------

    def acquire(self, key: str, owner: str, ttl: float) -> bool:
        now = self._clock()
        cursor = self._conn().execute(
            "INSERT INTO mountie_leases (key, owner, expires_at) VALUES (?, ?, ?) ON CONFLICT (key) "
            "DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at "
            "WHERE mountie_leases.expires_at <= ?",
            (key, owner, now + ttl, now),
        )
        return cursor.rowcount == 1

    def renew(self, key: str, owner: str, ttl: float) -> bool:
        cursor = self._conn().execute(
            "UPDATE mountie_leases SET expires_at = ? WHERE key = ? AND owner = ?",
            (self._clock() + ttl, key, owner),
        )
        return cursor.rowcount == 1

    def release(self, key: str, owner: str) -> None:
        self._conn().execute("DELETE FROM mountie_leases WHERE key = ? AND owner = ?", (key, owner))

    def holder(self, key: str) -> str | None:
        row = (
            self._conn()
            .execute(
                "SELECT owner FROM mountie_leases WHERE key = ? AND expires_at > ?", (key, self._clock())
            )
            .fetchone()
        )
        return str(row[0]) if row else None

    def ping(self) -> None:
        self._conn().execute("SELECT count(*) FROM mountie_deliveries WHERE 0").fetchone()


def _entry(row: tuple[str, float, float, int, float]) -> InFlight:
    job, created_at, active_at, started, waiting_until = row
    return InFlight(Job.from_dict(json.loads(job)), created_at, active_at, bool(started), waiting_until)
