"""Word splitting and ARG/ENV expansion with BuildKit's shell-word rules.

Expansion never guesses: a reference to a variable whose value the Dockerfile does not determine
(an `ARG` without a default, an `ENV` the base image may set) makes the whole word unresolved.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import NamedTuple

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# `${A:-${B:-...}}` nested deeper than this is left unresolved (the expander recurses per level).
MAX_NESTING = 100
_WHITESPACE_WORD = re.compile(r"\S+")


class Scope(NamedTuple):
    """Variables visible at one instruction.

    `values[name]` is the value, or None when the variable is declared but its value is unknown.
    `complete` says whether a name missing from `values` is known to be unset (True) or might come
    from the base image (False).
    """

    values: Mapping[str, str | None]
    complete: bool = False

    def lookup(self, name: str) -> tuple[bool, str | None]:
        """(known, value): known=False means the value cannot be determined."""
        if name in self.values:
            value = self.values[name]
            return value is not None, value
        if self.complete:
            return True, None
        return False, None

    def with_values(self, updates: Mapping[str, str | None]) -> Scope:
        return Scope({**self.values, **updates}, self.complete)


EMPTY_SCOPE = Scope({}, complete=True)


class Unresolved(Exception):  # noqa: N818 - a control-flow signal, not an error
    """Raised inside expansion when a variable's value is unknown."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def expand(word: str, scope: Scope, escape: str = "\\", *, dequote: bool = True) -> str | None:
    """Expand `$X`, `${X}`, `${X:-d}`, `${X-d}`, `${X:+a}`, `${X+a}` and remove quotes.

    Returns None when the result depends on a value the Dockerfile does not determine.
    """
    if "$" not in word and (not dequote or ("'" not in word and '"' not in word and escape not in word)):
        return word
    try:
        return _Expander(word, scope, escape, dequote).run()
    except Unresolved:
        return None


def unresolved_name(word: str, scope: Scope, escape: str = "\\") -> str | None:
    """The first variable that keeps `word` from resolving, if any."""
    try:
        _Expander(word, scope, escape, True).run()
    except Unresolved as exc:
        return exc.name
    return None


class _Expander:
    def __init__(self, text: str, scope: Scope, escape: str, dequote: bool) -> None:
        self.text = text
        self.pos = 0
        self.scope = scope
        self.escape = escape
        self.dequote = dequote
        self.depth = 0  # `${...}` levels being expanded

    def run(self, stop: str = "") -> str:
        out: list[str] = []
        text = self.text
        while self.pos < len(text):
            ch = text[self.pos]
            if stop and ch in stop:
                break
            if ch == self.escape and self.pos + 1 < len(text):
                if not self.dequote:
                    out.append(ch)
                out.append(text[self.pos + 1])
                self.pos += 2
            elif ch == "'":
                end = text.find("'", self.pos + 1)
                end = len(text) if end < 0 else end
                chunk = text[self.pos + 1 : end]
                out.append(chunk if self.dequote else text[self.pos : end + 1])
                self.pos = end + 1
            elif ch == '"':
                self.pos += 1
                if not self.dequote:
                    out.append('"')
                out.append(self._double_quoted())
                if not self.dequote:
                    out.append('"')
            elif ch == "$":
                out.append(self._dollar())
            else:
                out.append(ch)
                self.pos += 1
        return "".join(out)

    def _double_quoted(self) -> str:
        out: list[str] = []
        text = self.text
        while self.pos < len(text):
            ch = text[self.pos]
            if ch == '"':
                self.pos += 1
                break
            if ch == self.escape and self.pos + 1 < len(text) and text[self.pos + 1] in '"$' + self.escape:
                if not self.dequote:
                    out.append(ch)
                out.append(text[self.pos + 1])
                self.pos += 2
            elif ch == "$":
                out.append(self._dollar())
            else:
                out.append(ch)
                self.pos += 1
        return "".join(out)

    def _dollar(self) -> str:
        text = self.text
        self.pos += 1
        if self.pos >= len(text):
            return "$"
        if text[self.pos] == "{":
            return self._braced()
        match = _NAME.match(text, self.pos)
        if not match:
            return "$"
        self.pos = match.end()
        return self._value(match.group(0))

    def _value(self, name: str) -> str:
        known, value = self.scope.lookup(name)
        if not known:
            raise Unresolved(name)
        return value or ""

    def _braced(self) -> str:
        text = self.text
        self.pos += 1  # the "{"
        match = _NAME.match(text, self.pos)
        if not match:
            raise Unresolved(text[self.pos : self.pos + 16])
        name = match.group(0)
        self.pos = match.end()
        if self.pos < len(text) and text[self.pos] == "}":
            self.pos += 1
            return self._value(name)
        operator = text[self.pos : self.pos + 2]
        if operator[:1] == ":" and operator[1:2] in ("-", "+", "?"):
            colon, op = True, operator[1]
            self.pos += 2
        elif operator[:1] in ("-", "+", "?"):
            colon, op = False, operator[0]
            self.pos += 1
        else:
            # Pattern operators (`#`, `%`, `/`) are not modelled: never guess their result.
            raise Unresolved(name)
        if self.depth >= MAX_NESTING:
            raise Unresolved(name)
        self.depth += 1
        word = self.run(stop="}")
        self.depth -= 1
        if self.pos < len(text) and text[self.pos] == "}":
            self.pos += 1
        known, value = self.scope.lookup(name)
        if not known:
            raise Unresolved(name)
        is_set = value is not None and (value != "" or not colon)
        if op == "-":
            return value if is_set and value is not None else word
        if op == "+":
            return word if is_set else ""
        if not is_set:
            raise Unresolved(name)
        return value or ""


def whitespace_words(text: str) -> list[tuple[str, int, int]]:
    """Split on whitespace only (BuildKit `parseStringsWhitespaceDelimited`), with spans."""
    return [(m.group(0), m.start(), m.end()) for m in _WHITESPACE_WORD.finditer(text)]


def shell_split_words(text: str, escape: str = "\\") -> list[tuple[str, int, int]]:
    """Split on unquoted whitespace, keeping quotes, with spans (for `KEY=value` lists)."""
    words: list[tuple[str, int, int]] = []
    i = 0
    n = len(text)
    while i < n:
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            break
        start = i
        quote = ""
        while i < n:
            ch = text[i]
            if quote:
                if ch == quote:
                    quote = ""
                elif ch == escape and quote == '"' and i + 1 < n:
                    i += 1
            elif ch.isspace():
                break
            elif ch in "'\"":
                quote = ch
            elif ch == escape and i + 1 < n:
                i += 1
            i += 1
        words.append((text[start:i], start, i))
    return words
