"""Facts the rules share, derived from the Dockerfile model (pure, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.analysis.dockerignore import DockerIgnore
from bot.dockerfile.model import Dockerfile


@dataclass(frozen=True, slots=True)
class FixOptions:
    """How fixes move artifacts out of a mount (`.github/mountie.yml` `fix:` section)."""

    move_command: str = "mv"  # "mv", or "cp" to keep the cache warm
    destination: str = "/tmp"  # where artifacts go when moved out


@dataclass(frozen=True, slots=True)
class Analysis:
    """Everything a rule's check gets: the model plus what is known about the build context."""

    dockerfile: Dockerfile
    dockerignore: DockerIgnore | None = None  # None: the build context's .dockerignore is unknown
    fix_options: FixOptions = field(default_factory=FixOptions)


__all__ = ["Analysis", "DockerIgnore", "FixOptions"]
