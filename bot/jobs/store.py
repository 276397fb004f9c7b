"""Queue state beside the queue: the delivery ledger, per-PR leases, the newest job per PR, and the
jobs in flight. SQLite in the data directory (`bot.jobs.store_sqlite`) or Redis
(`bot.jobs.store_redis`), always the same store as the huey queue, so one call can claim a delivery
and enqueue its job atomically: a delivery is acknowledged if and only if its job is queued.

- **Ledger**: delivery ids, kept `LEDGER_TTL` (8 days: GitHub redelivers within 3 days on
  github.com, 7 on GitHub Enterprise Server). A redelivery finds its id and does nothing.
- **Lease** per pull request (`lease_key`): one job at a time per PR. An owner string, a TTL
  (`lease_ttl`), renewed by `LeaseKeeper` while the job runs; released by compare-and-delete, so
  an owner whose lease expired and was taken over cannot release the new holder's.
- **Newest**: for each PR, the delivery id of the last REVIEW job admitted. A REVIEW job that is
  no longer the newest when a worker takes it has been superseded by a later push (coalescing).
- **In flight**: every admitted job until it ends, with when it was admitted, last touched,
  started, and until when it waits for a retry. This is what the sweeper (`bot.jobs.sweeper`)
  reads to know which PRs to ask GitHub about; it is queue state, not a record of reviews.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol

from bot.jobs.model import Job

log = logging.getLogger(__name__)

LEDGER_TTL = 8 * 24 * 3600.0
MIN_LEASE_TTL = 2.0
MAX_LEASE_TTL = 30.0


def lease_ttl(sweep_interval: float) -> float:
    """Twice the sweep interval, 2 to 30 s: a dead worker's lease has lapsed by the time the
    sweeper (3 intervals) calls its job stuck, and a live one renews it every third of the TTL."""
    return min(MAX_LEASE_TTL, max(MIN_LEASE_TTL, 2 * sweep_interval))


def lease_key(job: Job) -> str:
    """What a job serialises on: its pull request (a re-run naming none: its commit)."""
    repo = job.repository.lower()
    if job.pr_number is not None:
        return f"pr:{repo}#{job.pr_number}"
    return f"sha:{repo}@{job.head_sha or job.delivery_id}"


def new_owner() -> str:
    """A lease owner unique to this attempt (host, process and a random part)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


@dataclass(frozen=True, slots=True)
class InFlight:
    job: Job
    created_at: float  # when the delivery was admitted
    active_at: float  # last (re)queued or started
    started: bool  # a worker began it at least once
    waiting_until: float = 0.0  # a retry is scheduled until then

    def idle_since(self) -> float:
        return max(self.active_at, self.waiting_until)


class CoordinationStore(Protocol):
    def admit(self, job: Job, message: bytes, now: float) -> bool:
        """Atomically: claim the delivery id, put `message` (the huey task) on the queue, note the
        job in flight and, for a REVIEW, as its PR's newest. False (nothing done): already claimed."""
        ...

    def requeue(self, job: Job, message: bytes, now: float) -> None:
        """Put the job back on the queue (sweeper, interrupted worker) and mark it active now."""
        ...

    def seen(self, delivery_id: str) -> bool: ...

    def newest(self, pr: str) -> str | None:
        """The delivery id of the newest REVIEW job admitted for `lease_key` `pr`."""
        ...

    def entry(self, delivery_id: str) -> InFlight | None: ...

    def begin(self, job: Job, now: float) -> None:
        """A worker starts the job (an entry is created if it was lost)."""
        ...

    def wait(self, delivery_id: str, until: float) -> None:
        """The job waits for a retry scheduled at `until`; the sweeper leaves it alone until then."""
        ...

    def finish(self, job: Job) -> None:
        """The job ended: drop it from the jobs in flight, and as its PR's newest if it still is."""
        ...

    def in_flight(self) -> list[InFlight]: ...

    def acquire(self, key: str, owner: str, ttl: float) -> bool: ...

    def renew(self, key: str, owner: str, ttl: float) -> bool:
        """Extend our lease; False when it is no longer ours (it lapsed and someone took it)."""
        ...

    def release(self, key: str, owner: str) -> None:
        """Drop the lease if (and only if) `owner` still holds it."""
        ...

    def holder(self, key: str) -> str | None: ...

    def ping(self) -> None:
        """Raise if the store cannot be reached (health check)."""
        ...


class LeaseKeeper:
    """Holds an acquired lease for a `with` block, renewing it every third of its TTL on a thread."""

    def __init__(self, store: CoordinationStore, key: str, owner: str, ttl: float) -> None:
        self.store, self.key, self.owner, self.ttl = store, key, owner, ttl
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._renew, name=f"lease {key}", daemon=True)
        self.lost = False

    def _renew(self) -> None:
        while not self._stop.wait(self.ttl / 3):
            try:
                if not self.store.renew(self.key, self.owner, self.ttl):
                    self.lost = True
                    log.error("lease %s lapsed and was taken over; another worker may run this PR", self.key)
                    return
            except Exception as error:  # the store is down: keep trying while the job runs
                log.warning("could not renew lease %s: %s", self.key, error)

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join()
        try:
            self.store.release(self.key, self.owner)
        except Exception as error:
            log.warning("could not release lease %s (it lapses in %.0f s): %s", self.key, self.ttl, error)
