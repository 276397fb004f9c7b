"""Fixtures every GitHub-facing test shares: the App's RSA key (made once per session: 2048-bit
generation takes a noticeable fraction of a second) and a fake clock for the emulator."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from bot.testing.github_emulator import FakeClock


@pytest.fixture(scope="session")
def app_key() -> RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def app_pem(app_key: RSAPrivateKey) -> str:
    return app_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
