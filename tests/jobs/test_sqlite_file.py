"""`SqliteFile`: the per-thread connections every SQLite store (queue, ledger, metrics) opens."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from bot.jobs.sqlite import SqliteFile


def test_switching_a_new_file_to_wal_waits_for_a_writer_instead_of_failing(tmp_path: Path) -> None:
    # SQLite answers "database is locked" at once, whatever the busy timeout, to a connection
    # switching a new file to WAL while another one writes it: a worker's two threads opening
    # metrics.db together lost a job's `finished` count that way (the e2e twenty-pushes flake).
    path = tmp_path / "metrics.db"
    writer = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    writer.execute("CREATE TABLE t (x)")
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO t VALUES (1)")
    commit = threading.Timer(0.3, lambda: writer.execute("COMMIT"))
    commit.start()
    try:
        conn = SqliteFile(path, ()).connection()
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("SELECT x FROM t").fetchall() == [(1,)]
    finally:
        commit.join()
        writer.close()


def test_a_file_locked_for_longer_than_the_busy_timeout_is_still_an_error(tmp_path: Path) -> None:
    path = tmp_path / "metrics.db"
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("CREATE TABLE t (x)")
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO t VALUES (1)")
    try:
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            SqliteFile(path, (), busy_timeout=0.05).connection()
    finally:
        writer.execute("ROLLBACK")
        writer.close()
