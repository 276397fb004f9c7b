"""`dump_json` writes what `json.dumps(value, indent=2, ensure_ascii=False)` writes."""

from __future__ import annotations

import json
import random

import pytest

from bot.output import dump_json

DOCUMENTS = [
    {},
    [],
    "",
    0,
    None,
    True,
    {"a": {}, "b": [], "c": [[]], "d": [{}], "e": ({"f": ()},)},
    {"version": 1, "files": [{"path": "a/Dockerfile", "findings": [], "problems": [{"fatal": False}]}]},
    {"text": 'quote " backslash \\ tab \t newline \n nul \x00 bell \x07 del \x7f é ü ∑ 😀 \u2028'},
    {"big": 10**30, "negative": -7, "bools": [True, False, None], "nested": [[1, [2, [3]]]]},
    {"surrogate": "a\udce9b"},  # what surrogateescape leaves of a byte that is not UTF-8
    {"é": "key with an accent", "": "empty key"},
]


@pytest.mark.parametrize("document", DOCUMENTS)
def test_same_as_json_dumps(document: object) -> None:
    assert dump_json(document) == json.dumps(document, indent=2, ensure_ascii=False)


def test_random_documents() -> None:
    rng = random.Random(7)
    alphabet = 'ab"\\\n\t\x01é€😀 '

    def value(depth: int) -> object:
        kind = rng.randrange(8 if depth < 4 else 5)
        if kind == 0:
            return "".join(rng.choice(alphabet) for _ in range(rng.randrange(6)))
        if kind == 1:
            return rng.randrange(-1000, 1000)
        if kind == 2:
            return rng.choice([True, False, None])
        if kind in (3, 4):
            return rng.choice(["x", ""])
        if kind == 5:
            return [value(depth + 1) for _ in range(rng.randrange(4))]
        if kind == 6:
            return tuple(value(depth + 1) for _ in range(rng.randrange(3)))
        return {
            "".join(rng.choice(alphabet) for _ in range(3)): value(depth + 1) for _ in range(rng.randrange(4))
        }

    for _ in range(300):
        document = value(0)
        assert dump_json(document) == json.dumps(document, indent=2, ensure_ascii=False)


@pytest.mark.parametrize("document", [{"ratio": 0.5}, {1: "int key"}, {"nested": [{None: 1}]}, [1.5e300]])
def test_anything_else_is_left_to_json(document: object) -> None:
    assert dump_json(document) == json.dumps(document, indent=2, ensure_ascii=False)
