"""## What it does
Finds a `COPY --from=<stage>`, a `RUN --mount=from=<stage>,source=...` or a child stage that reads a
path which, in the source stage, was only ever written inside a cache, tmpfs or bind mount.

## Why is this bad?
With BuildKit, whatever a `RUN` writes under a mount target goes into the mount, never into the
image layer. After the `RUN`, the layer shows again what it held at that path before. So
`COPY --from=builder /app/target/release/app` copies a stale binary (from a `COPY . .` of a local
`target/`, or from a pre-build), or the build fails with "not found"; a wildcard source silently
copies nothing. The build succeeds and the application never changes.

## Example
```dockerfile
FROM rust:1.79 AS builder
WORKDIR /app
COPY . .
RUN --mount=type=cache,target=/app/target cargo build --release
FROM debian:bookworm-slim
COPY --from=builder /app/target/release/app /usr/local/bin/app
```

Use instead:
```dockerfile
FROM rust:1.79 AS builder
WORKDIR /app
COPY . .
RUN --mount=type=cache,target=/app/target cargo build --release && mv target/release/app /tmp/app
FROM debian:bookworm-slim
COPY --from=builder /tmp/app /usr/local/bin/app
```

## Fix
Appends a move out of the mount to the same `RUN` (`&& mv target/release/app /tmp/app`, keeping
the author's continuation style; before the terminator of a heredoc script, adding `set -e`;
through `sh -c` for the exec form), and points each consumer at the new path. When the `RUN`
already copies the artifact out, only the consumer changes. The destination is outside every mount
of that `RUN`. No fix is offered under a non-POSIX `SHELL` or when a path depends on a variable
whose value is unknown. `fix.move-command: cp` keeps the cache warm instead of moving.

## References
- [Dockerfile reference: RUN --mount=type=cache](https://docs.docker.com/reference/dockerfile/#run---mounttypecache)
- [docker/buildx#788](https://github.com/docker/buildx/issues/788): "Cache mounts do not persist in the image"
- [moby/buildkit#2683](https://github.com/moby/buildkit/issues/2683)
- [Docker's Rust guide](https://docs.docker.com/guides/rust/develop/): copy the binary out of the cache
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Iterator
from typing import NamedTuple

from bot.analysis import Analysis
from bot.analysis.effects import effects_of, existing_copy_outs
from bot.analysis.lost import LostWrite, find_lost_write, layer_index
from bot.dockerfile import paths
from bot.dockerfile.model import Dockerfile, Stage, Step, Word
from bot.dockerfile.words import expand, unresolved_name
from bot.fixes.text_edit import NoFix, append_to_run, replace_words
from bot.rules.base import Edit, Finding, Fix, FixAvailability, Rule, Severity


class _Read(NamedTuple):
    """One consumer reading one path."""

    step: Step  # the consuming instruction
    word: Word | None  # the source word to rewrite (None for reads a fix cannot redirect)
    path: str  # absolute path in the source stage
    how: str  # "COPY --from=builder", ...
    lost: LostWrite


def check(analysis: Analysis) -> Iterator[Finding]:
    df = analysis.dockerfile
    reads = list(_reads(analysis))
    unresolved = list(_unresolved_reads(analysis))
    fixes = _plan_fixes(df, reads, analysis)
    for read in reads:
        fix, reason = fixes.get(id(read), (None, None))
        yield RULE.finding(
            read.step.line,
            _message(read),
            end_line=read.step.instruction.end_line,
            severity=_severity(read),
            fix=fix,
            no_fix_reason=reason,
            related_lines=(read.lost.run.line,),
        )
    for step, how, name, lost in unresolved:
        yield RULE.finding(
            step.line,
            f"{how} reads a path under {lost.target}, which only the {lost.mount.mount.type} mount of "
            f"the RUN on line {lost.run.line} ever wrote: the image layer never holds it.",
            end_line=step.instruction.end_line,
            severity=Severity.WARNING,
            no_fix_reason=f"the path uses ${name}, whose value is not known from the Dockerfile",
            related_lines=(lost.run.line,),
        )


def _severity(read: _Read) -> Severity:
    if read.lost.run.workdir.assumed and not read.lost.mount.mount.options.get("target", "").startswith("/"):
        return Severity.WARNING
    return Severity.ERROR if read.lost.produced else Severity.WARNING


def _reads(analysis: Analysis) -> Iterator[_Read]:
    df = analysis.dockerfile
    for stage in df.stages:
        for step in stage.steps:
            spec = step.copy
            if spec is not None and spec.from_stage is not None:
                source = df.stage_for(spec.from_stage)
                if source is None or source is stage:
                    continue
                for word in spec.sources:
                    if word.value is None:
                        continue
                    path = paths.join("/", word.value)
                    index = layer_index(source)
                    lost = find_lost_write(index.chain, path, analysis.dockerignore, index)
                    if lost is not None:
                        yield _Read(step, word, path, f"{step.keyword} --from={spec.from_stage}", lost)
            for item in step.mounts:
                mount = item.mount
                if mount.from_ is None or mount.type != "bind":
                    continue
                source = df.stage_for(mount.from_)
                if source is None or source is stage:
                    continue
                path = paths.join("/", mount.source or "/")
                index = layer_index(source)
                lost = find_lost_write(index.chain, path, analysis.dockerignore, index)
                if lost is not None:
                    yield _Read(step, None, path, f"--mount=from={mount.from_}", lost)
        if stage.parent is not None:
            yield from _child_reads(analysis, stage)


def _child_reads(analysis: Analysis, stage: Stage) -> Iterator[_Read]:
    index = layer_index(stage)
    chain = index.chain
    own_start = len(chain) - len(stage.steps)
    for offset, step in enumerate(stage.steps):
        if step.keyword != "RUN":
            continue
        for path in dict.fromkeys(effects_of(step).reads):
            if step.covering_mount(path) is not None:
                continue
            lost = find_lost_write(chain[: own_start + offset], path, analysis.dockerignore, index)
            if lost is not None and lost.run.stage is not stage:
                yield _Read(step, None, path, f"the RUN in stage {stage.label}", lost)


def _unresolved_reads(analysis: Analysis) -> Iterator[tuple[Step, str, str, LostWrite]]:
    """COPY sources with an unknown variable whose known leading directory is inside a mount."""
    df = analysis.dockerfile
    for stage in df.stages:
        for step in stage.steps:
            spec = step.copy
            if spec is None or spec.from_stage is None:
                continue
            source = df.stage_for(spec.from_stage)
            if source is None or source is stage:
                continue
            for word in spec.sources:
                if word.value is not None or "$" not in word.text:
                    continue
                prefix = word.text.split("$", 1)[0]
                if "/" not in prefix:
                    continue
                directory = paths.join("/", prefix.rsplit("/", 1)[0] or "/")
                index = layer_index(source)
                lost = find_lost_write(index.chain, directory, analysis.dockerignore, index)
                if lost is not None:
                    name = unresolved_name(word.text, step.scope, df.escape) or "?"
                    yield step, f"{step.keyword} --from={spec.from_stage}", name, lost
                    break


def _message(read: _Read) -> str:
    lost = read.lost
    mount = lost.mount.mount
    target = mount.options.get("target", "")
    where = f"the {mount.type} mount `target={target}` of the RUN on line {lost.run.line}"
    produced = f" ({lost.producer} writes it there)" if lost.producer else ""
    head = f"{read.how} reads {read.path}, which only {where} ever wrote{produced}."
    kept = {"cache": "Cache contents", "tmpfs": "tmpfs contents", "bind": "Writes to a bind mount"}[
        mount.type
    ]
    body = f" {kept} never reach the image layer, so BuildKit takes what the layer held there before that RUN"
    if lost.earlier is not None and lost.earlier.certain:
        outcome = f": {lost.earlier.description}, and that stale copy ships."
    elif lost.earlier is not None:
        outcome = (
            f': {lost.earlier.description}; that stale copy ships, else the build fails with "not found".'
        )
    else:
        outcome = ': nothing, so the build fails with "not found".'
    if paths.has_glob(read.path):
        outcome += " A wildcard source that matches nothing is not an error: it silently copies nothing."
    return head + body + outcome


def _plan_fixes(
    df: Dockerfile, reads: list[_Read], analysis: Analysis
) -> dict[int, tuple[Fix | None, str | None]]:
    """One move per artifact per RUN, and one rewrite per consumer, shared by the findings."""
    result: dict[int, tuple[Fix | None, str | None]] = {}
    by_run: dict[int, list[_Read]] = {}
    for read in reads:
        by_run.setdefault(id(read.lost.run), []).append(read)
    options = analysis.fix_options
    for group in by_run.values():
        run = group[0].lost.run
        moves: list[str] = []
        new_paths: dict[str, str] = {}
        unfixable: dict[str, str] = {}
        taken: set[str] = set()
        dest_root = _destination_root(run, options.destination)
        uses_cd = any(c.cwd is not None for c in effects_of(run).commands)
        for read in group:
            if read.path in new_paths:
                continue
            existing = _existing_copy_out(run, read.path)
            if existing is not None:
                new_paths[read.path] = existing
                continue
            if dest_root is None:
                continue
            try:
                dest, command = _move(
                    read, dest_root, taken, verb=options.move_command, absolute=uses_cd, escape=df.escape
                )
            except NoFix as exc:
                unfixable[read.path] = str(exc)
                continue
            new_paths[read.path] = dest
            moves.append(command)
        run_edit: Edit | None = None
        reason: str | None = None
        if dest_root is None:
            reason = "every candidate destination is itself under a mount of that RUN"
        elif moves:
            try:
                run_edit = append_to_run(df, run, " && ".join(moves))
            except NoFix as exc:
                reason = str(exc)
        by_consumer: dict[int, list[_Read]] = {}
        for read in group:
            by_consumer.setdefault(id(read.step), []).append(read)
        for consumer_reads in by_consumer.values():
            step = consumer_reads[0].step
            if reason is not None or any(r.word is None or r.path not in new_paths for r in consumer_reads):
                why = reason or next(
                    (unfixable[r.path] for r in consumer_reads if r.path in unfixable),
                    "this consumer cannot be pointed at another path automatically",
                )
                for read in consumer_reads:
                    result[id(read)] = (None, why)
                continue
            replacements = [(r.word, _rewrite(r, new_paths[r.path])) for r in consumer_reads if r.word]
            try:
                copy_edit = replace_words(df, step, replacements)
            except NoFix as exc:
                for read in consumer_reads:
                    result[id(read)] = (None, str(exc))
                continue
            edits = (run_edit, copy_edit) if run_edit is not None else (copy_edit,)
            title = (
                "Move the artifact out of the mount in the same RUN"
                if run_edit
                else "Read the copy made outside the mount"
            )
            for read in consumer_reads:
                result[id(read)] = (Fix(title, tuple(e for e in edits if e is not None)), None)
    return result


def _destination_root(run: Step, preferred: str) -> str | None:
    """Where moved artifacts go: outside every mount of the RUN, and not a directory a later
    RUN of the stage touches (`rm -rf /tmp/*` would delete the artifact again)."""
    later = [effects_of(step).mentioned for step in run.stage.steps[run.index + 1 :] if step.keyword == "RUN"]
    for candidate in (preferred, "/tmp", "/out", "/mountie-out"):
        root = paths.clean(candidate)
        if any(
            m.target is not None and (paths.is_within(root, m.target) or paths.is_within(m.target, root))
            for m in run.mounts
        ):
            continue
        if any(paths.is_within(path, root) for mentioned in later for path in mentioned):
            continue
        return root
    return None


def _existing_copy_out(run: Step, path: str) -> str | None:
    """Where the RUN already copies `path` to, outside all of its mounts."""
    return existing_copy_outs(run).get(path)


def _move(
    read: _Read, root: str, taken: set[str], *, verb: str, absolute: bool, escape: str
) -> tuple[str, str]:
    """The new path of the artifact and the shell command that moves it there."""
    run = read.lost.run
    path = read.path
    workdir = run.workdir.path

    def shown(p: str) -> str:
        if absolute:
            return _shell_word(p)
        rel = paths.relative_to(p, workdir)
        relative_target = not (read.lost.mount.mount.target or "").startswith("/")
        if run.workdir.assumed and relative_target and rel not in (None, "."):
            # The mount sits under the unknown base image's WORKDIR: a path relative to it is
            # right wherever that WORKDIR really is.
            return _shell_word(rel or ".")
        return _shell_word(paths.display(p, workdir))

    source = _source_text(read, absolute, escape)
    if source is None:
        source = shown(path)
    # /tmp exists in every image that has a shell; any other root has to be made first.
    make_root = f"mkdir -p {_shell_word(root)} && " if root != "/tmp" else ""
    # `cp -a` copies a directory as well as a file, keeping modes and links.
    verb = "cp -a" if verb == "cp" else verb
    if paths.has_glob(path):
        folder = posixpath.basename(posixpath.dirname(path)) or "artifacts"
        directory = _unique(paths.join(root, folder), taken)
        pattern = posixpath.basename(path)
        return (
            paths.join(directory, pattern),
            f"mkdir -p {_shell_word(directory)} && {verb} {source} {_shell_word(directory)}/",
        )
    name = posixpath.basename(path) or "artifact"
    if path == read.lost.target:
        # A mount point cannot be moved; copy its contents instead.
        directory = _unique(paths.join(root, name), taken)
        target = _shell_word(directory)
        return directory, f"mkdir -p {target} && cp -a {source}/. {target}/"
    dest = _unique(paths.join(root, name), taken)
    if posixpath.dirname(dest) != root:
        return dest, f"mkdir -p {_shell_word(posixpath.dirname(dest))} && {verb} {source} {_shell_word(dest)}"
    return dest, f"{make_root}{verb} {source} {_shell_word(dest)}"


_PLAIN_WORD = re.compile(r"[A-Za-z0-9_./@%+=:,~^-]+")
_GLOB_WORD = re.compile(r"[A-Za-z0-9_./@%+=:,~^*?\[\]-]+")


def _shell_word(text: str) -> str:
    """`text` as one shell word: plain, with its wildcards left active, or quoted."""
    if _PLAIN_WORD.fullmatch(text) or (paths.has_glob(text) and _GLOB_WORD.fullmatch(text)):
        return text
    if paths.has_glob(text):
        raise NoFix(f"the path {text!r} mixes wildcards with characters the shell would need quoted")
    return shlex.quote(text)


_VARIABLE_WORD = re.compile(r"[A-Za-z0-9_./@%+=:,~^*?\[\]{}$-]+")


def _source_text(read: _Read, absolute: bool, escape: str) -> str | None:
    """The consumer's source as written, variables kept, when the RUN's shell expands it to the
    same path (so a `--build-arg` override moves the artifact the consumer then reads)."""
    word = read.word
    if word is None or "$" not in word.text or not _VARIABLE_WORD.fullmatch(word.text):
        return None
    run = read.lost.run
    if word.value is None or expand(word.text, run.scope, escape) != word.value:
        return None
    workdir = run.workdir.path
    if not absolute and workdir != "/":
        # Drop a leading part that names the WORKDIR, so the move reads like the rest of the RUN.
        segments = word.text.split("/")
        for cut in range(1, len(segments)):
            prefix = "/".join(segments[:cut])
            if prefix and paths.clean(expand(prefix, run.scope, escape) or "//") == workdir:
                rest = "/".join(segments[cut:])
                return rest if "$" in rest else None
    # COPY --from sources resolve from `/`.
    return word.text if word.value.startswith("/") else "/" + word.text


def _unique(candidate: str, taken: set[str]) -> str:
    if candidate not in taken:
        taken.add(candidate)
        return candidate
    number = 2
    parent, name = posixpath.split(candidate)
    while True:
        option = paths.join(paths.join(parent, str(number)), name)
        if option not in taken:
            taken.add(option)
            return option
        number += 1


def _rewrite(read: _Read, new_path: str) -> str:
    if read.word is None or read.word.value is None:
        return new_path
    # Keep a trailing slash the author wrote.
    return new_path + ("/" if read.word.value.endswith("/") and not new_path.endswith("/") else "")


RULE = Rule(
    code="BKM001",
    name="artifact-in-cache-mount",
    summary="A later stage reads a build artifact that only ever existed in a mount",
    severity=Severity.ERROR,
    fix=FixAvailability.SOMETIMES,
    check=check,
    doc=__doc__ or "",
    needs_mounts=True,
)
