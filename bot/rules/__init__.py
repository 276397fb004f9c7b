"""The rule registry: an explicit list, in code order (one module per rule)."""

from __future__ import annotations

from bot.rules import bkm001_artifact_in_cache_mount
from bot.rules.base import Finding, FixAvailability, Rule, Severity

ALL_RULES: tuple[Rule, ...] = (bkm001_artifact_in_cache_mount.RULE,)

RULES_BY_CODE: dict[str, Rule] = {rule.code: rule for rule in ALL_RULES}

__all__ = ["ALL_RULES", "RULES_BY_CODE", "Finding", "FixAvailability", "Rule", "Severity"]
