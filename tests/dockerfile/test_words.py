"""ARG/ENV expansion with BuildKit's shell-word rules; unresolved values are None, never guessed."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.dockerfile.words import Scope, expand, shell_split_words, unresolved_name, whitespace_words

SCOPE = Scope({"SET": "value", "EMPTY": "", "UNKNOWN": None}, complete=True)
OPEN = Scope({"SET": "value"}, complete=False)


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("plain", "plain"),
        ("$SET", "value"),
        ("${SET}/bin", "value/bin"),
        ("pre${SET}post", "prevaluepost"),
        ("$SET.txt", "value.txt"),
        ("$UNSET", ""),
        ("${UNSET:-default}", "default"),
        ("${EMPTY:-default}", "default"),
        ("${EMPTY-default}", ""),
        ("${UNSET-default}", "default"),
        ("${SET:-default}", "value"),
        ("${SET:+alt}", "alt"),
        ("${EMPTY:+alt}", ""),
        ("${EMPTY+alt}", "alt"),
        ("${UNSET:+alt}", ""),
        ("${UNSET:-${SET}}", "value"),
        ("'$SET'", "$SET"),
        ('"$SET"', "value"),
        ('"a b"', "a b"),
        ("\\$SET", "$SET"),
        ('"\\$SET"', "$SET"),
        ("a\\ b", "a b"),
        ("$", "$"),
        ("cost$", "cost$"),
    ],
)
def test_expand(word: str, expected: str) -> None:
    assert expand(word, SCOPE) == expected


@pytest.mark.parametrize(
    "word",
    [
        "$UNKNOWN",  # declared without a value (an ARG without default)
        "${UNKNOWN:-d}",  # the default only applies when the variable is known to be unset
        "${UNKNOWN:+a}",
        "${SET#v}",  # pattern operators are not modelled
        "${SET%e}",
        "${SET/v/w}",
        "${UNSET:?must be set}",
        "${}",
    ],
)
def test_unresolved(word: str) -> None:
    assert expand(word, SCOPE) is None


def test_names_missing_from_an_open_scope_are_unknown() -> None:
    # The base image may set any ENV, so an undeclared name is not known to be empty.
    assert expand("$SET/$HOME", OPEN) is None
    assert unresolved_name("$SET/$HOME", OPEN) == "HOME"
    assert expand("$SET", OPEN) == "value"


def test_backtick_escape() -> None:
    assert expand("C:\\dir", SCOPE, "`") == "C:\\dir"
    assert expand("a` b", SCOPE, "`") == "a b"


def test_expand_without_dequoting_keeps_quotes() -> None:
    assert expand("'$SET' \"$SET\"", SCOPE, dequote=False) == "'$SET' \"value\""


def test_word_splitters() -> None:
    assert whitespace_words("a  b\tc") == [("a", 0, 1), ("b", 3, 4), ("c", 5, 6)]
    assert [w for w, _, _ in shell_split_words('A="x y" B=z\\ w C')] == ['A="x y"', "B=z\\ w", "C"]


@settings(max_examples=1000, deadline=None)
@given(st.text(alphabet="ab= \t'\"\\$x\n\r\x0b\x1c\x85\u00a0\u3000", max_size=40))
def test_env_arg_words_split_like_dockerfile_parse(text: str) -> None:
    """The plain-text fast path and the quoted path (a regex) both give dockerfile-parse's words,
    Unicode whitespace included."""
    from dockerfile_parse.util import WordSplitter

    from bot.dockerfile.model import _key_value_words

    expected = [w for w in WordSplitter(text).split(dequote=False) if w]
    assert _key_value_words(text) == expected
