"""Every path a RUN writes, with how it writes it: the facts behind "this write fails on a read-only
bind mount" (BKM010) and "this write is discarded under a VOLUME" (BKM015).

`effects.py` answers "where do build results end up"; this module answers "which paths does the
script touch at all", including writes that are only metadata (`chmod`, `chown`, `touch`) and
in-place edits (`sed -i`), and it keeps what `mkdir -p` does apart (a no-op on a directory that
already exists). A path that depends on a variable whose value is unknown is left out: the rules
built on this stay silent rather than guess.
"""

from __future__ import annotations

from typing import NamedTuple

from bot.analysis.effects import effects_of
from bot.dockerfile import paths
from bot.dockerfile.model import Step
from bot.dockerfile.shell import SimpleCommand
from bot.dockerfile.words import Scope, expand


class Write(NamedTuple):
    path: str  # absolute
    kind: str  # "redirect", "mkdir", "mkdir -p", "touch", "modify", "copy", "move", "output"
    what: str  # how to name it in a message: "`> out.txt`", "`cargo build` (its `target/`)"
    relative: bool  # came from a path relative to the WORKDIR (or could have)
    certain: bool = True  # False when the command writes only in some states (`go mod tidy`)


# Commands whose `-o X` (or the listed long options) name an output file.
_OUTPUT_OPTIONS: dict[str, tuple[str, ...]] = {
    "curl": ("-o", "--output"),
    "wget": ("-O", "--output-document"),
    "gcc": ("-o",),
    "g++": ("-o",),
    "cc": ("-o",),
    "c++": ("-o",),
    "clang": ("-o",),
    "clang++": ("-o",),
    "rustc": ("-o",),
    "sort": ("-o", "--output"),
}
_MODIFY = frozenset({"chmod", "chown", "chgrp"})


def run_writes(step: Step) -> tuple[Write, ...]:
    """The writes of a RUN step (empty for other instructions or a non-POSIX SHELL)."""
    cached = vars(step).get("_memo_run_writes")
    if cached is None:
        cached = _scan(step) if step.keyword == "RUN" else ()
        vars(step)["_memo_run_writes"] = cached
    return cached


class _Resolver:
    """Expands words the way the shell would, knowing only ARG/ENV and the script's own assignments.

    Names the script sets itself (loops, `read`, command substitution) are unknown, so any name not
    declared in the step's scope is treated as unknown too.
    """

    def __init__(self, step: Step) -> None:
        self.step = step
        self.values: dict[str, str | None] = dict(step.scope.values)

    def value(self, word: str, assignments: dict[str, str]) -> str | None:
        if "$" not in word and "`" not in word:
            return word
        if "`" in word or "$(" in word:
            return None
        extra = {name: self.value(raw, {}) for name, raw in assignments.items()}
        return expand(word, Scope({**self.values, **extra}, complete=False), dequote=False)

    def assign(self, name: str, raw: str) -> None:
        self.values[name] = self.value(raw, {})

    def cwd(self, command: SimpleCommand) -> tuple[str, bool] | None:
        """The directory the command runs in, and whether it is relative to the WORKDIR."""
        if command.cwd is None:
            return self.step.workdir.path, True
        value = self.value(command.cwd, {})
        if value is None:
            return None
        return paths.join(self.step.workdir.path, value), not value.startswith("/")

    def path(self, word: str, command: SimpleCommand) -> tuple[str, bool] | None:
        if not word or word.startswith("-"):
            return None
        value = self.value(word, command.assignments)
        if value is None or value == "":
            return None
        if value.startswith("/"):
            return paths.clean(value), False
        where = self.cwd(command)
        if where is None:
            return None
        return paths.join(where[0], value), where[1]


def _scan(step: Step) -> tuple[Write, ...]:
    if step.instruction.exec_form is None and not step.runs_posix_shell:
        return ()
    effects = effects_of(step)
    resolver = _Resolver(step)
    found: list[Write] = []
    for command in effects.commands:
        words = command.words
        if command.name == "export" or (not words and command.assignments):
            pairs = (
                dict(command.assignments)
                if not words
                else {n: v for n, _, v in (w.partition("=") for w in words[1:] if "=" in w)}
            )
            for name, raw in pairs.items():
                resolver.assign(name, raw)
            continue
        found.extend(_redirects(command, resolver))
        found.extend(_command_writes(command, resolver))
    for copy in effects.copy_outs:
        found.append(Write(copy.dest, "copy", f"`{copy.command}` to {copy.dest}", relative=True))
        if copy.command == "mv":
            found.extend(
                Write(source, "move", f"`mv` of {source}", relative=True)
                for source in copy.sources
                if not paths.has_glob(source)
            )
    for output in effects.outputs:
        several = sum(1 for o in effects.outputs if o.tool == output.tool) > 1
        where = "its output in the working directory" if several else output.path
        found.append(Write(output.path, "output", f"`{output.tool}` (writes {where})", relative=True))
    return tuple(found)


def _redirects(command: SimpleCommand, resolver: _Resolver) -> list[Write]:
    result: list[Write] = []
    for redirect in command.redirects:
        operator = redirect.operator.lstrip("0123456789")
        if ">" not in operator or operator == "<>":
            continue
        if operator.endswith("&") and (redirect.target.isdigit() or redirect.target == "-"):
            continue  # a file-descriptor copy (`2>&1`), not a file
        if redirect.target.startswith("/dev/"):
            continue
        resolved = resolver.path(redirect.target, command)
        if resolved is not None:
            result.append(Write(resolved[0], "redirect", f"`{operator} {redirect.target}`", resolved[1]))
    return result


def _operands(words: tuple[str, ...]) -> list[str]:
    operands: list[str] = []
    ended = False
    for word in words[1:]:
        if not ended and word == "--":
            ended = True
        elif ended or not word.startswith("-") or word == "-":
            operands.append(word)
    return operands


def _command_writes(command: SimpleCommand, resolver: _Resolver) -> list[Write]:
    name = command.name
    words = command.words
    result: list[Write] = []

    def add(word: str, kind: str, what: str, certain: bool = True) -> None:
        resolved = resolver.path(word, command)
        if resolved is not None:
            result.append(Write(resolved[0], kind, what, resolved[1], certain))

    if name == "mkdir":
        parents = any(
            w in ("-p", "--parents") or (w.startswith("-") and not w.startswith("--") and "p" in w)
            for w in words[1:]
        )
        kind = "mkdir -p" if parents else "mkdir"
        for word in _operands(words):
            add(word, kind, f"`{kind} {word}`")
    elif name == "touch":
        for word in _operands(words):
            add(word, "touch", f"`touch {word}`")
    elif name in _MODIFY:
        reference = any(w.startswith("--reference") for w in words[1:])
        operands = _operands(words)
        for word in operands if reference else operands[1:]:
            add(word, "modify", f"`{name}` of {word}")
    elif name == "sed" and any(w == "-i" or w.startswith(("-i", "--in-place")) for w in words[1:]):
        script_given = any(w in ("-e", "-f", "--expression", "--file") for w in words[1:])
        operands = _sed_operands(words)
        for word in operands if script_given else operands[1:]:
            add(word, "modify", f"`sed -i` of {word}")
    elif name == "ln":
        operands = _operands(words)
        if len(operands) >= 2:
            add(operands[-1], "touch", f"`ln` creating {operands[-1]}")
    elif name in _OUTPUT_OPTIONS:
        target = _output_option(name, words)
        if target is not None and target != "-":
            add(target, "output", f"`{name}` writing {target}")
    elif name == "go" and len(words) > 2 and words[1] == "mod":
        if words[2] == "tidy":
            for file in ("go.mod", "go.sum"):
                add(file, "output", "`go mod tidy` (rewrites go.mod and go.sum when they change)", False)
        elif words[2] == "vendor":
            add("vendor", "output", "`go mod vendor` (writes ./vendor)")
    return result


def _sed_operands(words: tuple[str, ...]) -> list[str]:
    """sed's operands, skipping the arguments of `-e`/`-f`."""
    operands: list[str] = []
    skip = False
    for word in words[1:]:
        if skip:
            skip = False
        elif word in ("-e", "-f", "--expression", "--file"):
            skip = True
        elif not word.startswith("-"):
            operands.append(word)
    return operands


def _output_option(name: str, words: tuple[str, ...]) -> str | None:
    options = _OUTPUT_OPTIONS[name]
    for index, word in enumerate(words[1:], start=1):
        following = words[index + 1] if index + 1 < len(words) else None
        for option in options:
            if word == option:
                return following
            if option.startswith("--") and word.startswith(option + "="):
                return word[len(option) + 1 :]
        if name == "curl" and not word.startswith("--") and word.startswith("-") and len(word) > 2:
            # Bundled short options ending in the output letter: `curl -fsSLo file`.
            if word.endswith("o") and word[1:].isalpha():
                return following
        elif name not in ("curl", "wget", "sort") and word.startswith("-o") and len(word) > 2:
            return word[2:]  # `gcc -oapp`
    return None
