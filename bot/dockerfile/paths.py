"""POSIX path helpers for paths inside an image (never the host filesystem)."""

from __future__ import annotations

import fnmatch
import posixpath

_GLOB_CHARS = frozenset("*?[")


def clean(path: str) -> str:
    cleaned = posixpath.normpath(path)
    if cleaned.startswith("//"):
        cleaned = "/" + cleaned.lstrip("/")
    return cleaned


def join(base: str, path: str) -> str:
    """Resolve `path` against directory `base` (absolute paths win), cleaned."""
    return clean(posixpath.join(base or "/", path))


def has_glob(path: str) -> bool:
    return any(ch in _GLOB_CHARS for ch in path)


def parts(path: str) -> list[str]:
    return [p for p in clean(path).split("/") if p]


def is_within(path: str, directory: str) -> bool:
    """True when `path` equals `directory` or lies below it. `path` may contain glob characters."""
    path_parts = parts(path)
    dir_parts = parts(directory)
    if len(path_parts) < len(dir_parts):
        return False
    for have, want in zip(path_parts, dir_parts, strict=False):
        if have != want and not (has_glob(have) and fnmatch.fnmatchcase(want, have)):
            return False
    return True


def relative_to(path: str, directory: str) -> str | None:
    """`path` relative to `directory` when it lies below it ("." when equal), else None."""
    if not is_within(path, directory):
        return None
    rel = parts(path)[len(parts(directory)) :]
    return "/".join(rel) or "."


def display(path: str, workdir: str) -> str:
    """How to write `path` in a command run at `workdir`: relative when below it, else absolute."""
    rel = relative_to(path, workdir)
    if rel is not None and rel != "." and workdir != "/":
        return rel
    return path
