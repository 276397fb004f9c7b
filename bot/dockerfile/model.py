"""The Dockerfile model: stages, and for every instruction the WORKDIR, variables, USER and SHELL in
force, with RUN mounts resolved the way BuildKit resolves them.

Pure: it reads only the text it is given.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import NamedTuple

from bot.dockerfile import paths
from bot.dockerfile.errors import DockerfileSyntaxError, Problem
from bot.dockerfile.images import defaults_for
from bot.dockerfile.instructions import Instruction, build_instruction
from bot.dockerfile.mounts import Mount, MountError, parse_mount
from bot.dockerfile.scanner import Scan, scan, split_lines
from bot.dockerfile.words import EMPTY_SCOPE, Scope, expand, whitespace_words

DEFAULT_SHELL = ("/bin/sh", "-c")
# `parseBuildStageName`: the lower-cased name must match this.
_STAGE_NAME = re.compile(r"^[a-z][a-z0-9-_.]*$")
_BLANKS = re.compile(r"[\t\v\f\r ]+")
# Build-time ARGs BuildKit defines per build; their values are not known to a static reader.
PLATFORM_ARGS = frozenset(
    {
        "TARGETPLATFORM", "TARGETOS", "TARGETARCH", "TARGETVARIANT",
        "BUILDPLATFORM", "BUILDOS", "BUILDARCH", "BUILDVARIANT",
    }
)  # fmt: skip


class Workdir(NamedTuple):
    path: str
    assumed: bool  # True when it rests on an unknown base image's WORKDIR (taken as `/`)


class Word(NamedTuple):
    """One argument word with its span in the instruction's logical line and its expanded value."""

    text: str
    start: int
    end: int
    value: str | None  # None when it depends on an unresolvable variable


class CopySpec(NamedTuple):
    sources: tuple[Word, ...]
    dest: Word
    from_stage: str | None  # `--from` as written
    heredoc_sources: tuple[str, ...] = ()


class ResolvedMount(NamedTuple):
    mount: Mount
    target: str | None  # absolute, resolved against the RUN's WORKDIR; None when unresolved


@dataclass(eq=False)
class Step:
    """An instruction inside a stage, with the state BuildKit has when it runs."""

    instruction: Instruction
    stage: Stage
    index: int  # position within the stage
    workdir: Workdir
    scope: Scope
    user: str | None  # expanded USER in force, None for the default (root or the base image's)
    user_known: bool  # False when the USER value could not be resolved
    shell: tuple[str, ...]
    mounts: tuple[ResolvedMount, ...] = ()
    copy: CopySpec | None = None
    # The instruction's keyword, copied once: the rules ask every step for it again and again.
    keyword: str = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.keyword = self.instruction.keyword

    @property
    def line(self) -> int:
        return self.instruction.start_line

    def resolve(self, path: str) -> str:
        """An absolute path for `path` as a process at this step sees it (relative to WORKDIR)."""
        return paths.join(self.workdir.path, path)

    def covering_mount(self, path: str) -> ResolvedMount | None:
        """The deepest mount of this RUN whose target contains `path`."""
        best: ResolvedMount | None = None
        for item in self.mounts:
            if item.target is None or not paths.is_within(path, item.target):
                continue
            if best is None or len(paths.parts(item.target)) > len(paths.parts(best.target or "/")):
                best = item
        return best

    @property
    def runs_posix_shell(self) -> bool:
        return posixpath.basename(self.shell[0]) in {"sh", "bash", "ash", "dash", "zsh", "ksh", "busybox"}


@dataclass(eq=False)
class Stage:
    index: int
    name: str | None  # lower-cased `AS` name
    from_step: Instruction
    base: str | None  # the image reference or parent stage name as expanded
    parent: Stage | None  # set when FROM names an earlier stage
    platform: str | None
    known_base: bool  # base image defaults known (scratch, a listed image, or a known parent)
    steps: list[Step] = field(default_factory=list)

    @property
    def label(self) -> str:
        return self.name if self.name is not None else str(self.index)

    def chain(self) -> list[Step]:
        """Every step whose layer this stage builds on: ancestors' steps first, then its own."""
        ancestors: list[Stage] = []
        seen: set[Stage] = set()  # a set: with `in ancestors`, a deep FROM chain cost cubic time
        stage: Stage | None = self
        while stage is not None and stage not in seen:
            ancestors.append(stage)
            seen.add(stage)
            stage = stage.parent
        return [step for stage in reversed(ancestors) for step in stage.steps]


@dataclass(eq=False)
class Dockerfile:
    text: str
    scan: Scan
    stages: list[Stage]
    global_scope: Scope
    problems: list[Problem]
    instructions: list[Instruction]

    @property
    def lines(self) -> tuple[str, ...]:
        return self.scan.lines

    @property
    def escape(self) -> str:
        return self.scan.escape

    @property
    def ok(self) -> bool:
        return not any(p.fatal for p in self.problems)

    def stage_for(self, reference: str) -> Stage | None:
        """The stage a `--from=` value names: by name (case-insensitive) or by 0-based index."""
        ref = reference.strip()
        if ref.isdigit():
            index = int(ref)
            return self.stages[index] if index < len(self.stages) else None
        lowered = ref.lower()
        for stage in self.stages:
            if stage.name == lowered:
                return stage
        return None

    def steps(self) -> Iterator[Step]:
        for stage in self.stages:
            yield from stage.steps

    @cached_property
    def final_stage(self) -> Stage | None:
        return self.stages[-1] if self.stages else None


def parse_dockerfile(text: str) -> Dockerfile:
    """Model `text`. Never raises for bad input: problems are listed on the result."""
    try:
        scanned = scan(text)
    except DockerfileSyntaxError as exc:
        # Keep the lines, so a problem's line can still be shown.
        empty = Scan(tuple(split_lines(text.removeprefix("\ufeff"))), {}, {}, "\\", (), ())
        return Dockerfile(text, empty, [], EMPTY_SCOPE, [Problem(exc.line, exc.message)], [])
    builder = _Builder(text, scanned)
    builder.build()
    return Dockerfile(
        text, scanned, builder.stages, builder.global_scope, builder.problems, builder.instructions
    )


class _StageState(NamedTuple):
    env: dict[str, str | None]
    env_complete: bool
    workdir: Workdir
    user: str | None
    user_known: bool
    shell: tuple[str, ...]


class _Builder:
    def __init__(self, text: str, scanned: Scan) -> None:
        self.text = text
        self.scan = scanned
        self.escape = scanned.escape
        self.stages: list[Stage] = []
        self.problems: list[Problem] = []
        self.instructions: list[Instruction] = []
        self.global_values: dict[str, str | None] = {}
        self.global_scope = EMPTY_SCOPE
        # Per-stage state
        self.stage: Stage | None = None
        self.args: dict[str, str | None] = {}
        self.env: dict[str, str | None] = {}
        self.env_complete = True
        self.workdir = Workdir("/", True)
        self.user: str | None = None
        self.user_known = True
        self.shell: tuple[str, ...] = DEFAULT_SHELL
        self.final_states: dict[int, _StageState] = {}
        # The scope in force, made once until an ARG, ENV or FROM changes it: steps share it.
        self._scope: Scope | None = None
        self._handlers: dict[str, Callable[[Instruction], None]] = {
            "ARG": self._arg,
            "ENV": self._env,
            "WORKDIR": self._workdir,
            "USER": self._user,
            "SHELL": self._shell,
        }

    def build(self) -> None:
        for raw in self.scan.instructions:
            try:
                instruction = build_instruction(raw, self.escape)
            except DockerfileSyntaxError as exc:
                self.problems.append(Problem(exc.line, exc.message))
                continue
            self.instructions.append(instruction)
            try:
                self._dispatch(instruction)
            except DockerfileSyntaxError as exc:
                self.problems.append(Problem(exc.line, exc.message))
        if not self.scan.instructions and not self.problems:
            self.problems.append(Problem(1, "the file has no instructions"))
        elif not self.stages and not any(p.fatal for p in self.problems):
            self.problems.append(Problem(1, "the file has no FROM instruction"))

    # -- scope -------------------------------------------------------------------------------------

    def scope(self) -> Scope:
        if self._scope is None:
            values: dict[str, str | None] = {**self.args, **self.env}
            self._scope = Scope(values, self.env_complete)
        return self._scope

    def _expand(self, word: str) -> str | None:
        return expand(word, self.scope(), self.escape)

    # -- instructions ------------------------------------------------------------------------------

    def _dispatch(self, ins: Instruction) -> None:
        keyword = ins.keyword
        if keyword == "FROM":
            self._from(ins)
            return
        if self.stage is None:
            if keyword == "ARG":
                for name, value in self._arg_pairs(ins):
                    resolved = None if value is None else expand(value, self.global_scope, self.escape)
                    self.global_values[name] = resolved
                    self.global_scope = Scope(dict(self.global_values), True)
                return
            raise DockerfileSyntaxError(ins.start_line, f"{keyword} appears before the first FROM")
        if ins.exec_form is None and ins.args.startswith("[") and keyword in ("RUN", "CMD", "ENTRYPOINT"):
            self.problems.append(
                Problem(
                    ins.start_line,
                    f"{keyword} arguments start with '[' but are not a valid JSON array of strings; "
                    "BuildKit runs them as a shell command",
                    fatal=False,
                )
            )
        step = Step(
            ins, self.stage, len(self.stage.steps), self.workdir, self.scope(), self.user,
            self.user_known, self.shell,
        )  # fmt: skip
        if keyword == "RUN":
            if ins.flags:
                step.mounts = self._mounts(ins, step)
        elif keyword in ("COPY", "ADD"):
            step.copy = self._copy_spec(ins)
        self.stage.steps.append(step)
        handler = self._handlers.get(keyword)
        if handler is not None:
            handler(ins)

    def _from(self, ins: Instruction) -> None:
        # The stage that ends here: its state is what a later `FROM <its name>` starts from.
        self._remember_stage_state()
        words = ins.args.split()
        if not words:
            raise DockerfileSyntaxError(ins.start_line, "FROM requires the name of an image or stage")
        name: str | None = None
        if len(words) == 3 and words[1].lower() == "as":
            name = words[2].lower()
            if not _STAGE_NAME.match(name):
                raise DockerfileSyntaxError(
                    ins.start_line,
                    f"invalid name for build stage: {words[2]!r}, "
                    "name can't start with a number or contain symbols",
                )
        elif len(words) != 1:
            raise DockerfileSyntaxError(ins.start_line, "FROM takes an image and an optional `AS name`")
        image = expand(words[0], self.global_scope, self.escape)
        parent = None
        if image is not None:
            parent = next((s for s in self.stages if s.name == image), None)
        platform_flag = ins.flag("platform")
        index = len(self.stages)
        if parent is not None:
            # A child stage starts from the parent's final layer, ENV, WORKDIR, USER and SHELL;
            # ARGs do not cross stages.
            self.args = {}
            inherited = self.final_states[parent.index]
            self.env = dict(inherited.env)
            self.env_complete = inherited.env_complete
            self.workdir = inherited.workdir
            self.user, self.user_known = inherited.user, inherited.user_known
            self.shell = inherited.shell
            known = parent.known_base
        else:
            self.args = {}
            defaults = defaults_for(image) if image else None
            is_scratch = image == "scratch"
            self.env = dict(defaults.env) if defaults else {}
            self.env_complete = is_scratch
            known = is_scratch or defaults is not None
            self.workdir = Workdir((defaults.workdir if defaults else None) or "/", not known)
            self.user, self.user_known = None, True
            self.shell = DEFAULT_SHELL
        self._scope = None
        stage = Stage(
            index=index,
            name=name,
            from_step=ins,
            base=image,
            parent=parent,
            platform=platform_flag.value if platform_flag else None,
            known_base=known,
        )
        self.stages.append(stage)
        self.stage = stage

    def _remember_stage_state(self) -> None:
        if self.stage is not None:
            self.final_states[self.stage.index] = _StageState(
                dict(self.env), self.env_complete, self.workdir, self.user, self.user_known, self.shell
            )

    def _arg_pairs(self, ins: Instruction) -> list[tuple[str, str | None]]:
        pairs: list[tuple[str, str | None]] = []
        for word in _key_value_words(ins.args):
            name, eq, value = word.partition("=")
            if not name:
                raise DockerfileSyntaxError(ins.start_line, "ARG requires a name")
            pairs.append((name, value if eq else None))
        if not pairs:
            raise DockerfileSyntaxError(ins.start_line, "ARG requires at least one argument")
        return pairs

    def _arg(self, ins: Instruction) -> None:
        for name, default in self._arg_pairs(ins):
            if default is not None:
                value = self._expand(default)
            elif name in PLATFORM_ARGS:
                value = None
            else:
                value = self.global_values.get(name)
            self.args[name] = value
            self._scope = None

    def _env(self, ins: Instruction) -> None:
        words = _key_value_words(ins.args)
        if not words:
            raise DockerfileSyntaxError(ins.start_line, "ENV requires at least one argument")
        if "=" not in words[0]:
            # Legacy `ENV NAME value with spaces`: split once on blanks (BuildKit `parseNameVal`).
            name, _, value = _BLANKS.sub(" ", ins.args.strip(), count=1).partition(" ")
            if not value.strip():
                raise DockerfileSyntaxError(ins.start_line, "ENV must have two arguments")
            self.env[name] = self._expand(value.strip())
            self._scope = None
        else:
            updates: dict[str, str | None] = {}
            for word in words:
                name, eq, value = word.partition("=")
                if not eq or not name:
                    raise DockerfileSyntaxError(
                        ins.start_line, f"ENV names must be followed by '=value': {word!r}"
                    )
                # All pairs of one ENV see the scope from before that ENV.
                updates[name] = self._expand(value)
            self.env.update(updates)
            self._scope = None

    def _workdir(self, ins: Instruction) -> None:
        value = self._expand(ins.args.strip())
        if not ins.args.strip():
            raise DockerfileSyntaxError(ins.start_line, "WORKDIR requires a path")
        if value is None:
            self.workdir = Workdir(self.workdir.path, True)
            self.problems.append(
                Problem(ins.start_line, "WORKDIR uses a variable whose value is unknown", fatal=False)
            )
        elif value.startswith("/"):
            self.workdir = Workdir(paths.clean(value), False)
        else:
            self.workdir = Workdir(paths.join(self.workdir.path, value), self.workdir.assumed)

    def _user(self, ins: Instruction) -> None:
        value = self._expand(ins.args.strip())
        self.user, self.user_known = value, value is not None

    def _shell(self, ins: Instruction) -> None:
        if ins.exec_form is None or not ins.exec_form:
            raise DockerfileSyntaxError(ins.start_line, "SHELL requires the arguments as a JSON array")
        self.shell = ins.exec_form

    def _mounts(self, ins: Instruction, step: Step) -> tuple[ResolvedMount, ...]:
        resolved: list[ResolvedMount] = []
        for value in ins.flag_values("mount"):
            try:
                mount = parse_mount(value, step.scope, self.escape)
            except MountError as exc:
                raise DockerfileSyntaxError(ins.start_line, str(exc)) from None
            target = None
            if mount.target is not None:
                target = paths.join(step.workdir.path, mount.target)
                # BuildKit rejects a mount at `/`; a relative target on an unknown base image's
                # WORKDIR may not really resolve there, so that case is not an error here.
                if target == "/" and (mount.target.startswith("/") or not step.workdir.assumed):
                    raise DockerfileSyntaxError(ins.start_line, f"invalid mount target {mount.target!r}")
                if target == "/":
                    target = None  # somewhere under the unknown WORKDIR: never guessed
            resolved.append(ResolvedMount(mount, target))
        for flag in ins.flags:
            if flag.name == "mount" and flag.value is None:
                raise DockerfileSyntaxError(ins.start_line, "--mount requires a value (--mount=type=...)")
        return tuple(resolved)

    def _copy_spec(self, ins: Instruction) -> CopySpec:
        heredoc_names = {h.name for h in ins.heredocs}
        if ins.exec_form is not None:
            words = _json_word_spans(ins)
        else:
            words = [
                (text, start + ins.args_offset, end + ins.args_offset)
                for text, start, end in whitespace_words(ins.args)
            ]
        if len(words) < 2 and not (words and ins.heredocs):
            raise DockerfileSyntaxError(ins.start_line, f"{ins.keyword} requires at least two arguments")
        scope = self.scope()
        heredoc_sources: list[str] = []
        sources: list[Word] = []
        for text, start, end in words[:-1]:
            match = text.lstrip("0123456789")
            if match.startswith("<<") and match.lstrip("<-").strip("'\"") in heredoc_names:
                heredoc_sources.append(match.lstrip("<-").strip("'\""))
                continue
            value = text if ins.exec_form is not None else expand(text, scope, self.escape)
            sources.append(Word(text, start, end, value))
        dest_text, dest_start, dest_end = words[-1]
        dest_value = dest_text if ins.exec_form is not None else expand(dest_text, scope, self.escape)
        from_flag = ins.flag("from")
        return CopySpec(
            sources=tuple(sources),
            dest=Word(dest_text, dest_start, dest_end, dest_value),
            from_stage=from_flag.value if from_flag else None,
            heredoc_sources=tuple(heredoc_sources),
        )


# One `KEY=value` word of ENV/ARG, quotes and escapes kept: plain characters, a backslash and the
# character it escapes, or a quoted run ('...' takes backslashes literally, "..." lets them escape);
# an unterminated quote runs to the end. Words end at unquoted, unescaped whitespace (`\s` is
# `str.isspace`). The same words as dockerfile-parse's WordSplitter(text).split(dequote=False),
# which a property test checks, at a tenth of its cost.
_KEY_VALUE_WORD = re.compile(
    r"""(?:[^\s'"\\]|\\.|\\\Z|'[^']*+(?:'|\Z)|"(?:[^"\\]|\\.|\\\Z)*+(?:"|\Z))+""", re.S
)


def _key_value_words(text: str) -> list[str]:
    """`KEY=value` words with their quotes kept (ENV/ARG splitting)."""
    if "'" not in text and '"' not in text and "\\" not in text:
        return text.split()
    return _KEY_VALUE_WORD.findall(text)


def _json_word_spans(ins: Instruction) -> list[tuple[str, int, int]]:
    """Spans of the JSON string literals of an exec-form instruction, in logical-line offsets."""
    import json

    spans: list[tuple[str, int, int]] = []
    text = ins.args
    decoder = json.JSONDecoder()
    pos = 1
    while pos < len(text):
        ch = text[pos]
        if ch == '"':
            value, end = decoder.raw_decode(text, pos)
            spans.append((value, pos + ins.args_offset, end + ins.args_offset))
            pos = end
        else:
            pos += 1
    return spans
