"""A small POSIX shell reader for RUN commands: simple commands, their words, redirections and
inline assignments, with `cd` tracked so relative paths resolve where the command really runs.

It reads; it never runs anything. Constructs it does not model (functions, loops, subshell
semantics) are read as plain command lists, which is enough to find builds and copy-outs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import NamedTuple

_OPERATORS = ("&&", "||", ";;", ";", "|", "&", "\n", "(", ")")
_REDIRECT = re.compile(r"(\d*|&)(>>|>\||>&|>|<<-|<<<|<<|<&|<>|<)")
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")
_CONTROL_WORDS = frozenset(
    {"if", "then", "else", "elif", "fi", "do", "done", "while", "until", "for", "!", "{", "}"}
)


class Token(NamedTuple):
    """One token (a named tuple: scripts have hundreds of them, and tuples are cheap to make)."""

    kind: str  # "word", "op", "redirect"
    value: str  # word with quotes removed; operator text
    start: int
    end: int
    quoted: bool = False


# `Token(...)` runs a Python-level `__new__`; building the tuple directly skips that call.
_token: Callable[[tuple[str, str, int, int, bool]], Token] = partial(tuple.__new__, Token)


class Redirect(NamedTuple):
    operator: str
    target: str


@dataclass(slots=True)
class SimpleCommand:
    """Read-only by convention: not frozen, because a frozen dataclass sets each field through
    object.__setattr__, which made commands three times as costly to build (scripts have many)."""

    words: tuple[str, ...]
    assignments: dict[str, str] = field(default_factory=dict)
    redirects: tuple[Redirect, ...] = ()
    cwd: str | None = None  # directory set by an earlier `cd` in the same script (as written)
    start: int = 0
    end: int = 0
    # The program's base name: a field, set once, since readers ask for it again and again.
    name: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.name = self.words[0].rsplit("/", 1)[-1] if self.words else ""


# Characters that end a plain run inside a word (the word loop below handles each of them).
_PLAIN = re.compile(r"[^ \t\r\n;&|()<>\\'\"$]+")
_BLANKS = re.compile(r"[ \t\r]+")


# The common tokens in one match, after any blanks: line continuations, comments and the end
# (skipped), redirections (`2>`, `&>`; a lone `&` is an operator), operators, and whole words
# without quotes, escapes or `$` (possessive, so a word that goes on with a quote fails at once
# and takes the loop below).
_COMMON = re.compile(
    r"[ \t\r]*+(?:"
    r"(?P<skip>\\\n|\#[^\n]*+|\Z)"
    r"|(?P<redirect>\d*+(?:>>|>\||>&|>|<<-|<<<|<<|<&|<>|<)|&(?:>>|>\||>&|>))"
    r"|(?P<op>&&|\|\||;;|[;&|\n()])"
    r"|(?P<word>[^ \t\r\n;&|()<>\\'\"$]++)(?=[ \t\r\n;&|()<>]|\Z))"
)
# A double-quoted string's body (a backslash escapes any character, or ends the script), and
# the escapes the shell removes inside double quotes.
_DOUBLE_QUOTED = re.compile(r'"((?:[^"\\]|\\.|\\\Z)*+)("?)', re.S)
_DOUBLE_QUOTED_ESCAPE = re.compile(r"\\([\"\\$`\n])")


def tokenize(script: str) -> list[Token]:
    tokens: list[Token] = []
    append = tokens.append
    i = 0
    n = len(script)
    plain = _PLAIN.match
    redirect_at = _REDIRECT.match
    common = _COMMON.match
    while i < n:
        fast = common(script, i)
        if fast is not None:
            kind = fast.lastgroup or "skip"
            end = fast.end()
            if kind != "skip":
                append(_token((kind, fast.group(kind), fast.start(kind), end, False)))
            i = end
            continue
        ch = script[i]
        if ch in " \t\r":
            blanks = _BLANKS.match(script, i)
            i = blanks.end() if blanks is not None else i + 1
            continue
        if ch == "\\" and i + 1 < n and script[i + 1] == "\n":
            i += 2
            continue
        if ch == "#":
            newline = script.find("\n", i)
            i = n if newline < 0 else newline
            continue
        if ch in "<>&" or ch.isdigit():
            # `2>`, `&>`, `<<-` ...; `&` alone is an operator, and a word may start with digits.
            redirect = redirect_at(script, i)
            if redirect is not None and (redirect.group(1) != "&" or redirect.group(2).startswith(">")):
                append(_token(("redirect", redirect.group(0), i, redirect.end(), False)))
                i = redirect.end()
                continue
        if ch in "&|;\n()":
            op = ch * 2 if ch in "&|;" and script.startswith(ch * 2, i) else ch
            append(_token(("op", op, i, i + len(op), False)))
            i += len(op)
            continue
        start = i
        out: list[str] = []
        quoted = False
        while i < n:
            run = plain(script, i)
            if run is not None:
                out.append(run.group())
                i = run.end()
                if i >= n:
                    break
            ch = script[i]
            if ch in " \t\r\n;&|()<>":
                break
            if ch == "\\" and i + 1 < n:
                if script[i + 1] != "\n":
                    out.append(script[i + 1])
                i += 2
                continue
            if ch == "'":
                quoted = True
                end = script.find("'", i + 1)
                end = n if end < 0 else end
                out.append(script[i + 1 : end])
                i = end + 1
                continue
            if ch == '"':
                quoted = True
                body = _DOUBLE_QUOTED.match(script, i)
                assert body is not None  # it matches any text after a `"`
                inner = body.group(1)
                if "\\" in inner:
                    inner = _DOUBLE_QUOTED_ESCAPE.sub(_unescape, inner)
                out.append(inner)
                i = body.end() if body.group(2) else n + 1  # past the closing quote
                continue
            if ch == "$" and i + 1 < n and script[i + 1] == "(":
                # Command substitution: keep it as one opaque word part.
                depth = 0
                j = i + 1
                while j < n:
                    if script[j] == "(":
                        depth += 1
                    elif script[j] == ")":
                        depth -= 1
                        if depth == 0:
                            break
                    j += 1
                out.append(script[i : j + 1])
                i = j + 1
                continue
            out.append(ch)
            i += 1
        append(_token(("word", "".join(out), start, i, quoted)))
    return tokens


def _unescape(match: re.Match[str]) -> str:
    escaped = match.group(1)
    return "" if escaped == "\n" else escaped  # a backslash-newline inside quotes joins lines


def commands(script: str, tokens: Sequence[Token] | None = None, *, depth: int = 0) -> list[SimpleCommand]:
    """Simple commands in order, with the directory an earlier `cd` moved to. `tokens`, when
    given, are `tokenize(script)` (read once, shared by every reader of the same script).

    The script of `sh -c '...'` (bash, ash, dash too) follows its command, read the same way, so
    a build wrapped in a shell is seen; its commands carry the wrapper's span and start in the
    wrapper's directory.
    """
    result: list[SimpleCommand] = []
    cwd: str | None = None
    words: list[str] = []
    assignments: dict[str, str] = {}
    redirects: list[Redirect] = []
    start = 0
    end = 0
    if tokens is None:
        tokens = tokenize(script)
    index = 0

    def flush() -> None:
        nonlocal cwd, words, assignments, redirects
        if words or redirects:
            command = SimpleCommand(tuple(words), assignments, tuple(redirects), cwd, start, end)
            result.append(command)
            inner = _wrapped_script(command)
            if inner is not None and depth < _MAX_WRAPPING:
                for nested in commands(inner, depth=depth + 1):
                    nested_cwd = nested.cwd
                    if cwd is not None:
                        nested_cwd = cwd if nested_cwd is None else _join_cwd(cwd, nested_cwd)
                    result.append(
                        SimpleCommand(
                            nested.words, nested.assignments, nested.redirects, nested_cwd, start, end
                        )
                    )
            if command.words and command.words[0] == "cd" and len(command.words) > 1:
                target = command.words[1]
                cwd = target if target.startswith("/") or cwd is None else f"{cwd}/{target}"
        words, assignments, redirects = [], {}, []

    while index < len(tokens):
        token = tokens[index]
        if token.kind == "op":
            flush()
        elif token.kind == "redirect":
            if index + 1 < len(tokens) and tokens[index + 1].kind == "word":
                redirects.append(Redirect(token.value, tokens[index + 1].value))
                end = tokens[index + 1].end
                index += 1
        else:
            if not words and not token.quoted and token.value in _CONTROL_WORDS:
                index += 1
                continue
            if not words and not token.quoted and _ASSIGNMENT.match(token.value):
                name, _, value = token.value.partition("=")
                assignments[name] = value
            else:
                if not words:
                    start = token.start
                words.append(token.value)
            end = token.end
        index += 1
    flush()
    return result


_SHELLS = frozenset({"sh", "bash", "ash", "dash"})
_MAX_WRAPPING = 3


def _wrapped_script(command: SimpleCommand) -> str | None:
    """The script of `sh -c SCRIPT` (also `-ec`, `-euxc`, ...), if `command` is one."""
    if command.name not in _SHELLS:
        return None
    for index, word in enumerate(command.words[1:-1], start=1):
        if not word.startswith("-") or word.startswith("--"):
            return None
        if "c" in word[1:]:
            return command.words[index + 1]
    return None


def _join_cwd(outer: str, inner: str) -> str:
    return inner if inner.startswith("/") else f"{outer}/{inner}"


def trailing_comment_start(script: str) -> int | None:
    """Offset of a shell comment that ends `script` (an unquoted `#` at the start of a word)."""
    i = 0
    n = len(script)
    quote = ""
    at_word_start = True
    while i < n:
        ch = script[i]
        if quote:
            if ch == quote:
                quote = ""
            elif ch == "\\" and quote == '"':
                i += 1
        elif ch in "'\"":
            quote = ch
        elif ch == "\\":
            i += 1
        elif ch == "#" and at_word_start:
            newline = script.find("\n", i)
            if newline < 0:
                return i
            i = newline
            continue
        at_word_start = ch in " \t\n;&|()" and not quote
        i += 1
    return None
