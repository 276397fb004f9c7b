"""The simple commands of a RUN's shell script, with where each word sits in that script.

`bot.dockerfile.shell.commands` says what runs; rules that offer to *remove* a command or a word
also need its span and the operators around it (`a && b`, `a; b`, a heredoc line). This module
reads the same tokens and keeps both. Scripts that are not POSIX shell (a non-POSIX `SHELL`, a
heredoc with a `#!/usr/bin/env python` line or fed to `python3`) give None: nothing is guessed.
"""

from __future__ import annotations

import posixpath
import re
from typing import NamedTuple

from bot.analysis.effects import run_script, run_tokens
from bot.analysis.memo import memo
from bot.dockerfile import paths
from bot.dockerfile.model import Step
from bot.dockerfile.shell import Token
from bot.dockerfile.words import expand

POSIX_SHELLS = frozenset({"sh", "bash", "ash", "dash", "zsh", "ksh", "busybox"})
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")
_CONTROL_WORDS = frozenset(
    {"if", "then", "else", "elif", "fi", "do", "done", "while", "until", "for", "case", "esac", "!", "{", "}"}
)
# Wrappers that run the command after them.
_WRAPPERS = frozenset({"sudo", "env", "eatmydata", "nice", "command", "exec", "time", "nohup"})


class Arg(NamedTuple):
    """One word of a command (a named tuple: cheap to make, and scripts have many)."""

    value: str  # quotes removed, variables not expanded
    start: int  # span in the script
    end: int
    quoted: bool


class Command(NamedTuple):
    args: tuple[Arg, ...]  # the words, assignments and redirections left out
    assignments: dict[str, str]
    start: int  # span of the whole simple command (assignments and redirections included)
    end: int
    prev_op: str | None  # the operator before it ("&&", ";", "\n", ...), None at the start
    next_op: str | None  # the operator after it, None at the end
    prev_end: int | None  # where the token before `prev_op` ends
    next_start: int | None  # where the token after `next_op` starts
    cwd: str | None  # directory an earlier `cd` moved to, as written
    in_structure: bool  # inside if/while/for/case/{ }/( ), or a pipeline stage

    @property
    def words(self) -> tuple[str, ...]:
        return tuple(a.value for a in self.args)

    @property
    def name(self) -> str:
        return posixpath.basename(self.args[0].value) if self.args else ""

    def unwrapped(self) -> tuple[Arg, ...]:
        """The words after `sudo`, `env A=1`, `eatmydata` ... prefixes."""
        args = list(self.args)
        while args and posixpath.basename(args[0].value) in _WRAPPERS:
            args.pop(0)
            while args and (args[0].value.startswith("-") or _ASSIGNMENT.match(args[0].value)):
                args.pop(0)
        return tuple(args)


class RunCommands(NamedTuple):
    step: Step
    script: str
    form: str  # "shell", "heredoc" or "exec"
    commands: tuple[Command, ...]
    errexit_at: int | None = None  # offset of the first `set -e`, if any
    notes: tuple[str, ...] = ()

    def workdir_of(self, command: Command) -> str | None:
        """The absolute directory `command` runs in, None when a `cd` goes somewhere unknown."""
        if command.cwd is None:
            return self.step.workdir.path
        value = command.cwd if "$" not in command.cwd else expand(command.cwd, self.step.scope, dequote=False)
        return None if value is None else paths.join(self.step.workdir.path, value)

    def resolve(self, command: Command, word: str) -> str | None:
        """An absolute path for a path-like word of `command`, None when it depends on unknowns."""
        cwd = self.workdir_of(command)
        if cwd is None:
            return None
        value = word
        if "$" in word:
            scope = (
                self.step.scope.with_values(command.assignments) if command.assignments else self.step.scope
            )
            value = expand(word, scope, dequote=False) or ""
        if not value or "$(" in value or "`" in value or value.startswith("~"):
            return None
        return paths.join(cwd, value)


def run_commands(step: Step) -> RunCommands | None:
    """The commands of a RUN (cached per step); None when its script is not a POSIX shell script."""
    if step.keyword != "RUN":
        return None
    return memo(step, "run_commands", lambda: _read(step))  # not a WeakKeyDictionary: it names the step


def _read(step: Step) -> RunCommands | None:
    ins = step.instruction
    if ins.exec_form is not None:
        form = "exec"
    elif ins.heredoc_script is not None:
        form = "heredoc"
        if not _heredoc_is_shell(step):
            return None
    else:
        form = "shell"
    if form != "exec" and not step.runs_posix_shell:
        return None
    script = run_script(step)
    commands = _commands(script, run_tokens(step))
    errexit = next((c.start for c in commands if _is_errexit(c)), None)
    return RunCommands(step, script, form, commands, errexit)


def _heredoc_is_shell(step: Step) -> bool:
    ins = step.instruction
    heredoc = ins.heredoc_script
    assert heredoc is not None
    after = ins.args.split(None, 1)[1:] if ins.args.strip() else []
    if after and not after[0].startswith("<<"):
        program = posixpath.basename(after[0].split()[0])
        if program not in POSIX_SHELLS:
            return False
    first = heredoc.body.split("\n", 1)[0].strip()
    if not first.startswith("#!"):
        return True
    interpreter = first[2:].split()
    if interpreter and posixpath.basename(interpreter[0]) == "env":
        interpreter = interpreter[1:]
    return bool(interpreter) and posixpath.basename(interpreter[0]) in POSIX_SHELLS


def _is_errexit(command: Command) -> bool:
    words = command.words
    return (
        bool(words)
        and words[0] == "set"
        and any((w.startswith("-") and "e" in w[1:]) or w == "errexit" for w in words[1:])
    )


def _commands(script: str, tokens: tuple[Token, ...]) -> tuple[Command, ...]:
    groups: list[list[Token]] = [[]]
    ops: list[Token] = []
    for token in tokens:
        if token.kind == "op":
            ops.append(token)
            groups.append([])
        else:
            groups[-1].append(token)
    result: list[Command] = []
    cwd: str | None = None
    nesting = 0  # open subshells and compound commands
    for index, group in enumerate(groups):
        if index > 0 and ops[index - 1].value == "(":
            nesting += 1
        opened, closed, control = _control_words(group)
        inside = nesting > 0 or control
        nesting += opened
        command = _command(script, group) if group else None
        if command is not None:
            args, assignments, start, end = command
            prev_op, prev_end = _neighbour(groups, ops, index, -1)
            next_op, next_start = _neighbour(groups, ops, index, +1)
            structured = inside or bool({"|", "&", ";;"} & {prev_op, next_op})
            item = Command(
                args, assignments, start, end, prev_op, next_op, prev_end, next_start, cwd, structured
            )
            result.append(item)
            if item.words[:1] == ("cd",) and len(item.words) > 1:
                target = item.words[1]
                cwd = target if target.startswith("/") or cwd is None else f"{cwd}/{target}"
        nesting = max(0, nesting - closed)
        if index < len(ops) and ops[index].value == ")":
            nesting = max(0, nesting - 1)
    return tuple(result)


_OPENERS = frozenset({"if", "while", "until", "for", "case", "{"})
_CLOSERS = frozenset({"fi", "done", "esac", "}"})


def _control_words(group: list[Token]) -> tuple[int, int, bool]:
    """How many compound commands the group's leading reserved words open and close."""
    opened = closed = 0
    control = False
    for token in group:
        if token.kind != "word" or token.quoted or token.value not in _CONTROL_WORDS:
            break
        control = True
        opened += token.value in _OPENERS
        closed += token.value in _CLOSERS
    return opened, closed, control


def _command(script: str, group: list[Token]) -> tuple[tuple[Arg, ...], dict[str, str], int, int] | None:
    args: list[Arg] = []
    assignments: dict[str, str] = {}
    start: int | None = None
    end = group[-1].end
    position = 0
    while position < len(group):
        token = group[position]
        if token.kind == "redirect":
            start = token.start if start is None else start
            position += 2
            continue
        if not args and not token.quoted and token.value in _CONTROL_WORDS:
            position += 1
            continue
        start = token.start if start is None else start
        if not args and _ASSIGNMENT.match(script, token.start):
            name, _, value = token.value.partition("=")
            assignments[name] = value
        else:
            args.append(Arg(token.value, token.start, token.end, token.quoted))
        position += 1
    if not args or start is None:
        return None
    return tuple(args), assignments, start, end


def _neighbour(
    groups: list[list[Token]], ops: list[Token], index: int, step: int
) -> tuple[str | None, int | None]:
    """The operator between group `index` and the next non-empty group in direction `step`, and
    that group's nearest edge. Newlines next to another operator (`a &&\\n b`) give way to it."""
    found: list[str] = []
    position = index
    while True:
        op_index = position - 1 if step < 0 else position
        if op_index < 0 or op_index >= len(ops):
            return (_pick(found), None) if found else (None, None)
        found.append(ops[op_index].value)
        position += step
        group = groups[position]
        if group:
            edge = group[-1].end if step < 0 else group[0].start
            return _pick(found), edge


def _pick(found: list[str]) -> str:
    others = [op for op in found if op != "\n"]
    return others[0] if others else "\n"
