"""POSIX path helpers for paths inside an image (never the host filesystem).

These are pure functions on strings that the rules call tens of thousands of times per file
with few distinct arguments, so the hot ones are memoized (bounded LRU caches). Arguments longer
than `_MEMO_LIMIT` characters bypass the caches, which bounds their memory whatever a file holds.
"""

from __future__ import annotations

import fnmatch
import posixpath
from functools import lru_cache

_MEMO_LIMIT = 512
_MEMO_SIZE = 8192


def _clean(path: str) -> str:
    cleaned = posixpath.normpath(path)
    if cleaned.startswith("//"):
        cleaned = "/" + cleaned.lstrip("/")
    return cleaned


_clean_memo = lru_cache(maxsize=_MEMO_SIZE)(_clean)


def clean(path: str) -> str:
    return _clean_memo(path) if len(path) <= _MEMO_LIMIT else _clean(path)


def _join(base: str, path: str) -> str:
    return _clean(posixpath.join(base or "/", path))


_join_memo = lru_cache(maxsize=_MEMO_SIZE)(_join)


def join(base: str, path: str) -> str:
    """Resolve `path` against directory `base` (absolute paths win), cleaned."""
    return _join_memo(base, path) if len(base) + len(path) <= _MEMO_LIMIT else _join(base, path)


def has_glob(path: str) -> bool:
    return "*" in path or "?" in path or "[" in path  # three scans in C beat one in Python


def _parts(path: str) -> tuple[str, ...]:
    return tuple(p for p in _clean(path).split("/") if p)


_parts_memo = lru_cache(maxsize=_MEMO_SIZE)(_parts)


def parts(path: str) -> tuple[str, ...]:
    return _parts_memo(path) if len(path) <= _MEMO_LIMIT else _parts(path)


def _is_within(path: str, directory: str) -> bool:
    path_parts = parts(path)
    dir_parts = parts(directory)
    if len(path_parts) < len(dir_parts):
        return False
    for have, want in zip(path_parts, dir_parts, strict=False):
        if have != want and not (has_glob(have) and fnmatch.fnmatchcase(want, have)):
            return False
    return True


_is_within_memo = lru_cache(maxsize=_MEMO_SIZE)(_is_within)


def is_within(path: str, directory: str) -> bool:
    """True when `path` equals `directory` or lies below it. `path` may contain glob characters."""
    if len(path) + len(directory) <= _MEMO_LIMIT:
        return _is_within_memo(path, directory)
    return _is_within(path, directory)


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
