"""Shared by the facade and service tests: a strict emulator with Mountie installed, settings
pointing at it, and clients whose sleeps advance the emulator's fake clock instead of waiting."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from bot.app.settings import AppSettings
from bot.github import GitHubClient
from bot.testing.github_emulator import FakeClock, GitHubEmulator

APP_ID = 4242
INSTALLATION_ID = 99
REPO = "octo/app"
BOT = "mountie[bot]"


class Sleeps:
    """A `sleep` that advances the fake clock and remembers each wait."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.clock.advance(seconds)


@pytest.fixture
def sleeps(clock: FakeClock) -> Sleeps:
    return Sleeps(clock)


@pytest.fixture
def emu(clock: FakeClock, app_key: RSAPrivateKey) -> Iterator[GitHubEmulator]:
    """Mountie registered and installed on `octo`; any off-spec request fails the test."""
    with GitHubEmulator(clock=clock, strict_responses=True) as emulator:
        emulator.add_app(APP_ID, "mountie", app_key)
        emulator.add_installation(INSTALLATION_ID, APP_ID, "octo")
        yield emulator
        assert emulator.violations == []


@pytest.fixture
def settings(emu: GitHubEmulator, app_pem: str) -> AppSettings:
    return AppSettings(
        app_id=APP_ID,
        private_key=app_pem,
        webhook_secret="secret",
        api_url=emu.url,
        secondary_rate_limit_wait=5,
    )


def make_client(settings: AppSettings, fake: FakeClock, sleeps: Sleeps, **options: Any) -> GitHubClient:
    """A client on the emulator's fake clock; `options` override the GitHubClient arguments."""
    kwargs: dict[str, Any] = {"sleep": sleeps, "clock": fake.now, "throttle": False, "timeout": 5}
    kwargs.update(options)
    return GitHubClient(settings, INSTALLATION_ID, **kwargs)


@pytest.fixture
def client(settings: AppSettings, clock: FakeClock, sleeps: Sleeps) -> GitHubClient:
    return make_client(settings, clock, sleeps)


def api_calls(emu: GitHubEmulator) -> list[tuple[str, str | None, int]]:
    """(method, operation, status) of every request but installation-token ones."""
    return [
        (r.method, r.operation_id, r.status)
        for r in emu.requests
        if r.operation_id != "apps/create-installation-access-token"
    ]
