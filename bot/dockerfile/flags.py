"""Leading `--flag[=value]` words of an instruction (BuildKit `extractBuilderFlags`)."""

from __future__ import annotations

import re
from typing import NamedTuple

from bot.dockerfile.jsonargs import GO_SPACE

# A whole flag word without quotes or escape characters (ended by a blank or the text's end).
_PLAIN_FLAG = {
    escape: re.compile(f"--[^{re.escape(GO_SPACE)}'\"{re.escape(escape)}]*(?![^{re.escape(GO_SPACE)}])")
    for escape in ("\\", "`")
}


class Flag(NamedTuple):
    name: str  # without the leading dashes, as written (flag names are case-sensitive)
    value: str | None  # None for a bare `--link`
    raw: str  # the flag word after quote removal, e.g. `--mount=type=cache,target=/x`
    # Where the flag word starts and ends in the instruction's logical line.
    start: int
    end: int


def split_flags(text: str, escape: str) -> tuple[list[tuple[str, int, int]], int]:
    """Return the flag words (unquoted, with their spans in `text`) and where the arguments start.

    Flags are the leading words that start with `--`; quotes inside them are removed, the escape
    character escapes the next character, and a lone `--` ends the flags.
    """
    words: list[tuple[str, int, int]] = []
    pos = 0
    n = len(text)
    while True:
        while pos < n and text[pos] in GO_SPACE:
            pos += 1
        if pos >= n or not text.startswith("--", pos):
            return words, pos
        start = pos
        plain = _PLAIN_FLAG[escape].match(text, pos)
        if plain is not None:
            # No quote or escape character in the word: it is its own unquoted value.
            pos = plain.end()
            value = plain.group()
            if value == "--":
                while pos < n and text[pos] in GO_SPACE:
                    pos += 1
                return words, pos
            words.append((value, start, pos))
            continue
        word: list[str] = []
        quote = ""
        while pos < n:
            ch = text[pos]
            if quote:
                if ch == quote:
                    quote = ""
                elif ch == escape and pos + 1 < n:
                    pos += 1
                    word.append(text[pos])
                else:
                    word.append(ch)
            elif ch in GO_SPACE:
                break
            elif ch in "'\"":
                quote = ch
            elif ch == escape:
                if pos + 1 < n:
                    pos += 1
                    word.append(text[pos])
            else:
                word.append(ch)
            pos += 1
        value = "".join(word)
        if value == "--":
            while pos < n and text[pos] in GO_SPACE:
                pos += 1
            return words, pos
        words.append((value, start, pos))


def parse_flags(text: str, escape: str, offset: int = 0) -> tuple[tuple[Flag, ...], str, int]:
    """Flags as `Flag` objects, the remaining arguments, and where those arguments start."""
    words, rest_start = split_flags(text, escape)
    flags = []
    for word, start, end in words:
        body = word[2:]
        name, eq, value = body.partition("=")
        flags.append(Flag(name, value if eq else None, word, start + offset, end + offset))
    return tuple(flags), text[rest_start:].rstrip(GO_SPACE), offset + rest_start
