"""Who reads a path after the RUN that wrote it into a mount, and when two mounts are the same cache.

Three kinds of facts:

* the effective identity of a cache mount (S6): BuildKit names the cache by its explicit `id`, else
  by `path.Clean(target)` as written, and keys it further by the snapshot it starts from: `from=`
  plus `source=`, or the scratch directory it makes for `uid`/`gid`/`mode`. Two mounts with equal
  keys see the same cache;
* what the image reads when it runs: the effective `CMD`, `ENTRYPOINT` and `HEALTHCHECK` of a
  stage (exec or shell form, relative paths resolved against the image's final WORKDIR) and the
  directories its `ENV PATH` lists;
* which paths a RUN's script reads: the programs it runs by path, the sources of its copies, the
  path operands of other commands and `<` redirections, but not what it deletes, creates or writes.

A path that depends on a variable whose value is unknown is left out: rules built on this stay
silent rather than guess.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Iterator
from typing import NamedTuple

from bot.analysis.effects import effects_of
from bot.analysis.memo import memo
from bot.dockerfile import paths
from bot.dockerfile.model import Dockerfile, ResolvedMount, Stage, Step, Word, Workdir
from bot.dockerfile.shell import SimpleCommand, commands, tokenize
from bot.dockerfile.words import Scope, expand, shell_split_words

# -- cache identity ---------------------------------------------------------------------------------

CacheKey = tuple[str, str, str, str, str, str]
_KEY_OPTIONS = ("id", "target", "from", "source", "uid", "gid", "mode")


def cache_key(item: ResolvedMount) -> CacheKey | None:
    """The cache a mount really uses (S6), or None when it is not a cache or a value is unknown."""
    mount = item.mount
    if mount.type != "cache" or any(key in mount.unresolved for key in _KEY_OPTIONS):
        return None
    cache_id = mount.cache_id
    if cache_id is None:
        return None
    source = paths.join("/", mount.source) if mount.source else "/"
    return (
        cache_id,
        (mount.from_ or "").lower(),
        source,
        _number(mount.uid, 10),
        _number(mount.gid, 10),
        _number(mount.mode, 8),
    )


def _number(value: str | None, base: int) -> str:
    if value is None:
        return ""
    try:
        return str(int(value, base))
    except ValueError:
        return value


def same_cache(a: ResolvedMount, b: ResolvedMount) -> bool:
    key = cache_key(a)
    return key is not None and key == cache_key(b)


def equivalent_mount(step: Step, item: ResolvedMount) -> ResolvedMount | None:
    """The mount of `step` that is the same cache as `item`, if any."""
    key = cache_key(item)
    if key is None or key not in mount_keys(step):
        return None
    return next(m for m, k in zip(step.mounts, mount_keys(step), strict=True) if k == key)


def mount_keys(step: Step) -> tuple[CacheKey | None, ...]:
    """`cache_key` of each of the step's mounts, computed once per step (walks over later steps
    ask it for every step)."""
    keys = vars(step).get("_memo_mount_keys")
    if keys is None:
        keys = vars(step)["_memo_mount_keys"] = tuple(cache_key(m) for m in step.mounts)
    return keys


# -- users ------------------------------------------------------------------------------------------


def runs_as_root(step: Step) -> bool:
    """No USER (root unless the base image says otherwise), or USER root / 0."""
    if not step.user_known:
        return False
    user = (step.user or "").strip().partition(":")[0]
    return user in ("", "root", "0")


def explicit_non_root(step: Step) -> bool:
    """USER names someone other than root (an unknown USER value counts as non-root)."""
    return not runs_as_root(step) and (step.user is not None or not step.user_known)


# -- what the image runs ----------------------------------------------------------------------------


class RuntimeCommand(NamedTuple):
    """One command the container runs: a CMD, ENTRYPOINT or HEALTHCHECK, or one simple command of
    its shell form."""

    step: Step
    how: str  # "CMD", "ENTRYPOINT", "HEALTHCHECK"
    words: tuple[Word, ...]  # program first; `value` is None when unresolved
    cwd: str  # absolute
    exec_form: bool

    @property
    def program(self) -> str:
        first = self.words[0].value if self.words else None
        return posixpath.basename(first) if first else ""


class PathRead(NamedTuple):
    """A path some instruction needs to exist."""

    step: Step
    path: str  # absolute
    how: str  # "CMD", "ENV PATH", "the RUN on line 12", ...
    word: Word | None = None  # the word naming it, when a fix may rewrite it
    exec_form: bool = False
    is_program: bool = False
    relative: bool = False  # written relative to the WORKDIR


def final_workdir(chain: list[Step], escape: str) -> Workdir | None:
    """The WORKDIR the image is left with (what relative CMD/ENTRYPOINT paths resolve against)."""
    if not chain:
        return None
    last = chain[-1]
    if last.keyword != "WORKDIR":
        return last.workdir
    value = expand(last.instruction.args.strip(), last.scope, escape)
    if value is None:
        return None
    if value.startswith("/"):
        return Workdir(paths.clean(value), False)
    return Workdir(paths.join(last.workdir.path, value), last.workdir.assumed)


def runtime_steps(stage: Stage) -> list[Step]:
    """The CMD, ENTRYPOINT and HEALTHCHECK the stage's image ends up with."""
    cmd: Step | None = None
    entrypoint: Step | None = None
    healthcheck: Step | None = None
    cmd_stage: Stage | None = None
    for step in stage.chain():
        if step.keyword == "CMD":
            cmd, cmd_stage = step, step.stage
        elif step.keyword == "ENTRYPOINT":
            entrypoint = step
            if cmd_stage is not step.stage:
                # BuildKit resets a CMD inherited from an earlier stage when ENTRYPOINT is set.
                cmd = None
        elif step.keyword == "HEALTHCHECK":
            healthcheck = step
    return [s for s in (entrypoint, cmd, healthcheck) if s is not None]


def runtime_commands(df: Dockerfile, stage: Stage) -> list[RuntimeCommand]:
    chain = stage.chain()
    workdir = final_workdir(chain, df.escape)
    if workdir is None:
        return []
    scope = chain[-1].scope
    result: list[RuntimeCommand] = []
    for step in runtime_steps(stage):
        ins = step.instruction
        if step.keyword == "HEALTHCHECK":
            match = re.match(r"\s*CMD\s+", ins.args, re.IGNORECASE)
            if match is None:
                continue  # HEALTHCHECK NONE
            text = ins.args[match.end() :]
            offset = ins.args_offset + match.end()
            argv = _json_words(text, offset) if text.lstrip().startswith("[") else None
        else:
            text = ins.args
            offset = ins.args_offset
            argv = _json_words(text, offset) if ins.exec_form is not None else None
        if argv is not None:
            if argv:
                result.append(RuntimeCommand(step, step.keyword, tuple(argv), workdir.path, True))
            continue
        for words, cwd in _shell_commands(text, offset, scope, df.escape):
            directory = paths.join(workdir.path, cwd) if cwd is not None else workdir.path
            result.append(RuntimeCommand(step, step.keyword, words, directory, False))
    return result


def runtime_reads(df: Dockerfile, stage: Stage) -> list[PathRead]:
    """Paths the stage's CMD, ENTRYPOINT and HEALTHCHECK name, and its `ENV PATH` directories."""
    reads: list[PathRead] = []
    for command in runtime_commands(df, stage):
        for index, word in enumerate(command.words):
            value = word.value
            if value is None or not _looks_like_path(value):
                continue
            if index > 0 and value.startswith("-"):
                continue
            reads.append(
                PathRead(
                    command.step,
                    paths.join(command.cwd, value),
                    command.how,
                    word,
                    command.exec_form,
                    is_program=index == 0,
                    relative=not value.startswith("/"),
                )
            )
    for step, entry in path_entries(stage.chain(), df.escape):
        reads.append(PathRead(step, entry, "ENV PATH"))
    return reads


def _looks_like_path(value: str) -> bool:
    return "/" in value and "://" not in value and "=" not in value and "$" not in value


def _json_words(text: str, offset: int) -> list[Word] | None:
    """The string literals of a JSON array with their spans (`offset` = where `text` starts)."""
    stripped = text.rstrip()
    try:
        values = json.loads(stripped)
    except ValueError:
        return None
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        return None
    decoder = json.JSONDecoder()
    words: list[Word] = []
    pos = text.index("[") + 1
    while pos < len(stripped) and len(words) < len(values):
        if stripped[pos] == '"':
            value, end = decoder.raw_decode(stripped, pos)
            words.append(Word(stripped[pos:end], pos + offset, end + offset, value))
            pos = end
        else:
            pos += 1
    return words


def _shell_commands(
    text: str, offset: int, scope: Scope, escape: str
) -> list[tuple[tuple[Word, ...], str | None]]:
    """Simple commands of a shell-form line, each with its words (spans and expanded values)."""
    tokens = tokenize(text)
    result: list[tuple[tuple[Word, ...], str | None]] = []
    for command in commands(text, tokens):
        words: list[Word] = []
        skip_next = False
        for token in tokens:
            if token.start < command.start or token.end > command.end:
                continue
            if skip_next:
                skip_next = False
                continue
            if token.kind == "redirect":
                skip_next = True
                continue
            if token.kind != "word":
                continue
            raw = text[token.start : token.end]
            value: str | None = token.value
            if "$" in raw:
                value = expand(raw, scope, escape)
            words.append(Word(raw, token.start + offset, token.end + offset, value))
        if words:
            result.append((tuple(words), command.cwd))
    return result


def path_entries(chain: list[Step], escape: str) -> list[tuple[Step, str]]:
    """The absolute directories `ENV PATH` puts in the search path at the end of `chain`, each with
    the ENV that added it. An entry that depends on an unknown variable is left out."""
    entries: list[tuple[Step, str]] = []
    for step in chain:
        entries = next_path_entries(entries, step, escape)
    return entries


def next_path_entries(entries: list[tuple[Step, str]], step: Step, escape: str) -> list[tuple[Step, str]]:
    """`path_entries` one step further: `entries` itself unless `step` is an ENV that sets PATH."""
    if step.keyword != "ENV":
        return entries
    raw = _env_value(step, "PATH", escape)
    if raw is None:
        return entries
    keeps_old = False
    added: list[tuple[Step, str]] = []
    for part in raw.split(":"):
        if part in ("$PATH", "${PATH}"):
            keeps_old = True
            continue
        value = expand(part, step.scope, escape)
        if value and value.startswith("/"):
            added.append((step, paths.clean(value)))
    return added + (entries if keeps_old else [])


def _env_value(step: Step, name: str, escape: str) -> str | None:
    """The value an ENV instruction gives `name`, as written (quotes removed, not expanded)."""
    words = shell_split_words(step.instruction.args, escape)
    if not words:
        return None
    if "=" not in words[0][0].split("$", 1)[0]:
        if words[0][0] == name and len(words) > 1:
            return _unquote(step.instruction.args[words[1][1] :].strip())
        return None
    for word, _, _ in words:
        key, eq, value = word.partition("=")
        if eq and key == name:
            return _unquote(value)
    return None


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def volumes(chain: list[Step]) -> list[str]:
    """Absolute paths declared by `VOLUME` in the chain (values that resolve)."""
    result: list[str] = []
    for step in chain:
        if step.keyword != "VOLUME":
            continue
        ins = step.instruction
        items = list(ins.exec_form) if ins.exec_form is not None else ins.args.split()
        for item in items:
            value = expand(item, step.scope) if ins.exec_form is None else item
            if value:
                result.append(step.resolve(value))
    return result


# -- what a RUN reads -------------------------------------------------------------------------------

# Commands that never need their operands to exist (they delete, create, print or link them).
_NOT_READS = frozenset(
    {"rm", "rmdir", "mkdir", "touch", "ln", "echo", "printf", "true", "false", ":", "export", "unset",
     "set", "test", "[", "exit", "tar", "which", "command", "type"}
)  # fmt: skip
_COPIES = frozenset({"cp", "mv", "install", "rsync"})
_COPY_ARG_OPTIONS = frozenset(
    {"-m", "-o", "-g", "-S", "--mode", "--owner", "--group", "-e", "--exclude", "--include", "--filter", "-f",
     "--chown", "--chmod"}
)  # fmt: skip


class RunRead(NamedTuple):
    path: str  # absolute
    command: SimpleCommand


def command_cwd(step: Step, command: SimpleCommand) -> str | None:
    """The directory `command` runs in, None when an earlier `cd` goes somewhere unknown."""
    if command.cwd is None:
        return step.workdir.path
    value = command.cwd if "$" not in command.cwd else expand(command.cwd, step.scope, dequote=False)
    return None if value is None else paths.join(step.workdir.path, value)


def resolve_word(step: Step, command: SimpleCommand, word: str) -> str | None:
    cwd = command_cwd(step, command)
    if cwd is None:
        return None
    value: str | None = word
    if "$" in word:
        scope = step.scope.with_values(command.assignments) if command.assignments else step.scope
        value = expand(word, scope, dequote=False)
    if not value or "$(" in value or "`" in value or value.startswith("~") or "://" in value:
        return None
    return paths.join(cwd, value)


def run_reads(step: Step) -> list[RunRead]:
    """Paths a RUN's script needs to exist. Paths the same RUN writes are left out."""
    effects = effects_of(step)
    reads: list[RunRead] = []
    for command in effects.commands:
        words = command.words
        for redirect in command.redirects:
            if redirect.operator.endswith("<") and not redirect.operator.startswith("<<"):
                path = resolve_word(step, command, redirect.target)
                if path is not None:
                    reads.append(RunRead(path, command))
        if not words or command.name in _NOT_READS:
            continue
        candidates: list[str] = []
        if "/" in words[0]:
            candidates.append(words[0])
        if command.name in _COPIES:
            candidates.extend(_copy_sources(words))
        else:
            candidates.extend(w for w in words[1:] if not w.startswith("-") and "=" not in w and "/" in w)
        for word in candidates:
            path = resolve_word(step, command, word)
            if path is not None and not effects.writes_path(path):
                reads.append(RunRead(path, command))
    return reads


def _copy_sources(words: tuple[str, ...]) -> list[str]:
    operands: list[str] = []
    has_target_dir = False
    skip = False
    for index, word in enumerate(words[1:], start=1):
        if skip:
            skip = False
            continue
        if word in ("-t", "--target-directory"):
            has_target_dir = True
            skip = True
        elif word.startswith("--target-directory="):
            has_target_dir = True
        elif word in _COPY_ARG_OPTIONS and index + 1 < len(words):
            skip = True
        elif word.startswith("-") and word != "-":
            continue
        else:
            operands.append(word)
    return operands if has_target_dir else operands[:-1]


# -- stages -----------------------------------------------------------------------------------------


def descendants(df: Dockerfile, stage: Stage) -> list[Stage]:
    """`stage` and every stage built on it (through `FROM <stage>`), computed once per stage."""
    return memo(stage, "descendants", lambda: [s for s in df.stages if stage in _ancestry(s)])


def _ancestry(stage: Stage) -> set[Stage]:
    seen: set[Stage] = set()
    current: Stage | None = stage
    while current is not None and current not in seen:
        seen.add(current)
        current = current.parent
    return seen


def later_steps(df: Dockerfile, run: Step) -> list[tuple[Step, list[Step]]]:
    """Every step that runs on top of `run`'s layer, each with its chain up to (not including) it."""
    return [(chain[position], chain[:position]) for chain, position in later_positions(df, run)]


def later_positions(df: Dockerfile, run: Step) -> Iterator[tuple[list[Step], int]]:
    """`later_steps` without copying the chains: each later step as its stage's chain and its
    position in it (the chain up to it is `chain[:position]`)."""
    for stage in descendants(df, run.stage):
        chain = stage.chain()
        own_start = len(chain) - len(stage.steps)
        start = chain.index(run) + 1 if stage is run.stage else own_start
        for position in range(max(start, own_start), len(chain)):
            yield chain, position
