"""The delivery ledger: durable, shared, and forgetting deliveries only after they can no longer
be redelivered (3 days on github.com, 7 on GitHub Enterprise Server)."""

from __future__ import annotations

from pathlib import Path

from bot.jobs.ledger import DEFAULT_TTL_SECONDS, DeliveryLedger

DAY = 24 * 3600.0


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_delivery_is_claimed_once(tmp_path: Path) -> None:
    ledger = DeliveryLedger(tmp_path / "deliveries.db")
    assert ledger.claim("72d3162e-cc78-11e3-81ab-4c9367dc0958")
    assert not ledger.claim("72d3162e-cc78-11e3-81ab-4c9367dc0958")
    assert ledger.claim("another")
    assert ledger.seen("another") and not ledger.seen("never")


def test_claims_survive_a_restart_and_are_shared_between_processes(tmp_path: Path) -> None:
    assert DeliveryLedger(tmp_path / "deliveries.db").claim("d1")
    assert not DeliveryLedger(tmp_path / "deliveries.db").claim("d1")


def test_entries_outlive_githubs_redelivery_windows_and_then_expire(tmp_path: Path) -> None:
    assert DEFAULT_TTL_SECONDS > 7 * DAY
    clock = Clock()
    ledger = DeliveryLedger(tmp_path / "deliveries.db", clock=clock)
    assert ledger.claim("d1")
    clock.now += 7 * DAY + 3600
    assert not ledger.claim("d1")  # a GHES redelivery a week later is still a duplicate
    clock.now += 2 * DAY
    assert not ledger.seen("d1")
    assert ledger.claim("d1")  # expired: a new delivery as far as we can tell


def test_expired_entries_are_purged(tmp_path: Path) -> None:
    clock = Clock()
    ledger = DeliveryLedger(tmp_path / "deliveries.db", ttl=3 * DAY, clock=clock)
    for n in range(5):
        ledger.claim(f"old-{n}")
    clock.now += 3 * DAY + 1
    ledger.claim("new")  # more than an hour since the last purge: purges first
    assert ledger.purge() == 0
    assert not any(ledger.seen(f"old-{n}") for n in range(5)) and ledger.seen("new")


def test_release_forgets_a_claim(tmp_path: Path) -> None:
    ledger = DeliveryLedger(tmp_path / "deliveries.db")
    assert ledger.claim("d1")
    ledger.release("d1")
    assert ledger.claim("d1")
