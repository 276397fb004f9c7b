"""The two queue modes for tests: SQLite in a temporary data directory, and the real Redis server
(MOUNTIE_TEST_REDIS_URL, default redis://127.0.0.1:6379/0; .ci/run starts one if none answers)
under a key prefix of its own per test, deleted afterwards."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

from bot.app.settings import AppSettings, load_settings
from tests.app.support import app_env

MODES = ("sqlite", "redis")
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def redis_url() -> str:
    return os.environ.get("MOUNTIE_TEST_REDIS_URL") or DEFAULT_REDIS_URL


def queue_env(mode: str, prefix: str) -> dict[str, str]:
    """The environment variables that select `mode` (none for SQLite)."""
    return {"MOUNTIE_QUEUE_URL": f"{redis_url()}?prefix={prefix}"} if mode == "redis" else {}


@contextmanager
def redis_prefix(mode: str) -> Iterator[str]:
    """A fresh key prefix; in Redis mode, every key under it is deleted afterwards."""
    prefix = f"t{uuid.uuid4().hex[:16]}"
    try:
        yield prefix
    finally:
        if mode == "redis":
            client = redis.Redis.from_url(redis_url())
            keys = list(client.scan_iter(match=f"*mountie_{prefix}*", count=1000))
            if keys:
                client.delete(*keys)
            client.close()


@contextmanager
def settings_for(mode: str, data_dir: Path, **overrides: str) -> Iterator[AppSettings]:
    with redis_prefix(mode) as prefix:
        yield load_settings(app_env(data_dir, **queue_env(mode, prefix), **overrides))
