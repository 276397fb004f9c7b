"""The delivery ledger: which `X-GitHub-Delivery` ids were already turned into jobs.

GitHub keeps a delivery's id when it is redelivered (by hand or through the API), for up to 3 days
on github.com and 7 on GitHub Enterprise Server; entries live 8 days so a redelivery within
either window does nothing. The ledger is a SQLite file in the data directory, so it survives
restarts and is shared by every receiver process on the host.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from bot.jobs.sqlite import SqliteFile

LEDGER_FILE = "deliveries.db"
DEFAULT_TTL_SECONDS = 8 * 24 * 3600
PURGE_INTERVAL_SECONDS = 3600.0
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS deliveries (id TEXT PRIMARY KEY, seen_at REAL NOT NULL) WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS deliveries_seen_at ON deliveries (seen_at)",
)


class DeliveryLedger:
    def __init__(
        self, path: Path, ttl: float = DEFAULT_TTL_SECONDS, clock: Callable[[], float] = time.time
    ) -> None:
        self._db = SqliteFile(path, _SCHEMA)
        self.ttl = ttl
        self._clock = clock
        self._last_purge = float("-inf")

    def claim(self, delivery_id: str) -> bool:
        """Record the delivery; False when it was already recorded (and has not expired)."""
        now = self._clock()
        if now - self._last_purge >= PURGE_INTERVAL_SECONDS:
            self.purge()
        cursor = self._db.connection().execute(
            "INSERT INTO deliveries (id, seen_at) VALUES (?, ?) "
            "ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at WHERE deliveries.seen_at < ?",
            (delivery_id, now, now - self.ttl),
        )
        return cursor.rowcount == 1

    def release(self, delivery_id: str) -> None:
        """Forget a claim whose job could not be enqueued, so GitHub's redelivery is accepted."""
        self._db.connection().execute("DELETE FROM deliveries WHERE id = ?", (delivery_id,))

    def seen(self, delivery_id: str) -> bool:
        row = self._db.connection().execute(
            "SELECT 1 FROM deliveries WHERE id = ? AND seen_at >= ?", (delivery_id, self._clock() - self.ttl)
        )
        return row.fetchone() is not None

    def purge(self) -> int:
        """Drop expired entries; returns how many."""
        now = self._clock()
        self._last_purge = now
        cursor = self._db.connection().execute("DELETE FROM deliveries WHERE seen_at < ?", (now - self.ttl,))
        return cursor.rowcount

    def ping(self) -> None:
        """Raise if the ledger's database cannot be read (health check)."""
        self._db.connection().execute("SELECT count(*) FROM deliveries WHERE 0").fetchone()
