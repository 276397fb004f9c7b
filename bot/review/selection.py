"""Which changed files of a pull request are Dockerfiles to review.

The names `mountie check` finds in a directory (`bot.discovery.is_dockerfile_name`), plus the
configuration's `files.include` globs, minus its `files.exclude` globs, all relative to the
repository root. Removed files have nothing left to review.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable

from bot.config import RepoConfig
from bot.discovery import FileFilter, is_dockerfile_name
from bot.review.model import ChangedFile

_ROOT = "/"  # FileFilter matches paths below a root; repository paths are relative to it


def select_dockerfiles(files: Iterable[ChangedFile], config: RepoConfig) -> list[ChangedFile]:
    globs = FileFilter(_ROOT, config.include, config.exclude)
    selected: list[ChangedFile] = []
    for file in files:
        if file.status == "removed":
            continue
        rooted = _ROOT + file.path
        if globs.excludes(rooted):
            continue
        if is_dockerfile_name(posixpath.basename(file.path)) or globs.includes(rooted):
            selected.append(file)
    return selected
