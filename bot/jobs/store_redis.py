"""The coordination store in Redis, beside RedisHuey's queue (MOUNTIE_QUEUE_URL=redis://...).

Keys, under the namespace `mountie` (or `mountie_<prefix>` with `?prefix=`):

- `{ns}:delivery:{id}`: the ledger, with an 8-day TTL;
- `{ns}:lease:{key}`: `SET owner NX PX ttl`; renewed and released only by their owner (Lua
  compare-and-`PEXPIRE` / compare-and-`DEL`);
- `{ns}:newest`: a hash, PR -> delivery id of its newest REVIEW job;
- `{ns}:inflight`: a hash, delivery id -> JSON (the job, admitted/active times, started, waiting).

Admission is one Lua script: claim the delivery, `LPUSH` the task onto huey's list
(`huey.redis.<name>`, the key RedisHuey `BRPOP`s), note it in flight and as newest. Redis runs a
script atomically, so a delivery is acknowledged only with its job queued. Run Redis with
`appendonly yes` so that what was acknowledged survives a Redis restart.
"""

from __future__ import annotations

import json
from typing import Any

from bot.jobs.model import Job, JobKind
from bot.jobs.store import LEDGER_TTL, InFlight, lease_key

# Redis runs a script without interleaving but does not undo the writes before a failing command:
# the job goes on the queue before the delivery is claimed, so a failure leaves at worst a job
# whose redelivery is accepted again (coalesced, and idempotent), never a claim without its job.
_ADMIT = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('LPUSH', KEYS[2], ARGV[2])
redis.call('HSET', KEYS[3], ARGV[3], ARGV[4])
if ARGV[5] ~= '' then redis.call('HSET', KEYS[4], ARGV[5], ARGV[3]) end
redis.call('SET', KEYS[1], '1', 'EX', ARGV[1])
return 1
"""
_FINISH = """
redis.call('HDEL', KEYS[1], ARGV[1])
if redis.call('HGET', KEYS[2], ARGV[2]) == ARGV[1] then redis.call('HDEL', KEYS[2], ARGV[2]) end
return 1
"""
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisStore:
    def __init__(
        self, client: Any, namespace: str, queue_key: str, *, ledger_ttl: float = LEDGER_TTL
    ) -> None:
        """`client`: a redis.Redis (RedisHuey's); `queue_key`: the list huey's consumers pop."""
        self.redis = client
        self.namespace = namespace
        self.queue_key = queue_key
        self.ledger_ttl = ledger_ttl
        self._inflight = f"{namespace}:inflight"
        self._newest = f"{namespace}:newest"
        self._admit = client.register_script(_ADMIT)
        self._finish = client.register_script(_FINISH)
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)

    def _delivery(self, delivery_id: str) -> str:
        return f"{self.namespace}:delivery:{delivery_id}"

    def _lease(self, key: str) -> str:
        return f"{self.namespace}:lease:{key}"

    # -- admission ----------------------------------------------------------------------------------

    def admit(self, job: Job, message: bytes, now: float) -> bool:
        entry = _encode(job, created_at=now, active_at=now, started=False)
        newest = lease_key(job) if job.kind is JobKind.REVIEW else ""
        keys = [self._delivery(job.delivery_id), self.queue_key, self._inflight, self._newest]
        args = [int(self.ledger_ttl), message, job.delivery_id, entry, newest]
        return bool(self._admit(keys=keys, args=args))

    def requeue(self, job: Job, message: bytes, now: float) -> None:
        current = self.entry(job.delivery_id)
        entry = _encode(
            job,
            created_at=current.created_at if current else now,
            active_at=now,
            started=current.started if current else False,
        )
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.lpush(self.queue_key, message)
            pipe.hset(self._inflight, job.delivery_id, entry)
            pipe.execute()

    def seen(self, delivery_id: str) -> bool:
        return bool(self.redis.exists(self._delivery(delivery_id)))

    # -- newest and in flight -----------------------------------------------------------------------

    def newest(self, pr: str) -> str | None:
        value = self.redis.hget(self._newest, pr)
        return value.decode() if value is not None else None

    def entry(self, delivery_id: str) -> InFlight | None:
        raw = self.redis.hget(self._inflight, delivery_id)
        return _decode(raw) if raw is not None else None

    def begin(self, job: Job, now: float) -> None:
        current = self.entry(job.delivery_id)
        created = current.created_at if current else now
        self.redis.hset(self._inflight, job.delivery_id, _encode(job, created, now, started=True))

    def wait(self, delivery_id: str, until: float) -> None:
        current = self.entry(delivery_id)
        if current is not None:
            entry = _encode(current.job, current.created_at, current.active_at, current.started, until)
            self.redis.hset(self._inflight, delivery_id, entry)

    def finish(self, job: Job) -> None:
        self._finish(keys=[self._inflight, self._newest], args=[job.delivery_id, lease_key(job)])

    def in_flight(self) -> list[InFlight]:
        entries = [_decode(raw) for raw in self.redis.hvals(self._inflight)]
        return sorted(entries, key=lambda e: e.created_at)

    # -- leases -------------------------------------------------------------------------------------

    def acquire(self, key: str, owner: str, ttl: float) -> bool:
        return bool(self.redis.set(self._lease(key), owner, nx=True, px=_ms(ttl)))

    def renew(self, key: str, owner: str, ttl: float) -> bool:
        return bool(self._renew(keys=[self._lease(key)], args=[owner, _ms(ttl)]))

    def release(self, key: str, owner: str) -> None:
        self._release(keys=[self._lease(key)], args=[owner])

    def holder(self, key: str) -> str | None:
        value = self.redis.get(self._lease(key))
        return value.decode() if value is not None else None

    def ping(self) -> None:
        self.redis.ping()


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


def _encode(job: Job, created_at: float, active_at: float, started: bool, waiting_until: float = 0.0) -> str:
    return json.dumps(
        {
            "job": job.to_dict(),
            "created_at": created_at,
            "active_at": active_at,
            "started": started,
            "waiting_until": waiting_until,
        }
    )


def _decode(raw: bytes) -> InFlight:
    data = json.loads(raw)
    return InFlight(
        Job.from_dict(data["job"]),
        float(data["created_at"]),
        float(data["active_at"]),
        bool(data["started"]),
        float(data.get("waiting_until", 0.0)),
    )
