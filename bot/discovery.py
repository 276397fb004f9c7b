"""Find the Dockerfiles that `mountie check PATH ...` lints, and the `.dockerignore` of each.

A path named on the command line is linted whatever its name. A directory is searched
recursively for files whose name says they are Dockerfiles (`is_dockerfile_name`):

* `Dockerfile`, `dockerfile`, `Containerfile`;
* `Dockerfile.<anything>` and `Containerfile.<anything>` (`Dockerfile.dev`, `Dockerfile.prod`);
* `<anything>.Dockerfile`, `<anything>.dockerfile`, `<anything>.Containerfile`,
  `<anything>.containerfile`;

except the build-context ignore files (`Dockerfile.dockerignore`, `api.Dockerfile.dockerignore`)
and editor or patch leftovers (`Dockerfile.orig`, `.rej`, `.bak`, `.swp`, `.swo`, `.tmp`, `~`).
The search skips version-control and dependency directories (`.git`, `.hg`, `.svn`,
`node_modules`) and does not follow symbolic links to directories (no loops). Results are sorted
so output is stable.

A repository configuration's `files.include` globs add names found in directories, and its
`files.exclude` globs drop files (found or named), both relative to the configuration's
repository root (`FileFilter`): `*` and `?` stay within one path segment, `**` spans any number of
them, a pattern without `/` matches a name at any depth, and a pattern that matches a directory
covers everything below it.

The `.pre-commit-hooks.yaml` `files` regex (`PRE_COMMIT_FILES` below, checked by the tests) selects
the same names.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

SKIP_DIRS = frozenset({".git", ".hg", ".svn", "node_modules"})
_LEFTOVER_SUFFIXES = ("dockerignore", "orig", "rej", "bak", "swp", "swo", "tmp")

# The same selection as `is_dockerfile_name`, as a regex on a slash-separated path (pre-commit's
# `files:`); kept in `.pre-commit-hooks.yaml`.
PRE_COMMIT_FILES = (
    r"(^|/)("
    r"(Dockerfile|dockerfile|Containerfile)"
    r"|(Dockerfile|Containerfile)\.(?!(dockerignore|orig|rej|bak|swp|swo|tmp)$)[^/]*[^/~]"
    r"|[^/]+\.([Dd]ockerfile|[Cc]ontainerfile)"
    r")$"
)


def is_dockerfile_name(name: str) -> bool:
    """Whether a file called `name`, found in a directory, is a Dockerfile to lint."""
    if name in ("Dockerfile", "dockerfile", "Containerfile"):
        return True
    if name.endswith("~"):
        return False
    for base in ("Dockerfile.", "Containerfile."):
        if name.startswith(base):
            suffix = name[len(base) :]
            return bool(suffix) and suffix not in _LEFTOVER_SUFFIXES
    stem, dot, extension = name.rpartition(".")
    return bool(dot and stem) and extension in ("Dockerfile", "dockerfile", "Containerfile", "containerfile")


def _glob_regex(pattern: str) -> re.Pattern[str]:
    out: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        else:
            char = pattern[i]
            out.append("[^/]*" if char == "*" else "[^/]" if char == "?" else re.escape(char))
            i += 1
    return re.compile("".join(out))


class FileFilter:
    """`files.include` / `files.exclude` globs of a configuration, relative to `root`."""

    def __init__(self, root: str, include: Iterable[str] = (), exclude: Iterable[str] = ()) -> None:
        self.root = os.path.abspath(root)
        self._include = [self._compile(p) for p in include if p.strip()]
        self._exclude = [self._compile(p) for p in exclude if p.strip()]

    @staticmethod
    def _compile(pattern: str) -> tuple[re.Pattern[str], bool]:
        cleaned = pattern.strip().removeprefix("./").strip("/")
        return _glob_regex(cleaned), "/" not in cleaned

    def _relative(self, path: str) -> str | None:
        relative = os.path.relpath(os.path.abspath(path), self.root)
        return None if relative == ".." or relative.startswith("../") else Path(relative).as_posix()

    @staticmethod
    def _matches(patterns: list[tuple[re.Pattern[str], bool]], relative: str) -> bool:
        parts = relative.split("/")
        prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
        for regex, anywhere in patterns:
            candidates = parts if anywhere else prefixes
            if any(regex.fullmatch(candidate) for candidate in candidates):
                return True
        return False

    def includes(self, path: str) -> bool:
        relative = self._relative(path)
        return relative is not None and self._matches(self._include, relative)

    def excludes(self, path: str) -> bool:
        relative = self._relative(path)
        return relative is not None and self._matches(self._exclude, relative)


@dataclass(frozen=True, slots=True)
class Target:
    """One Dockerfile to lint. `path` is what output shows (normalised, forward slashes); `-` is
    standard input."""

    path: str

    @property
    def is_stdin(self) -> bool:
        return self.path == "-"


@dataclass(frozen=True, slots=True)
class InputError:
    """A command-line path that yields nothing to lint, or a file that cannot be read."""

    path: str
    message: str


def display_path(path: str) -> str:
    normal = os.path.normpath(path)
    return normal if os.sep == "/" else Path(normal).as_posix()


def _display_join(directory: str, name: str) -> str:
    """display_path(os.path.join(d, name)) for a plain file name and d = display_path(...)."""
    if directory == ".":
        return name
    return directory + name if directory.endswith("/") else f"{directory}/{name}"


def discover(paths: list[str], files: FileFilter | None = None) -> tuple[list[Target], list[InputError]]:
    """Expand command-line paths into Dockerfiles, in command-line order, each once."""
    targets: list[Target] = []
    errors: list[InputError] = []
    seen: set[str] = set()

    def add(path: str, real: str | None = None) -> None:
        if path != "-" and files is not None and files.excludes(path):
            return
        key = path if path == "-" else real or os.path.realpath(path)
        if key not in seen:
            seen.add(key)
            targets.append(Target(path))

    for raw in paths:
        if raw == "-":
            add("-")
            continue
        shown = display_path(raw)
        try:
            if os.path.isdir(raw):
                found = _walk(raw, files)
                if not found:
                    errors.append(InputError(shown, "no Dockerfiles found in this directory"))
                for path, real in found:
                    add(path, real)
            elif os.path.exists(raw):
                add(shown)
            else:
                errors.append(InputError(shown, "no such file or directory"))
        except OSError as error:
            errors.append(InputError(shown, error.strerror or str(error)))
    return targets, errors


def _walk(root: str, files: FileFilter | None = None) -> list[tuple[str, str]]:
    """The Dockerfiles under `root` as (path to show, real path), in the order of a sorted top-down
    `os.walk` (a directory's files, then each subdirectory) that does not follow symbolic links to
    directories. The real path of a file that is not a link is its directory's plus its name: one
    `realpath` per search instead of one per file. An unreadable directory raises OSError."""
    found: list[tuple[str, str]] = []
    # (directory as given, as shown, real path), last to visit first
    pending = [(root, display_path(root), os.path.realpath(root))]
    while pending:
        directory, shown, real = pending.pop()
        names: list[str] = []
        links: set[str] = set()
        subdirectories: list[str] = []
        with os.scandir(directory) as entries:
            for entry in entries:
                try:
                    is_dir = entry.is_dir()
                except OSError:
                    is_dir = False
                if is_dir:
                    if entry.name not in SKIP_DIRS and not entry.is_symlink():
                        subdirectories.append(entry.name)
                    continue
                names.append(entry.name)
                try:
                    if entry.is_symlink():
                        links.add(entry.name)
                except OSError:
                    links.add(entry.name)
        for name in sorted(names):
            path = os.path.join(directory, name)
            if is_dockerfile_name(name) or (files is not None and files.includes(path)):
                target = os.path.realpath(path) if name in links else os.path.join(real, name)
                found.append((_display_join(shown, name), target))
        for name in sorted(subdirectories, reverse=True):
            pending.append(
                (os.path.join(directory, name), _display_join(shown, name), os.path.join(real, name))
            )
    return found


def find_dockerignore(dockerfile: str) -> Path | None:
    """The ignore file the Docker CLI would use if the Dockerfile's directory is the build
    context: `<Dockerfile name>.dockerignore` beside it, else `.dockerignore` there."""
    directory, name = os.path.split(dockerfile)
    if name in ("", ".", ".."):  # not a file name: as pathlib reads it
        path = Path(dockerfile)
        candidates = [path.with_name(path.name + ".dockerignore"), path.with_name(".dockerignore")]
        return next((candidate for candidate in candidates if candidate.is_file()), None)
    for candidate in (
        os.path.join(directory, name + ".dockerignore"),
        os.path.join(directory, ".dockerignore"),
    ):
        if os.path.isfile(candidate):
            return Path(candidate)
    return None
