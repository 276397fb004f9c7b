"""Facts the rules share, derived from the Dockerfile model (pure, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

from bot.analysis.dockerignore import DockerIgnore
from bot.dockerfile.model import Dockerfile

if TYPE_CHECKING:
    from bot.rules.base import Finding, Rule


class FixOptions(NamedTuple):
    """How fixes move artifacts out of a mount (`.github/mountie.yml` `fix:` section)."""

    move_command: str = "mv"  # "mv", or "cp" to keep the cache warm
    destination: str = "/tmp"  # where artifacts go when moved out


@dataclass(frozen=True, slots=True)
class Analysis:
    """Everything a rule's check gets: the model plus what is known about the build context."""

    dockerfile: Dockerfile
    dockerignore: DockerIgnore | None = None  # None: the build context's .dockerignore is unknown
    fix_options: FixOptions = field(default_factory=FixOptions)
    has_mounts: bool = field(default=False, init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        has_mounts = any(step.mounts for step in self.dockerfile.steps())
        object.__setattr__(self, "has_mounts", has_mounts)

    def findings(self, rule: Rule) -> tuple[Finding, ...]:
        """`rule`'s findings on this analysis. A rule that `needs_mounts` is not run on a
        Dockerfile without any `--mount`."""
        return tuple(rule.check(self)) if self.has_mounts or not rule.needs_mounts else ()


__all__ = ["Analysis", "DockerIgnore", "FixOptions"]
