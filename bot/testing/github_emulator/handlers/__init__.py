"""Endpoint implementations, one module per API area; importing this package registers them all."""

from bot.testing.github_emulator.handlers import apps, checks, issues, pulls, repos, reviews
from bot.testing.github_emulator.handlers.registry import HANDLERS, Handler

__all__ = ["HANDLERS", "Handler", "apps", "checks", "issues", "pulls", "repos", "reviews"]
