"""One Dockerfile instruction: keyword, flags, arguments, form and heredocs, with source positions."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial
from typing import NamedTuple

from bot.dockerfile.errors import DockerfileSyntaxError
from bot.dockerfile.flags import Flag, parse_flags
from bot.dockerfile.jsonargs import GO_SPACE, NotStringArrayError, json_string_list
from bot.dockerfile.scanner import Heredoc, RawInstruction

KEYWORDS = frozenset(
    {
        "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK", "LABEL",
        "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR",
    }
)  # fmt: skip
# Leading spaces, the keyword, and the ASCII blanks after it: BuildKit strips Go's spaces around the
# line and splits the keyword off on ASCII blanks only (`tokenWhitespace`).
_HEAD = re.compile(f"[{re.escape(GO_SPACE)}]*+([^\\t\\v\\f\\r ]*+)[\\t\\v\\f\\r ]*+")
# Instructions whose arguments may be a JSON array of strings (exec form).
_JSON_CAPABLE = frozenset({"RUN", "CMD", "ENTRYPOINT", "SHELL", "COPY", "ADD", "VOLUME"})
ALLOWED_FLAGS = {
    "RUN": frozenset({"mount", "network", "security", "device"}),
    "COPY": frozenset({"from", "chown", "chmod", "link", "parents", "exclude"}),
    "ADD": frozenset({"chown", "chmod", "link", "checksum", "keep-git-dir", "exclude", "unpack"}),
    "FROM": frozenset({"platform"}),
    "HEALTHCHECK": frozenset({"interval", "timeout", "start-period", "start-interval", "retries"}),
}


class Instruction(NamedTuple):
    keyword: str  # upper-case
    written_keyword: str  # as in the source (`run`, `Run`, ...)
    raw: RawInstruction
    flags: tuple[Flag, ...]
    args: str  # the text after the flags (continuations joined)
    args_offset: int  # where `args` starts in `raw.logical`
    exec_form: tuple[str, ...] | None  # parsed JSON array for exec form
    trigger: Instruction | None = None  # the instruction an ONBUILD carries

    @property
    def start_line(self) -> int:
        return self.raw.start_line

    @property
    def end_line(self) -> int:
        return self.raw.end_line

    @property
    def heredocs(self) -> tuple[Heredoc, ...]:
        return self.raw.heredocs

    @property
    def is_exec_form(self) -> bool:
        return self.exec_form is not None

    def flag_values(self, name: str) -> list[str]:
        return [f.value for f in self.flags if f.name == name and f.value is not None]

    def flag(self, name: str) -> Flag | None:
        for item in self.flags:
            if item.name == name:
                return item
        return None

    @property
    def heredoc_script(self) -> Heredoc | None:
        """The heredoc that is the RUN's script (`RUN <<EOF` or `RUN <<EOF bash`), if any."""
        if self.keyword != "RUN" or not self.heredocs or self.exec_form is not None:
            return None
        first = self.args.split(None, 1)[0] if self.args.strip() else ""
        if first.lstrip("0123456789").startswith("<<"):
            return self.heredocs[0]
        return None


# `Instruction(...)` runs a Python-level `__new__`; building the tuple directly skips that call.
_instruction: Callable[
    [tuple[str, str, RawInstruction, tuple[Flag, ...], str, int, tuple[str, ...] | None, Instruction | None]],
    Instruction,
] = partial(tuple.__new__, Instruction)


def build_instruction(
    raw: RawInstruction, escape: str, logical: str | None = None, offset: int = 0
) -> Instruction:
    """Split one logical line into keyword, flags and arguments (BuildKit `splitCommand`)."""
    text = raw.logical if logical is None else logical
    head = _HEAD.match(text)  # always matches (every part may be empty)
    assert head is not None
    written, rest_start = head.group(1), head.end()
    if rest_start == len(text) or (text[-1] in GO_SPACE and not text[rest_start:].strip(GO_SPACE)):
        # Only spaces follow the keyword: trailing (Unicode) spaces are not part of it.
        written = written.rstrip(GO_SPACE)
        rest_start = head.start(1) + len(written)
    if not written:
        raise DockerfileSyntaxError(raw.start_line, "empty instruction")
    keyword = written.upper()
    if keyword not in KEYWORDS:
        raise DockerfileSyntaxError(raw.start_line, f"unknown instruction: {written}")
    rest = text[rest_start:]
    if keyword == "ONBUILD":
        if not rest.strip():
            raise DockerfileSyntaxError(raw.start_line, "ONBUILD requires an instruction")
        trigger = build_instruction(raw, escape, rest, offset + rest_start)
        if trigger.keyword in ("ONBUILD", "FROM", "MAINTAINER"):
            raise DockerfileSyntaxError(
                raw.start_line, f"{trigger.keyword} isn't allowed as an ONBUILD trigger"
            )
        return Instruction(keyword, written, raw, (), rest.strip(), offset + rest_start, None, trigger)
    if "--" in rest:
        flags, args, args_start = parse_flags(rest, escape, offset + rest_start)
        allowed = ALLOWED_FLAGS.get(keyword, frozenset())
        for flag in flags:
            if flag.name not in allowed:
                raise DockerfileSyntaxError(raw.start_line, f"unknown flag --{flag.name} for {keyword}")
    else:  # no flag can start here (most instructions): what parse_flags would answer
        stripped = rest.lstrip(GO_SPACE)
        flags, args, args_start = (
            (),
            stripped.rstrip(GO_SPACE),
            offset + rest_start + len(rest) - len(stripped),
        )
    exec_form = None
    if keyword in _JSON_CAPABLE and args.startswith("["):  # `args` starts at a non-blank
        try:
            exec_form = json_string_list(args)
        except NotStringArrayError as exc:
            raise DockerfileSyntaxError(raw.start_line, str(exc)) from None
    return _instruction((keyword, written, raw, flags, args, args_start, exec_form, None))
