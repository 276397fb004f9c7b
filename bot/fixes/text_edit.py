"""Edits that rewrite parts of one instruction while keeping the author's layout."""

from __future__ import annotations

import json
import shlex

from bot.dockerfile.model import Dockerfile, Step, Word
from bot.dockerfile.shell import commands, trailing_comment_start
from bot.rules.base import Edit


class NoFix(Exception):  # noqa: N818 - the name reads as the outcome; imported widely
    """A fix cannot be made safely; the message says why (shown with the finding)."""


def _line_text(df: Dockerfile, line: int) -> str:
    return df.lines[line - 1]


def replace_words(df: Dockerfile, step: Step, replacements: list[tuple[Word, str]]) -> Edit:
    """Replace argument words (by their spans) with new values, quoting as the form needs."""
    raw = step.instruction.raw
    by_line: dict[int, list[tuple[int, int, str]]] = {}
    for word, value in replacements:
        line, col = raw.position(word.start)
        end_line, end_col = raw.position(word.end - 1)
        if end_line != line:
            raise NoFix("the word to replace spans a line continuation")
        text = json.dumps(value, ensure_ascii=False) if step.instruction.exec_form is not None else value
        by_line.setdefault(line, []).append((col, end_col + 1, text))
    first, last = min(by_line), max(by_line)
    new_lines = []
    for number in range(first, last + 1):
        text = _line_text(df, number)
        for start, end, value in sorted(by_line.get(number, []), reverse=True):
            text = text[:start] + value + text[end:]
        new_lines.append(text)
    return Edit(first, last, "\n".join(new_lines))


def append_to_run(df: Dockerfile, step: Step, command: str) -> Edit:
    """Make `command` run at the end of the RUN, only if everything before it succeeded."""
    ins = step.instruction
    if not step.runs_posix_shell and ins.exec_form is None:
        raise NoFix(f"the stage's SHELL is {json.dumps(list(step.shell))}, not a POSIX shell")
    if ins.exec_form is not None:
        return _append_exec_form(df, step, command)
    script = ins.heredoc_script
    if script is not None:
        return _append_heredoc(df, step, command)
    return _append_shell_form(df, step, command)


def _append_exec_form(df: Dockerfile, step: Step, command: str) -> Edit:
    ins = step.instruction
    argv = list(ins.exec_form or ())
    if len(argv) >= 3 and argv[0].rsplit("/", 1)[-1] in ("sh", "bash") and argv[1] == "-c":
        new_argv = [*argv[:2], f"{argv[2]} && {command}", *argv[3:]]
    else:
        new_argv = ["/bin/sh", "-c", f"{shlex.join(argv)} && {command}"]
    raw = ins.raw
    start_line, start_col = raw.position(ins.args_offset)
    end_offset = ins.args_offset + len(ins.args)
    end_line, end_col = raw.position(end_offset - 1)
    first = _line_text(df, start_line)
    last = _line_text(df, end_line)
    text = first[:start_col] + json.dumps(new_argv, ensure_ascii=False) + last[end_col + 1 :]
    return Edit(start_line, end_line, text)


def _append_heredoc(df: Dockerfile, step: Step, command: str) -> Edit:
    heredoc = step.instruction.heredoc_script
    assert heredoc is not None
    # The physical lines, not `heredoc.body`: that keeps BuildKit's raw line terminators (CRLF).
    body_lines = [_line_text(df, line) for line in range(heredoc.body_start_line, heredoc.terminator_line)]
    indent = ""
    terminator = _line_text(df, heredoc.terminator_line)
    if heredoc.chomp:
        indent = terminator[: len(terminator) - len(terminator.lstrip("\t"))]
    first = body_lines[0].strip() if body_lines else ""
    if first.startswith("#!"):
        interpreter = first[2:].split()
        name = interpreter[-1].rsplit("/", 1)[-1] if interpreter else ""
        if name not in ("sh", "bash", "ash", "dash", "zsh", "ksh"):
            raise NoFix(f"the heredoc script runs with {first!r}, not a POSIX shell")
    has_errexit = any(_is_errexit(line) for line in body_lines)
    new_body = list(body_lines)
    if not has_errexit:
        # Without `set -e` a failed build would still run the move, shipping an old artifact.
        position = 1 if first.startswith("#!") else 0
        new_body.insert(position, f"{indent}set -e")
    new_body.append(f"{indent}{command}")
    # The edit spans the body and its terminator line, which it keeps.
    lines = [*new_body, terminator]
    return Edit(heredoc.body_start_line, heredoc.terminator_line, "\n".join(lines))


def _is_errexit(line: str) -> bool:
    words = line.strip().split()
    return (
        len(words) >= 2
        and words[0] == "set"
        and any((w.startswith("-") and "e" in w[1:]) or w == "errexit" for w in words[1:])
    )


def _append_shell_form(df: Dockerfile, step: Step, command: str) -> Edit:
    ins = step.instruction
    raw = ins.raw
    script = ins.args
    if not commands(script):
        raise NoFix("the RUN has no command to extend")
    comment = trailing_comment_start(script)
    body_end = len(script) if comment is None else comment
    code = script[:body_end].rstrip()
    if code.endswith("&") and not code.endswith("&&"):
        raise NoFix("the RUN ends by sending a command to the background")
    if code.endswith(("&&", "||", "|")):
        raise NoFix("the RUN ends with a dangling operator")
    strip_semicolon = code.endswith(";")
    end_offset = ins.args_offset + len(code)
    line, col = raw.position(end_offset - 1)
    last_piece_line = raw.pieces[-1].line
    text = _line_text(df, line)
    head = text[: col + 1]
    if strip_semicolon:
        head = head[:-1].rstrip()
    tail = text[col + 1 :]
    if line != last_piece_line:
        raise NoFix("the RUN's command ends before its last continuation line")
    escape = df.escape
    if len(raw.pieces) == 1:
        new = f"{head} && {command}{tail}"
        return Edit(line, line, new)
    continuation_lines = [_line_text(df, p.line) for p in raw.pieces[1:]]
    leading = sum(1 for t in continuation_lines if t.lstrip().startswith(("&&", "||", ";")))
    indent = text[: len(text) - len(text.lstrip())] or "    "
    if leading > len(continuation_lines) // 2:
        new = f"{head} {escape}\n{indent}&& {command}{tail}"
    else:
        new = f"{head} && {escape}\n{indent}{command}{tail}"
    return Edit(line, line, new)
