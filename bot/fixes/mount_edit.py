"""Edits to one `RUN --mount=...` instruction that keep the author's layout.

All computed on the original text:

* `set_mount_options` rewrites one `--mount=` flag's option list: an option already written is
  replaced in place (its key, spelling and position kept), a new one is appended as `,key=value`
  at the end of the flag (inside a closing quote: `--mount="type=cache,target=/x,id=y"` reads the
  same as `"..."`,id=y once BuildKit removes the quotes);
* `script_cut` removes a span of the RUN's shell script (a command and its `&&`, a word), also
  across line continuations, and `delete_script_line` drops a whole heredoc line;
* `prepend_to_script` runs a command first in a RUN; `extend_instruction` appends a word to an
  instruction (`ARG TARGETARCH` -> `ARG TARGETARCH TARGETPLATFORM`);
* `instruction_edits` turns the replacements for one instruction into line-range `Edit`s: one per
  group of touched lines, so unrelated lines of a long RUN stay outside the suggestion.

No helper adds an instruction: a fix keeps the instruction list BuildKit parses the same.

Every helper raises `NoFix` (with the reason) rather than produce text it cannot vouch for.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping
from typing import NamedTuple

from bot.dockerfile.flags import Flag
from bot.dockerfile.model import Dockerfile, Step
from bot.fixes.text_edit import NoFix
from bot.rules.base import Edit

# Mount option keys and their spellings (`instructions/commands_runmount.go`).
_ALIASES = {"dst": "target", "destination": "target", "src": "source", "ro": "readonly", "rw": "readwrite"}
# What an option value written by a fix may contain: no quotes, commas, spaces or escapes.
_SAFE_VALUE = re.compile(r"[A-Za-z0-9_./:@+${}-]+")


class Replacement(NamedTuple):
    """Replace physical text from (line, col) to (end_line, end_col), exclusive, with `text`.

    Lines are 1-based, columns 0-based; (line + 1, 0) as the end takes the line break too.
    """

    line: int
    col: int
    end_line: int
    end_col: int
    text: str

    @property
    def last_line(self) -> int:
        """The last physical line whose text changes."""
        if self.end_col == 0 and self.end_line > self.line:
            return self.end_line - 1
        return self.end_line


def mount_flag(step: Step, index: int) -> Flag:
    """The `--mount=` flag that `step.mounts[index]` was parsed from."""
    flags = [f for f in step.instruction.flags if f.name == "mount" and f.value is not None]
    if index >= len(flags):
        raise NoFix("the mount flag could not be located")
    return flags[index]


def set_mount_options(
    df: Dockerfile, step: Step, index: int, options: Mapping[str, str]
) -> list[Replacement]:
    """Set `key=value` options on the `index`-th `--mount` flag of `step`."""
    if not options:
        return []
    flag = mount_flag(step, index)
    written = step.mounts[index].mount.options
    raw = step.instruction.raw
    line, col = raw.position(flag.start)
    end_line, last_col = raw.position(flag.end - 1)
    end_col = last_col + 1
    replacements: list[Replacement] = []
    appended: list[str] = []
    for key, value in options.items():
        if not _SAFE_VALUE.fullmatch(value) or df.escape in value:
            raise NoFix(f"the value {value!r} cannot be written into a mount option safely")
        if key in written:
            replacements.append(_replace_option(df, (line, col), (end_line, end_col), key, value))
        else:
            appended.append(f"{key}={value}")
    if appended:
        at = end_col
        if end_line == line and _ends_with_closing_quote(df.lines[line - 1][col:end_col], df.escape):
            at = end_col - 1  # inside the closing quote: the same flag value, and easier to read
        replacements.append(Replacement(end_line, at, end_line, at, "," + ",".join(appended)))
    return replacements


def _ends_with_closing_quote(text: str, escape: str) -> bool:
    """Whether the flag word's last character closes a quoted section (`split_flags` rules)."""
    quote = ""
    closed_at = -1
    position = 0
    while position < len(text):
        ch = text[position]
        if quote:
            if ch == quote:
                quote = ""
                closed_at = position
            elif ch == escape:
                position += 1
        elif ch in "'\"":
            quote = ch
        elif ch == escape:
            position += 1
        position += 1
    return not quote and closed_at == len(text) - 1


def _replace_option(
    df: Dockerfile, start: tuple[int, int], end: tuple[int, int], key: str, value: str
) -> Replacement:
    line, col = start
    end_line, end_col = end
    if end_line != line:
        raise NoFix(f"the mount flag spans a line continuation, so its `{key}=` is not rewritten in place")
    text = df.lines[line - 1][col:end_col]
    if any(ch in text for ch in "'\"") or df.escape in text:
        raise NoFix(f"the mount flag is quoted or escaped, so its `{key}=` is not rewritten in place")
    prefix = "--mount="
    if not text.startswith(prefix):
        raise NoFix("the mount flag is not written as --mount=...")
    found: list[tuple[int, int]] = []
    offset = len(prefix)
    for segment in text[len(prefix) :].split(","):
        name, eq, _ = segment.partition("=")
        canonical = name.strip().lower()
        if eq and _ALIASES.get(canonical, canonical) == key:
            value_start = offset + len(name) + 1
            found.append((value_start, offset + len(segment)))
        offset += len(segment) + 1
    if len(found) != 1:
        raise NoFix(f"the mount flag sets `{key}` more than once")
    value_start, value_end = found[0]
    return Replacement(line, col + value_start, line, col + value_end, value)


# -- the shell script ----------------------------------------------------------------------------


def script_position(step: Step, offset: int) -> tuple[int, int]:
    """Physical (line, column) of an offset in the script `run_script` returns for `step`.

    Only shell-form and heredoc scripts map to the file; exec form raises NoFix.
    """
    ins = step.instruction
    if ins.exec_form is not None:
        raise NoFix("the RUN uses the exec (JSON) form")
    heredoc = ins.heredoc_script
    if heredoc is not None:
        body = heredoc.body
        before = body.count("\n", 0, offset)
        line_start = body.rfind("\n", 0, offset) + 1
        return heredoc.body_start_line + before, offset - line_start
    return ins.raw.position(ins.args_offset + offset)


def script_cut(df: Dockerfile, step: Step, start: int, end: int, text: str = "") -> Replacement:
    """Replace script span [start, end) with `text`; the span may cross line continuations."""
    if end <= start:
        raise NoFix("nothing to remove")
    line, col = script_position(step, start)
    end_line, last_col = script_position(step, end - 1)
    if end_line != line and step.instruction.heredoc_script is None:
        pieces = {piece.line for piece in step.instruction.raw.pieces}
        if any(number not in pieces for number in range(line, end_line + 1)):
            raise NoFix("the text to remove spans a comment or blank line inside the RUN")
    return Replacement(line, col, end_line, last_col + 1, text)


def delete_script_line(step: Step, offset: int) -> Replacement:
    """Remove the whole heredoc body line holding script `offset`."""
    if step.instruction.heredoc_script is None:
        raise NoFix("only heredoc lines are removed whole")
    line, _ = script_position(step, offset)
    return Replacement(line, 0, line + 1, 0, "")


def prepend_to_script(df: Dockerfile, step: Step, command: str) -> Replacement:
    """Run `command` first in the RUN's script: `command && ...` for the shell form, a new first
    line (after any `#!` line) for a heredoc script."""
    ins = step.instruction
    if ins.exec_form is not None:
        raise NoFix("the RUN uses the exec (JSON) form")
    heredoc = ins.heredoc_script
    if heredoc is not None:
        lines = heredoc.body.split("\n")
        skip = 1 if lines and lines[0].lstrip().startswith("#!") else 0
        if skip >= len(lines) - 1:
            raise NoFix("the heredoc script is empty")
        first = lines[skip]
        indent = first[: len(first) - len(first.lstrip())]
        line = heredoc.body_start_line + skip
        return Replacement(line, 0, line, 0, f"{indent}{command}\n")
    script = ins.args
    start = len(script) - len(script.lstrip())
    if start >= len(script):
        raise NoFix("the RUN has no command")
    line, col = ins.raw.position(ins.args_offset + start)
    text = df.lines[line - 1]
    if line != ins.start_line and not text[:col].strip():
        # The script starts on a continuation line of its own: give the command its own line too,
        # in the author's style (`cmd && \` or a leading `&& cmd`).
        indent = text[:col]
        rest = [df.lines[piece.line - 1].lstrip() for piece in ins.raw.pieces[1:]]
        leading = sum(1 for t in rest if t.startswith(("&&", "||", ";"))) > len(rest) // 2
        joint = f" {df.escape}\n{indent}&& " if leading else f" && {df.escape}\n{indent}"
        return Replacement(line, col, line, col, f"{command}{joint}")
    return Replacement(line, col, line, col, f"{command} && ")


def extend_instruction(step: Step, text: str) -> Replacement:
    """Append ` text` to the instruction's arguments (after its last non-blank character)."""
    ins = step.instruction
    if ins.heredocs:
        raise NoFix("the instruction has a heredoc")
    logical = ins.raw.logical.rstrip()
    line, col = ins.raw.position(len(logical) - 1)
    return Replacement(line, col + 1, line, col + 1, f" {text}")


# -- building the edits --------------------------------------------------------------------------


def instruction_edits(df: Dockerfile, step: Step, replacements: Iterable[Replacement]) -> list[Edit]:
    """Line-range edits applying `replacements` to `step`'s lines: one per group of touched lines,
    so unrelated lines of a long instruction stay out of the suggestion."""
    ordered = sorted(set(replacements), key=lambda r: (r.line, r.col, r.end_line, r.end_col))
    if not ordered:
        raise NoFix("nothing to change")
    for before, after in itertools.pairwise(ordered):
        if (after.line, after.col) < (before.end_line, before.end_col):
            raise NoFix("two changes to the same instruction overlap")
    groups: list[list[Replacement]] = []
    for item in ordered:
        if groups and item.line <= max(r.last_line for r in groups[-1]):
            groups[-1].append(item)
        else:
            groups.append([item])
    edits = []
    for group in groups:
        start = group[0].line
        stop = max(r.last_line for r in group)
        edits.append(Edit(start, stop, _apply(df, start, stop, group)))
    return edits


def _apply(df: Dockerfile, start: int, stop: int, group: list[Replacement]) -> str:
    block_lines = list(df.lines[start - 1 : stop])
    block = "\n".join(block_lines) + "\n"
    line_offsets = [0]
    for text in block_lines:
        line_offsets.append(line_offsets[-1] + len(text) + 1)

    def offset(line: int, col: int) -> int:
        return line_offsets[line - start] + col

    for item in sorted(group, key=lambda r: (r.line, r.col), reverse=True):
        block = (
            block[: offset(item.line, item.col)] + item.text + block[offset(item.end_line, item.end_col) :]
        )
    # The block ended with a line break; a deleted last line took it along.
    return block[:-1] if block.endswith("\n") else block
