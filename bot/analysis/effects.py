"""What a RUN step does to the filesystem, read from its shell script.

Three kinds of facts: the outputs of known build tools (where `cargo build`, `mvn package`,
`npm run build` ... put their results by default, or where a flag or variable redirects them), the
copy-outs (`cp`, `mv`, `install`, `rsync`, `tar -x`) with their sources and destinations, and other
writes (redirections, `mkdir`, `touch`). All paths are absolute, resolved against the WORKDIR and
any `cd` earlier in the script; a path that depends on an unknown variable is left out.
"""

from __future__ import annotations

import posixpath
import re
from functools import cache
from typing import NamedTuple

from bot.analysis.path_index import any_related
from bot.dockerfile import paths
from bot.dockerfile.model import Step
from bot.dockerfile.shell import SimpleCommand, Token, commands, tokenize
from bot.dockerfile.words import Scope, expand

_VAR = re.compile(r"\$")


class Output(NamedTuple):
    path: str  # absolute directory or file the tool writes
    tool: str  # e.g. "cargo build"


class CopyOut(NamedTuple):
    sources: tuple[str, ...]  # absolute; may contain glob characters
    dest: str  # absolute
    dest_is_dir: bool
    command: str  # "cp", "mv", ...


class RunEffects(NamedTuple):
    script: str
    commands: tuple[SimpleCommand, ...]
    outputs: tuple[Output, ...]  # build-tool outputs (defaults or redirected)
    redirected: tuple[Output, ...]  # outputs moved away from a tool's default by a flag or variable
    copy_outs: tuple[CopyOut, ...]
    writes: tuple[str, ...]  # other paths written (redirections, mkdir, touch)
    mentioned: tuple[str, ...]  # every path-like word, resolved
    # Path-like words the script reads: `mentioned` without the operands of rm/mkdir/touch/...
    # and without copy-out destinations.
    reads: tuple[str, ...] = ()

    def writes_path(self, path: str) -> bool:
        """True when the script leaves something at `path` (or inside it) through a known write."""
        return any_related(
            self,
            "writes",
            lambda: (*self.writes, *(c.dest for c in self.copy_outs), *(o.path for o in self.outputs)),
            len(self.writes) + len(self.copy_outs) + len(self.outputs),
            path,
        )


def existing_copy_outs(run: Step) -> dict[str, str]:
    """Where the RUN already copies each path to, outside all of its mounts (the first such copy
    of each source), computed once per RUN: the fix planners ask it for every path they move."""
    found = vars(run).get("_memo_copy_outs")
    if found is None:
        found = {}
        for copy_out in effects_of(run).copy_outs:
            if run.covering_mount(copy_out.dest) is not None:
                continue
            for source in copy_out.sources:
                if source not in found:
                    dest = copy_out.dest
                    found[source] = (
                        paths.join(dest, posixpath.basename(source)) if copy_out.dest_is_dir else dest
                    )
        vars(run)["_memo_copy_outs"] = found
    return found


def run_script(step: Step) -> str:
    """The shell script a RUN executes ('' when it is not a shell script we can read)."""
    ins = step.instruction
    if ins.exec_form is not None:
        argv = ins.exec_form
        if (
            len(argv) >= 3
            and posixpath.basename(argv[0]) in ("sh", "bash", "ash", "dash")
            and argv[1] == "-c"
        ):
            return argv[2]
        return " ".join(argv)
    script = ins.heredoc_script
    if script is not None:
        return script.body
    return ins.args


def run_tokens(step: Step) -> tuple[Token, ...]:
    """`tokenize(run_script(step))`, read once per step for every module that reads the script."""
    cached = vars(step).get("_memo_run_tokens")
    if cached is None:
        cached = tuple(tokenize(run_script(step)))
        vars(step)["_memo_run_tokens"] = cached
    return cached


@cache
def _empty() -> RunEffects:
    return RunEffects("", (), (), (), (), (), ())


def effects_of(step: Step) -> RunEffects:
    """The effects of a RUN step (empty for other instructions), computed once per step."""
    cached = vars(step).get("_memo_effects")
    if cached is None:
        cached = _analyse(step) if step.keyword == "RUN" else _empty()
        vars(step)["_memo_effects"] = cached
    return cached


class _Resolver:
    def __init__(self, step: Step) -> None:
        self.step = step
        self.scope: Scope = step.scope
        self.exported: dict[str, str | None] = {}

    def value(self, word: str, extra: dict[str, str] | None = None) -> str | None:
        if "$" not in word:
            return word
        scope = (
            self.scope.with_values({**self.exported, **(extra or {})})
            if (self.exported or extra)
            else self.scope
        )
        return expand(word, scope, dequote=False)

    def env(self, name: str, extra: dict[str, str]) -> str | None:
        if name in extra:
            return self.value(extra[name])
        if name in self.exported:
            return self.exported[name]
        known, value = self.scope.lookup(name)
        return value if known else None

    def path(self, word: str, cwd: str, extra: dict[str, str] | None = None) -> str | None:
        value = self.value(word, extra)
        if value is None or value == "" or value.startswith("-") or "$(" in value or "`" in value:
            return None
        return paths.join(cwd, value)


def _analyse(step: Step) -> RunEffects:
    script = run_script(step)
    parsed = commands(script, run_tokens(step))
    resolver = _Resolver(step)
    outputs: list[Output] = []
    redirected: list[Output] = []
    copy_outs: list[CopyOut] = []
    writes: list[str] = []
    mentioned: list[str] = []
    reads: list[str] = []
    for command in parsed:
        cwd = step.workdir.path
        if command.cwd is not None:
            value = resolver.value(command.cwd)
            cwd = paths.join(cwd, value) if value is not None else cwd
        words = command.words
        if command.name == "export" or (not words and command.assignments):
            pairs = (
                command.assignments
                if not words
                else dict(w.partition("=")[::2] for w in words[1:] if "=" in w)
            )
            for name, raw in pairs.items():
                resolver.exported[name] = resolver.value(raw)
            continue
        for redirect in command.redirects:
            if redirect.operator.endswith("&") and (redirect.target.isdigit() or redirect.target == "-"):
                continue  # `2>&1`, `>&2`, `>&-`: a file-descriptor copy, not a file
            if (
                redirect.operator.endswith(">")
                or redirect.operator.endswith(">>")
                or ">" in redirect.operator
            ):
                target = resolver.path(redirect.target, cwd, command.assignments)
                if target is not None and not redirect.target.startswith("/dev/"):
                    writes.append(target)
        # The command word itself counts: `./target/release/app --self-test` runs (reads) it.
        copied = len(copy_outs)
        _tool_outputs(command, cwd, resolver, outputs, redirected)
        _copy_out(command, cwd, resolver, copy_outs)
        destinations = {c.dest for c in copy_outs[copied:]}
        for position, word in enumerate(words):
            if position == 0 and "/" not in word:
                continue
            if "/" in word or word in (".", "..") or word.startswith("$"):
                resolved = resolver.path(word, cwd, command.assignments)
                if resolved is not None:
                    mentioned.append(resolved)
                    if command.name not in _NOT_READS and resolved not in destinations:
                        reads.append(resolved)
        if command.name in ("mkdir", "touch"):
            for word in words[1:]:
                if not word.startswith("-"):
                    target = resolver.path(word, cwd, command.assignments)
                    if target is not None:
                        writes.append(target)
    return RunEffects(
        script, tuple(parsed), tuple(outputs), tuple(redirected), tuple(copy_outs), tuple(writes),
        tuple(mentioned), tuple(reads),
    )  # fmt: skip


# Commands whose path operands are written or removed, never read.
_NOT_READS = frozenset({"rm", "rmdir", "mkdir", "touch", "ln", "chmod", "chown", "chgrp"})


def _option_value(words: tuple[str, ...], *names: str) -> str | None:
    """Value of `--name X`, `--name=X` or `-n X` in `words`."""
    for index, word in enumerate(words):
        for name in names:
            if word == name and index + 1 < len(words):
                return words[index + 1]
            if name.startswith("--") and word.startswith(name + "="):
                return word[len(name) + 1 :]
            if not name.startswith("--") and word.startswith(name) and len(word) > len(name):
                return word[len(name) :]
    return None


_JS_BUILD_DIRS = ("dist", "build", ".next", "out")
_GRADLE_TASKS = frozenset(
    {"build", "bootjar", "jar", "assemble", "installdist", "shadowjar", "war", "bootwar"}
)
_MAVEN_GOALS = frozenset({"package", "install", "verify", "compile", "deploy"})


def _tool_outputs(
    command: SimpleCommand, cwd: str, resolver: _Resolver, outputs: list[Output], redirected: list[Output]
) -> None:
    words = command.words
    name = command.name
    extra = command.assignments
    sub = words[1] if len(words) > 1 else ""
    if name == "cargo" and sub == "chef" and "cook" in words:
        outputs.append(Output(paths.join(cwd, "target"), "cargo chef cook"))
    elif name == "cargo" and sub in ("build", "b", "install", "rustc"):
        if sub == "install":
            root = _option_value(words, "--root") or resolver.env("CARGO_INSTALL_ROOT", extra)
            if root is not None:
                path = resolver.path(root, cwd, extra)
                if path is not None:
                    redirected.append(Output(paths.join(path, "bin"), "cargo install --root"))
                    outputs.append(Output(paths.join(path, "bin"), "cargo install"))
                return
            home = resolver.env("CARGO_HOME", extra)
            if home is not None:
                outputs.append(Output(paths.join(paths.join(cwd, home), "bin"), "cargo install"))
            return
        target_dir = _option_value(words, "--target-dir") or resolver.env("CARGO_TARGET_DIR", extra)
        if target_dir is not None:
            path = resolver.path(target_dir, cwd, extra)
            if path is not None:
                redirected.append(Output(path, f"cargo {sub}"))
                outputs.append(Output(path, f"cargo {sub}"))
            return
        manifest = _option_value(words, "--manifest-path")
        base = cwd
        if manifest is not None:
            path = resolver.path(manifest, cwd, extra)
            base = posixpath.dirname(path) if path else cwd
        outputs.append(Output(paths.join(base, "target"), f"cargo {sub}"))
    elif name == "go" and sub in ("build", "install"):
        out = _option_value(words, "-o")
        if sub == "build" and out is not None:
            path = resolver.path(out, cwd, extra)
            if path is not None:
                redirected.append(Output(path, "go build -o"))
                outputs.append(Output(path, "go build -o"))
        elif sub == "install":
            gobin = resolver.env("GOBIN", extra)
            gopath = resolver.env("GOPATH", extra)
            if gobin is not None:
                outputs.append(Output(paths.join(cwd, gobin), "go install"))
            elif gopath is not None:
                outputs.append(Output(paths.join(paths.join(cwd, gopath), "bin"), "go install"))
    elif name in ("mvn", "mvnw") and any(w.split(":")[-1] in _MAVEN_GOALS for w in words[1:]):
        outputs.append(Output(paths.join(cwd, "target"), "mvn"))
    elif name in ("gradle", "gradlew") and any(
        w.lower().lstrip(":").split(":")[-1] in _GRADLE_TASKS for w in words[1:]
    ):
        outputs.append(Output(paths.join(cwd, "build"), "gradle"))
    elif name in ("npm", "yarn", "pnpm", "bun"):
        rest = [w for w in words[1:] if not w.startswith("-")]
        if rest[:1] in (["ci"], ["install"], ["i"], ["add"]) or (name == "yarn" and not rest):
            outputs.append(Output(paths.join(cwd, "node_modules"), f"{name} install"))
        elif "build" in rest[:2]:
            for directory in _JS_BUILD_DIRS:
                outputs.append(Output(paths.join(cwd, directory), f"{name} run build"))
    elif name in ("pip", "pip3") and sub == "install":
        target = _option_value(words, "--target", "-t")
        if target is not None:
            path = resolver.path(target, cwd, extra)
            if path is not None:
                outputs.append(Output(path, "pip install --target"))
    elif name == "tsc":
        out_dir = _option_value(words, "--outDir")
        path = resolver.path(out_dir, cwd, extra) if out_dir else paths.join(cwd, "dist")
        if path is not None:
            outputs.append(Output(path, "tsc"))


# Options of cp/mv/install/rsync that take a separate argument.
_ARG_OPTIONS = {
    "install": frozenset({"-m", "-o", "-g", "-t", "-S", "--mode", "--owner", "--group"}),
    "cp": frozenset({"-t", "--target-directory", "-S"}),
    "mv": frozenset({"-t", "--target-directory", "-S"}),
    "rsync": frozenset({"-e", "--exclude", "--include", "--filter", "-f", "--chown", "--chmod"}),
}


def _copy_out(command: SimpleCommand, cwd: str, resolver: _Resolver, copy_outs: list[CopyOut]) -> None:
    name = command.name
    words = command.words
    extra = command.assignments
    if name in ("cp", "mv", "install", "rsync"):
        takes_arg = _ARG_OPTIONS[name]
        operands: list[str] = []
        target_dir: str | None = None
        skip = False
        for index, word in enumerate(words[1:], start=1):
            if skip:
                skip = False
                continue
            if word in ("-t", "--target-directory") and index + 1 < len(words):
                target_dir = words[index + 1]
                skip = True
            elif word.startswith("--target-directory="):
                target_dir = word.split("=", 1)[1]
            elif word in takes_arg:
                skip = True
            elif word.startswith("-") and word != "-":
                if name == "install" and word == "-d":
                    return
                continue
            else:
                operands.append(word)
        if target_dir is not None:
            dest_word, source_words, is_dir = target_dir, operands, True
        elif len(operands) >= 2:
            dest_word, source_words = operands[-1], operands[:-1]
            is_dir = dest_word.endswith("/") or len(source_words) > 1
        else:
            return
        dest = resolver.path(dest_word, cwd, extra)
        if dest is None:
            return
        sources = tuple(s for s in (resolver.path(w, cwd, extra) for w in source_words) if s is not None)
        copy_outs.append(CopyOut(sources, dest, is_dir, name))
    elif name == "tar" and len(words) > 1:
        flags = words[1] if not words[1].startswith("--") else ""
        extracting = "x" in flags.lstrip("-") or "--extract" in words or "-x" in words
        directory = _option_value(words, "-C", "--directory")
        if extracting and directory is not None:
            dest = resolver.path(directory, cwd, extra)
            if dest is not None:
                copy_outs.append(CopyOut((), dest, True, "tar"))
        elif not extracting:
            archive = _option_value(words, "-f", "--file")
            if archive is None and "f" in flags.lstrip("-") and len(words) > 2:
                archive = words[2]
            if archive is not None:
                dest = resolver.path(archive, cwd, extra)
                if dest is not None:
                    copy_outs.append(CopyOut((), dest, False, "tar"))
