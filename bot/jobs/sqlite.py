"""SQLite files in the data directory shared by the receiver and the worker processes.

Each thread gets its own connection (sqlite3 connections are not meant to be shared across
threads); WAL lets readers and one writer overlap across processes, and a busy timeout absorbs
short write contention instead of failing.

Switching a new file to WAL is the exception: the switch reads the file, then writes it, and when
another connection is writing meanwhile SQLite answers SQLITE_BUSY at once, without the busy
handler (a deadlock otherwise). Connections opening a new file at the same moment (a worker's two
threads ending their first jobs, the receiver's first metrics flush) then failed with "database is
locked", and a metric written through one was lost; `_enable_wal` tries again for the busy timeout.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterable
from pathlib import Path

BUSY_TIMEOUT_SECONDS = 5.0
WAL_RETRY_SECONDS = 0.005  # between attempts to switch a file another connection holds to WAL


class SqliteFile:
    """Per-thread connections to one database file, created with `schema` on first use.

    `busy_timeout=0`: a statement that needs the write lock another connection holds fails at once
    (SQLITE_BUSY) instead of sleeping in SQLite's busy handler. `autocheckpoint=False`: commits on
    these connections never copy the WAL into the database (and fsync) on the way; whoever opens
    them checkpoints instead (`SqliteStore.checkpoint`), or the WAL grows.
    """

    def __init__(
        self,
        path: Path,
        schema: Iterable[str],
        *,
        busy_timeout: float = BUSY_TIMEOUT_SECONDS,
        autocheckpoint: bool = True,
    ) -> None:
        self.path = path
        self._schema = tuple(schema)
        self._busy_timeout = busy_timeout
        self._autocheckpoint = autocheckpoint
        self._local = threading.local()
        self._ready = False
        self._ready_lock = threading.Lock()

    def connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=self._busy_timeout, isolation_level=None)
            _enable_wal(conn, self._busy_timeout)
            # NORMAL in WAL mode survives a process crash; only a power loss can drop the last commits.
            conn.execute("PRAGMA synchronous=NORMAL")
            if not self._autocheckpoint:
                conn.execute("PRAGMA wal_autocheckpoint=0")
            with self._ready_lock:
                if not self._ready:
                    for statement in self._schema:
                        conn.execute(statement)
                    self._ready = True
            self._local.conn = conn
        return conn

    def close(self) -> None:
        """Close this thread's connection (others close when their threads end)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


def _enable_wal(conn: sqlite3.Connection, timeout: float) -> None:
    """`PRAGMA journal_mode=WAL`, tried again for up to `timeout` seconds while another connection
    holds a lock it needs (see the module docstring); `timeout=0`: it fails at once, as before."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            primary = error.sqlite_errorcode & 0xFF  # SQLITE_BUSY_RECOVERY and the like: busy too
            busy = primary in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
            if not busy or time.monotonic() >= deadline:
                conn.close()
                raise
        time.sleep(WAL_RETRY_SECONDS)
