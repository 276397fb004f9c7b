"""Fixtures: a strict emulator that fails on violations (the RSA key and the fake clock come from
`tests/conftest.py`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from bot.testing.github_emulator import FakeClock, GitHubEmulator
from tests.emulator.support import APP_ID, INSTALLATION_ID


@pytest.fixture
def emu(clock: FakeClock, app_key: RSAPrivateKey) -> Iterator[GitHubEmulator]:
    """Started emulator checking its own answers too; the app is registered and installed on `octo`.

    Any request off GitHub's OpenAPI description fails the test at teardown; tests that send one on
    purpose consume it with `emu.take_violations()`.
    """
    with GitHubEmulator(clock=clock, strict_responses=True) as emulator:
        emulator.add_app(APP_ID, "mountie", app_key)
        emulator.add_installation(INSTALLATION_ID, APP_ID, "octo")
        yield emulator
        assert emulator.violations == []
