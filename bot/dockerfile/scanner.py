"""Split Dockerfile text into logical instructions, exactly as BuildKit's parser does.

This is the part of the model dockerfile-parse gets wrong (measured on 1,165 real files, see
`README.md`, "Why not dockerfile-parse's structure"): heredoc bodies, blank and comment lines
inside continuations, `# escape=` after `# check=`, and 0-based lines. It follows
`moby/buildkit` `frontend/dockerfile/parser/parser.go`:

* parser directives (`syntax`, `escape`, `check`) are read only at the top of the file, until the
  first line that is not a directive (a blank line or any comment ends them);
* a line ending in the escape character (plus spaces or tabs) continues; inside a continuation,
  comment lines and whitespace-only lines are skipped and the instruction goes on;
* continuation pieces are joined with no separator, after stripping the escape character;
* `RUN`, `COPY` and `ADD` (also under `ONBUILD`) collect heredoc bodies after the logical line.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial
from typing import NamedTuple

from bot.dockerfile.errors import DockerfileSyntaxError
from bot.dockerfile.jsonargs import GO_SPACE, NotStringArrayError, json_string_list

# Go regexp `\s` is [\t\n\f\r ] (no \v, no Unicode spaces).
_DIRECTIVE = re.compile(r"#[\t\n\f\r ]*([a-zA-Z][a-zA-Z0-9]*)[\t\n\f\r ]*=[\t\n\f\r ]*(.+?)[\t\n\f\r ]*$")
_KNOWN_DIRECTIVES = frozenset({"syntax", "escape", "check"})
_HEREDOC_WORD = re.compile(r"([0-9]*)<<(-?)([^<]*)$")
_HEREDOC_KEYWORDS = frozenset({"run", "copy", "add"})
MAX_LINE_BYTES = 64 * 1024 - 1  # bufio.MaxScanTokenSize - 1


class Heredoc(NamedTuple):
    name: str
    chomp: bool
    expand: bool
    fd: int | None
    body: str
    # Lines of the body (first body line .. the terminator line), 1-based.
    body_start_line: int
    terminator_line: int


class Piece(NamedTuple):
    """One physical line's contribution to a logical line: where it starts in both coordinates."""

    offset: int  # offset in the logical line
    line: int  # 1-based physical line
    column: int  # 0-based column in that physical line


class RawInstruction(NamedTuple):
    logical: str  # continuation pieces joined, escape characters removed
    start_line: int
    end_line: int  # last line, heredoc terminators included
    indent: int  # 0-based column where the first line's text starts
    # (offset in `logical`, physical line) where each continuation line's text starts: plain
    # pairs, cheaper to make than pieces, which are built only when asked for.
    continuations: tuple[tuple[int, int], ...]
    heredocs: tuple[Heredoc, ...]
    comments_before: tuple[str, ...]

    @property
    def pieces(self) -> tuple[Piece, ...]:
        """Every physical line's contribution to `logical`, in order."""
        first = Piece(0, self.start_line, self.indent)
        return (first, *(Piece(offset, line, 0) for offset, line in self.continuations))

    def position(self, offset: int) -> tuple[int, int]:
        """Physical (line, 0-based column) of a character offset in `logical`."""
        line, column, start = self.start_line, self.indent, 0
        for piece_offset, piece_line in self.continuations:
            if piece_offset > offset:
                break
            line, column, start = piece_line, 0, piece_offset
        return line, column + (offset - start)


# `RawInstruction(...)` runs a Python-level `__new__`; building the tuple directly skips that call.
_raw_instruction: Callable[
    [tuple[str, int, int, int, tuple[tuple[int, int], ...], tuple[Heredoc, ...], tuple[str, ...]]],
    RawInstruction,
] = partial(tuple.__new__, RawInstruction)


class Comment(NamedTuple):
    line: int
    text: str  # after the `#`, stripped


class Scan(NamedTuple):
    lines: tuple[str, ...]  # physical lines, without line terminators
    directives: dict[str, str]
    directive_lines: dict[str, int]
    escape: str
    instructions: tuple[RawInstruction, ...]
    comments: tuple[Comment, ...]


def split_lines(text: str) -> list[str]:
    """Split like Go's bufio.ScanLines: on `\\n` only, dropping one trailing `\\r` per line."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if "\r" not in text:
        return lines
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def scan(text: str) -> Scan:
    original = text
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = split_lines(text)
    plain = "\r" not in text
    # Heredoc bodies keep each line exactly as written, line terminator included (BuildKit
    # appends the raw bytes it scanned).
    raw_lines = lines if plain else text.split("\n")
    # Every trailing `\r` removed (BuildKit's trimNewline); `lines` hold no `\n`.
    trimmed_lines = lines if plain else [line.rstrip("\r") for line in lines]
    if max(map(len, raw_lines), default=0) > MAX_LINE_BYTES // 4:  # only then can a line be too long
        _check_line_lengths(raw_lines, bom=len(text) < len(original))
    directives: dict[str, str] = {}
    directive_lines: dict[str, int] = {}
    escape = "\\"
    instructions: list[RawInstruction] = []
    comments: list[Comment] = []
    pending_comments: list[str] = []
    reading_directives = True
    index = 0
    total = len(lines)

    # This loop runs once per physical line: the line tests are written out inline (helper calls
    # were a fifth of the engine's time on a typical file). A line continues when it ends in the
    # escape character plus spaces or tabs, unless that character is itself escaped, as
    # BuildKit's lineContinuationRegex (`([^E])E[ \t]*$|^E[ \t]*$`) decides; continuation pieces
    # are joined with the escape character removed. Inside a continuation, comment lines and
    # whitespace-only lines are skipped.
    while index < total:
        trimmed = trimmed_lines[index]
        index += 1
        line_no = index
        stripped_left = trimmed.lstrip(GO_SPACE)

        if reading_directives:
            match = _DIRECTIVE.match(stripped_left)
            name = match.group(1).lower() if match else ""
            if match and name in _KNOWN_DIRECTIVES:
                if name in directives:
                    raise DockerfileSyntaxError(line_no, f"only one {name} parser directive can be used")
                value = match.group(2)
                if name == "escape" and value not in ("\\", "`"):
                    raise DockerfileSyntaxError(
                        line_no, f"invalid escape token {value!r}: it must be ` or \\"
                    )
                directives[name] = value
                directive_lines[name] = line_no
                if name == "escape":
                    escape = value
                continue
            reading_directives = False

        if not stripped_left:
            continue
        if stripped_left[0] == "#":
            comment = stripped_left[1:].strip()
            comments.append(Comment(line_no, comment))
            # BuildKit resets the comment block at an empty `#` line.
            pending_comments = [*pending_comments, comment] if comment else []
            continue

        tail = stripped_left.rstrip(" \t")
        ends = not tail.endswith(escape) or (len(tail) > 1 and tail[-2] == escape)
        logical = stripped_left if ends else tail[:-1]
        indent = len(trimmed) - len(stripped_left)
        continuations: list[tuple[int, int]] = []
        start_line = line_no
        end_line = line_no
        while not ends and index < total:
            trimmed = trimmed_lines[index]
            index += 1
            end_line = index
            body = trimmed.lstrip(GO_SPACE)
            if not body:
                continue  # whitespace-only lines inside a continuation are skipped
            if body[0] == "#":
                comments.append(Comment(end_line, body[1:].strip()))
                continue
            continuations.append((len(logical), end_line))
            tail = trimmed.rstrip(" \t")
            ends = not tail.endswith(escape) or (len(tail) > 1 and tail[-2] == escape)
            logical += trimmed if ends else tail[:-1]

        heredocs: list[Heredoc] = []
        if "<<" in logical and _may_contain_heredoc(logical, escape):
            for name, chomp, expand, fd in _heredoc_words(logical):
                body_lines: list[str] = []
                body_start = index + 1
                terminated = False
                while index < total:
                    raw = trimmed_lines[index]
                    index += 1
                    candidate = raw.lstrip("\t") if chomp else raw
                    if candidate == name:
                        terminated = True
                        break
                    body_lines.append(raw_lines[index - 1] + "\n")
                if not terminated:
                    raise DockerfileSyntaxError(
                        start_line, f"unterminated heredoc: no line {name!r} ends the body"
                    )
                end_line = index
                heredocs.append(Heredoc(name, chomp, expand, fd, "".join(body_lines), body_start, index))

        instructions.append(
            _raw_instruction(
                (
                    logical,
                    start_line,
                    end_line,
                    indent,
                    tuple(continuations) if continuations else (),
                    tuple(heredocs) if heredocs else (),
                    tuple(pending_comments) if pending_comments else (),
                )
            )
        )
        pending_comments = []

    return Scan(
        lines=tuple(lines),
        directives=directives,
        directive_lines=directive_lines,
        escape=escape,
        instructions=tuple(instructions),
        comments=tuple(comments),
    )


def _check_line_lengths(raw_lines: list[str], *, bom: bool) -> None:
    """BuildKit reads lines with Go's bufio.Scanner, whose longest token is 64 KiB - 1: a longer
    line (its bytes, a `\r` before the `\n` included) fails the whole parse."""
    for number, line in enumerate(raw_lines, start=1):
        if len(line) <= MAX_LINE_BYTES // 4:
            continue
        size = len(line.encode("utf-8", "surrogatepass")) + (3 if bom and number == 1 else 0)
        if size > MAX_LINE_BYTES:
            raise DockerfileSyntaxError(
                number,
                f"line is {size:,} bytes long; BuildKit refuses lines over {MAX_LINE_BYTES:,} bytes "
                f"(dockerfile line greater than max allowed size of {MAX_LINE_BYTES})",
            )


def _may_contain_heredoc(logical: str, escape: str) -> bool:
    """Whether BuildKit looks for heredocs after this instruction: RUN, COPY and ADD (also as an
    ONBUILD trigger) in shell form; a JSON (exec) form instruction never has heredocs."""
    from bot.dockerfile.flags import split_flags

    parts = _go_split(logical.strip(GO_SPACE), 1)
    keyword = parts[0].lower() if parts else ""
    rest = parts[1] if len(parts) > 1 else ""
    if keyword == "onbuild":
        parts = _go_split(rest.strip(GO_SPACE), 1)
        keyword = parts[0].lower() if parts else ""
        rest = parts[1] if len(parts) > 1 else ""
    if keyword not in _HEREDOC_KEYWORDS:
        return False
    args = rest[split_flags(rest, escape)[1] :].strip(GO_SPACE)
    try:
        return json_string_list(args) is None
    except NotStringArrayError:
        return False


_TOKEN_WHITESPACE = re.compile(r"[\t\v\f\r ]+")


def _go_split(text: str, limit: int) -> list[str]:
    """BuildKit's `tokenWhitespace.Split(text, limit + 1)` (the keyword is split off on ASCII
    blanks only)."""
    return _TOKEN_WHITESPACE.split(text, maxsplit=limit) if text else []


def raw_words(text: str) -> list[str]:
    """Whitespace-separated words, quotes and backslash escapes kept, as BuildKit's lexer with
    RawQuotes and RawEscapes splits a line when it looks for heredocs."""
    words: list[str] = []
    current: list[str] = []
    in_word = False
    quote = ""
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if quote:
            current.append(ch)
            if ch == "\\" and quote == '"' and i + 1 < n:
                current.append(text[i + 1])
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in " \t\r\n\v\f":
            if in_word:
                words.append("".join(current))
                current = []
                in_word = False
        else:
            in_word = True
            current.append(ch)
            if ch in "'\"":
                quote = ch
            elif ch == "\\" and i + 1 < n:
                current.append(text[i + 1])
                i += 1
        i += 1
    if in_word:
        words.append("".join(current))
    return words


def _heredoc_words(logical: str) -> list[tuple[str, bool, bool, int | None]]:
    found: list[tuple[str, bool, bool, int | None]] = []
    for word in raw_words(logical):
        match = _HEREDOC_WORD.match(word)
        if not match or not match.group(3):
            continue
        rest = match.group(3)
        name = _dequote(rest)
        if name is None:
            continue
        expand = "'" not in rest and '"' not in rest
        fd = int(match.group(1)) if match.group(1) else None
        found.append((name, match.group(2) == "-", expand, fd))
    return found


def _dequote(word: str) -> str | None:
    """Remove shell quoting from a single word; None when it is not a single word."""
    out: list[str] = []
    quote = ""
    i = 0
    while i < len(word):
        ch = word[i]
        if quote:
            if ch == quote:
                quote = ""
            elif ch == "\\" and quote == '"' and i + 1 < len(word) and word[i + 1] in '"\\$`':
                i += 1
                out.append(word[i])
            else:
                out.append(ch)
        elif ch in "'\"":
            quote = ch
        elif ch == "\\" and i + 1 < len(word):
            i += 1
            out.append(word[i])
        elif ch in " \t":
            return None
        else:
            out.append(ch)
        i += 1
    if quote:
        return None
    return "".join(out)
