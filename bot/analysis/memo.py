"""Per-object memos that live exactly as long as the model object they belong to.

A cache is kept in the `__dict__` of the Step, Stage or Dockerfile it describes. A
`weakref.WeakKeyDictionary` cannot hold such caches when the cached value refers back to its
key (a RUN's commands name the step, a stage's chain holds the stage's steps, which hold the
stage): the entry then keeps its key, and with it the whole model, alive for ever, and a
long-running worker grows with every file it reviews. Stored on the object, the value is at most
part of a reference cycle, which the garbage collector frees with the model (and a lookup costs
a dict access, where a WeakKeyDictionary makes a weak reference each time). The hottest caches
(a RUN's tokens, effects and writes) read and write their `_memo_<name>` entry directly, without
the call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

T = TypeVar("T")


def memo(owner: object, name: str, compute: Callable[[], T]) -> T:
    """`compute()`, once per `owner` and `name` (`owner` must have a `__dict__`)."""
    store: dict[str, Any] = vars(owner)
    key = f"_memo_{name}"
    if key not in store:
        store[key] = compute()
    return cast(T, store[key])
