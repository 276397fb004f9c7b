"""The emulator fixtures of `harness.py`, for the review service tests."""

from tests.github.harness import app_key, app_pem, client, clock, emu, settings, sleeps

__all__ = ["app_key", "app_pem", "client", "clock", "emu", "settings", "sleeps"]
