"""The emulator fixtures of `harness.py`, for the review tests (key and clock: `tests/conftest.py`)."""

from tests.github.harness import client, emu, settings, sleeps

__all__ = ["client", "emu", "settings", "sleeps"]
