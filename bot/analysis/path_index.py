"""Which steps of a stage chain touch a path: an index that keeps the backward walks linear.

Many checks walk a chain backwards from a step, asking each earlier step whether it writes,
mounts or removes something at, above or below a path. Done for every RUN and every read, those
walks make a file with many instructions in one stage cost time quadratic in its size (a hostile
pull request with 20,000 instructions would take minutes). `PathIndex` answers the walk's real
question directly: the positions of the steps that touch a path *related* to the query (the same
path, one above it or one below it), latest first. A walk over those positions visits every step
its per-step test could accept, in the same order, so it returns exactly what the full walk does.

The index is a trie of path components. A query follows the query's components down, collecting
the steps that touch each ancestor on the way, then every step that touches something at or below
the last node. Glob components match as `paths.is_within` matches them (either side may be the
pattern), so the result stays a superset of what the per-step tests accept.
"""

from __future__ import annotations

import fnmatch
import heapq
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

from bot.analysis.memo import memo
from bot.dockerfile import paths

if TYPE_CHECKING:
    from bot.dockerfile.model import Stage, Step

Touched = Callable[["Step"], Iterable[str | None]]


class _Node:
    __slots__ = ("children", "globs", "here", "subtree")

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        self.globs: list[str] = []  # the keys of `children` with glob characters
        self.here: list[int] = []  # positions of steps touching exactly this path (ascending)
        self.subtree: list[int] = []  # positions of steps touching this path or one below it


def _add(positions: list[int], position: int) -> None:
    if not positions or positions[-1] != position:
        positions.append(position)


# Chains up to this many steps are not indexed: walking them whole costs less than building the
# trie (which asks every step what it touches), and the walks' results are the same either way.
_SMALL = 32


class PathIndex:
    """The steps of `chain` by the paths `touched(step)` names (None entries are ignored)."""

    def __init__(self, chain: list[Step], touched: Touched) -> None:
        self.chain = chain
        self._root = _Node()
        self._small = len(chain) <= _SMALL
        if self._small:
            return  # `related` answers every position: the callers' own tests decide
        for position, step in enumerate(chain):
            for path in touched(step):
                if path is not None:
                    self._insert(paths.parts(path), position)

    def _insert(self, parts: tuple[str, ...], position: int) -> None:
        node = self._root
        _add(node.subtree, position)
        for part in parts:
            if part not in node.children:
                node.children[part] = _Node()
                if paths.has_glob(part):
                    node.globs.append(part)
            node = node.children[part]
            _add(node.subtree, position)
        _add(node.here, position)

    def related(self, path: str, below: int | None = None) -> Iterator[int]:
        """Positions (< `below`, default all) of the steps touching a path at, above or below
        `path`, latest first, each once."""
        limit = len(self.chain) if below is None else min(below, len(self.chain))
        if self._small:
            yield from range(limit - 1, -1, -1)
            return
        lists: list[list[int]] = []
        nodes = [self._root]
        for part in paths.parts(path):
            lists.extend(node.here for node in nodes)
            nodes = [child for node in nodes for child in _matching(node, part)]
            if not nodes:
                break
        else:
            lists.extend(node.subtree for node in nodes)
        last = -1
        for position in heapq.merge(*(_descending(items, limit) for items in lists), reverse=True):
            if position != last:
                last = position
                yield position


def _matching(node: _Node, part: str) -> Iterator[_Node]:
    if paths.has_glob(part):
        for key, child in node.children.items():
            if key == part or fnmatch.fnmatchcase(key, part) or fnmatch.fnmatchcase(part, key):
                yield child
        return
    exact = node.children.get(part)
    if exact is not None:
        yield exact
    for key in node.globs:
        if fnmatch.fnmatchcase(part, key):
            yield node.children[key]


def _descending(items: list[int], limit: int) -> Iterator[int]:
    for index in range(bisect_left(items, limit) - 1, -1, -1):
        yield items[index]


def stage_index(stage: Stage, touched: Touched) -> PathIndex:
    """The index of `stage.chain()` by `touched`, built once per stage and `touched` function (the
    model is not changed once built), and kept on the stage (`bot.analysis.memo`)."""
    by_function: dict[Touched, PathIndex] = memo(stage, "path_indexes", dict)
    index = by_function.get(touched)
    if index is None:
        index = by_function[touched] = PathIndex(stage.chain(), touched)
    return index


class PathSet:
    """Paths, asked whether any is related to a path (the same path, one above it or one below
    it, as `paths.is_within` either way round), in time independent of how many there are; glob
    patterns among them (few in practice) are matched one by one."""

    def __init__(self, items: Iterable[str]) -> None:
        self.items = tuple(items)
        plain = [paths.parts(item) for item in self.items if not paths.has_glob(item)]
        self._exact = frozenset(plain)
        self._prefixes = frozenset(parts[:k] for parts in plain for k in range(len(parts) + 1))
        self._globbed = tuple(item for item in self.items if paths.has_glob(item))

    def related(self, path: str) -> bool:
        if paths.has_glob(path):
            return any(_related(path, item) for item in self.items)
        parts = paths.parts(path)
        return (
            parts in self._prefixes
            or any(parts[:k] in self._exact for k in range(len(parts) + 1))
            or any(_related(path, item) for item in self._globbed)
        )


def _related(a: str, b: str) -> bool:
    return paths.is_within(a, b) or paths.is_within(b, a)


_FEW = 32  # below this many paths, a scan is cheaper than building a PathSet
# (id(owner), name) -> (owner, set): holding the owner keeps its id from being reused while cached.
_SETS: OrderedDict[tuple[int, str], tuple[object, PathSet]] = OrderedDict()
_SETS_SIZE = 256


def any_related(
    owner: object, name: str, items: Callable[[], tuple[str, ...]], count: int, path: str
) -> bool:
    """Whether any of `items()` (`count` paths, derived from `owner`, which must not change) is
    related to `path`. Large lists become a `PathSet` once per owner and name, so asking for
    every path a RUN reads costs linear, not quadratic, time."""
    if count < _FEW:
        return any(_related(path, item) for item in items())
    key = (id(owner), name)
    entry = _SETS.get(key)
    if entry is None or entry[0] is not owner:
        entry = _SETS[key] = (owner, PathSet(items()))
        if len(_SETS) > _SETS_SIZE:
            _SETS.popitem(last=False)
    return entry[1].related(path)
