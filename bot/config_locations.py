"""Where a repository keeps its Mountie configuration, apart from `bot.config`'s parser: `mountie
check` looks for a configuration in every run and imports the parser only when it finds one."""

from __future__ import annotations

import os
from pathlib import Path

CONFIG_LOCATIONS = (".github/mountie.yml", ".github/mountie.yaml", ".mountie.yml", ".mountie.yaml")


def find_config(root: Path) -> Path | None:
    """The first of `CONFIG_LOCATIONS` that is a file under `root`."""
    for location in CONFIG_LOCATIONS:
        candidate = os.path.join(root, location)
        if os.path.isfile(candidate):
            return Path(candidate)
    return None
