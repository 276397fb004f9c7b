"""## What it does
Finds a `RUN` that mounts a cache only to copy a build result out of it, when an earlier `RUN` of
the same stage chain built that result into the same cache: same effective cache (the explicit `id`,
else the `target` as written, cleaned; and the same `from`/`source`/`uid`/`gid`/`mode`, which
BuildKit also keys the cache by).

## Why is this bad?
The copy works on a warm builder, but nothing ties the two steps together. BuildKit does not make
cache-mount contents part of any cache key: the building `RUN` can be a layer-cache hit (it does
not run at all) while the copying `RUN` runs, for example after its text changed, after
`docker builder prune` or garbage collection emptied the cache while the layer stayed cached, or on
a fresh CI runner that imported the layers with `--cache-from` (cache mounts are never exported).
The copy then finds nothing and fails, or, since cache mounts are shared by every build on the
builder, copies an artifact another branch, project or platform left there. `sharing=private` or
`locked` does not change this.

Severity: **warning** (it works in the common case).

Not reported: mounts with a different `id` or target (then the second `RUN` reads a different
cache: `ephemeral-path-used-later-in-same-image` or `artifact-in-cache-mount` report what is
missing); a second `RUN` that builds again before copying (the correct pattern); a copy whose
destination is itself under a mount of that `RUN`.

## Example
```dockerfile
FROM rust:1.79 AS builder
WORKDIR /usr/src/app
COPY . .
RUN --mount=type=cache,target=/usr/src/app/target cargo build --release
RUN --mount=type=cache,target=/usr/src/app/target cp target/release/app /usr/local/bin/app
```

Use instead:
```dockerfile
FROM rust:1.79 AS builder
WORKDIR /usr/src/app
COPY . .
RUN --mount=type=cache,target=/usr/src/app/target \\
    cargo build --release && cp target/release/app /usr/local/bin/app
```

## Fix
Moves the copy into the building `RUN` (`cargo build --release && cp target/release/app /out/`,
keeping the author's continuation style; before the terminator of a heredoc script, adding
`set -e`) and deletes the copying `RUN`. Several copying `RUN`s after one build are merged together.
Offered only when the copying `RUN` is a shell-form `RUN` in the same stage that does nothing but
copy (`cp`, `mv`, `install`, `rsync`, `mkdir -p`, joined by `&&` or `;`), both `RUN`s share the
WORKDIR, `USER`, `SHELL`, mount target and the values of the variables the copy uses, no
instruction in between writes the destination or mounts that cache, and the destination is outside
every mount of the building `RUN`. When the building `RUN` changes directory, the copy is prefixed
with `cd` back to the WORKDIR.

## References
- [Dockerfile reference](https://docs.docker.com/reference/dockerfile/#run---mounttypecache):
  "Your build should work with any contents of the cache directory as another build may overwrite
  the files or GC may clean it"
- [moby/buildkit#1512](https://github.com/moby/buildkit/issues/1512) and
  [moby/buildkit#1673](https://github.com/moby/buildkit/issues/1673): cache mounts are not exported
  with the build cache; the id is what identifies a cache
- [mobilecoinofficial/full-service#914](https://github.com/mobilecoinofficial/full-service/pull/914):
  "The RUN command to copy binaries after build doesn't work as the cache is not available in that
  step"
- [Docker's Rust guide](https://docs.docker.com/guides/rust/develop/): build and copy in one `RUN`
"""

from __future__ import annotations

import posixpath
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field

from bot.analysis import Analysis
from bot.analysis.effects import CopyOut, effects_of
from bot.analysis.lost import writes_into_layer
from bot.analysis.mount_readers import cache_key, same_cache
from bot.dockerfile import paths
from bot.dockerfile.model import Dockerfile, ResolvedMount, Step
from bot.dockerfile.shell import commands, tokenize
from bot.dockerfile.words import expand
from bot.fixes.text_edit import NoFix, append_to_run
from bot.rules.base import Edit, Finding, Fix, FixAvailability, Rule, Severity

_COPY_COMMANDS = frozenset({"cp", "mv", "install", "rsync"})


@dataclass(slots=True)
class _Pair:
    build: Step  # A: builds into the cache
    copy: Step  # B: re-mounts it and copies out
    mount: ResolvedMount  # B's mount of the cache
    build_mount: ResolvedMount  # A's mount of the cache
    copies: list[tuple[CopyOut, str]] = field(default_factory=list)  # (copy, final destination)


def check(analysis: Analysis) -> Iterator[Finding]:
    df = analysis.dockerfile
    pairs = list(_pairs(df))
    fixes = _plan_fixes(df, pairs)
    for pair in pairs:
        fix, reason = fixes.get(id(pair), (None, None))
        copy_out, dest = pair.copies[0]
        source = next(s for s in copy_out.sources if paths.is_within(s, pair.mount.target or "/"))
        written = pair.mount.mount.options.get("target", "")
        yield RULE.finding(
            pair.copy.line,
            f"This RUN copies {source} to {dest} out of the cache mount `target={written}` that the "
            f"RUN on line {pair.build.line} built into. Cache contents are not part of any cache key: "
            f"line {pair.build.line} can be a layer-cache hit while this RUN runs on an emptied or "
            "shared cache, and then the copy fails or ships an artifact another build left there. "
            f"Copy it out in the RUN on line {pair.build.line}.",
            end_line=pair.copy.instruction.end_line,
            severity=Severity.WARNING,
            fix=fix,
            no_fix_reason=reason,
            related_lines=(pair.build.line,),
        )


def _pairs(df: Dockerfile) -> Iterator[_Pair]:
    for stage in df.stages:
        chain = stage.chain()
        own_start = len(chain) - len(stage.steps)
        for offset, step in enumerate(stage.steps):
            if step.keyword == "RUN":
                pair = _pair(chain[: own_start + offset], step)
                if pair is not None:
                    yield pair


def _pair(earlier: list[Step], step: Step) -> _Pair | None:
    """B = `step` and its A, when B copies out of a cache that A built into."""
    effects = effects_of(step)
    pair: _Pair | None = None
    for copy_out in effects.copy_outs:
        for source in copy_out.sources:
            mount = step.covering_mount(source)
            if mount is None or mount.mount.type != "cache" or cache_key(mount) is None:
                continue
            target = mount.target or "/"
            if any(
                paths.is_within(o.path, target) or paths.is_within(target, o.path) for o in effects.outputs
            ):
                return None  # this RUN builds again before copying: the right pattern
            dest = _final_destination(copy_out, source)
            cover = step.covering_mount(dest)
            if cover is not None and cover.mount.ephemeral:
                continue  # copied into another mount: not a layer path
            if pair is None:
                build = _builder(earlier, mount, source)
                if build is None:
                    continue
                pair = _Pair(build[0], step, mount, build[1])
            if mount is pair.mount:
                pair.copies.append((copy_out, dest))
                break
    return pair


def _final_destination(copy_out: CopyOut, source: str) -> str:
    if copy_out.dest_is_dir:
        return paths.join(copy_out.dest, posixpath.basename(source))
    return copy_out.dest


def _builder(chain: list[Step], mount: ResolvedMount, source: str) -> tuple[Step, ResolvedMount] | None:
    """The latest earlier RUN that mounts the same cache and writes what is copied."""
    rel = paths.relative_to(source, mount.target or "/") or "."
    for step in reversed(chain):
        if step.keyword != "RUN":
            continue
        theirs = next((m for m in step.mounts if same_cache(m, mount)), None)
        if theirs is None or theirs.target is None:
            continue
        path = paths.join(theirs.target, rel)
        effects = effects_of(step)
        written = [
            *(o.path for o in effects.outputs),
            *effects.writes,
            *(c.dest for c in effects.copy_outs),
            *effects.mentioned,
        ]
        if any(
            (paths.is_within(path, w) or paths.is_within(w, path)) and paths.is_within(w, theirs.target)
            for w in written
        ):
            return step, theirs
    return None


# -- fixes ------------------------------------------------------------------------------------------


def _plan_fixes(df: Dockerfile, pairs: list[_Pair]) -> dict[int, tuple[Fix | None, str | None]]:
    """Merge every copying RUN after one build into that build, as one fix shared by them."""
    result: dict[int, tuple[Fix | None, str | None]] = {}
    by_build: dict[int, list[_Pair]] = {}
    for pair in pairs:
        by_build.setdefault(id(pair.build), []).append(pair)
    for group in by_build.values():
        build = group[0].build
        merged, texts, deleted, blocked = _walk(build, group)
        for pair, reason in blocked:
            result[id(pair)] = (None, reason)
        if not merged:
            continue
        command = " && ".join(texts)
        if any(c.cwd is not None or c.name in ("cd", "pushd", "popd") for c in effects_of(build).commands):
            command = f"cd {shlex.quote(build.workdir.path)} && {command}"
        try:
            build_edit = append_to_run(df, build, command)
        except NoFix as exc:
            for pair in merged:
                result[id(pair)] = (None, str(exc))
            continue
        fix = Fix(
            "Copy the artifact out in the RUN that builds it, and drop the separate copying RUN",
            (_spanning_edit(df, build_edit, deleted),),
        )
        for pair in merged:
            result[id(pair)] = (fix, None)
    return result


def _spanning_edit(df: Dockerfile, build_edit: Edit, deleted: list[Step]) -> Edit:
    """One edit from the build's changed lines to the last deleted RUN, so the suggestion applies
    as a whole (applying only the deletion would lose the artifact)."""
    gone = {n for step in deleted for n in range(step.line, step.instruction.end_line + 1)}
    last = max(gone)
    kept = [df.lines[n - 1] for n in range(build_edit.end_line + 1, last + 1) if n not in gone]
    following_blank = last >= len(df.lines) or not df.lines[last].strip()
    while kept and not kept[-1].strip() and following_blank:
        kept.pop()  # no double blank line where the deleted RUNs were
    return Edit(build_edit.start_line, last, "\n".join([build_edit.new_text, *kept]))


def _walk(
    build: Step, group: list[_Pair]
) -> tuple[list[_Pair], list[str], list[Step], list[tuple[_Pair, str]]]:
    """Walk from the build to the last copying RUN: what merges (in order), the text to append,
    the RUNs to delete, and the copying RUNs left alone with the reason."""
    by_copy = {id(p.copy): p for p in group}
    chain = build.stage.chain()
    merged: list[_Pair] = []
    texts: list[str] = []
    deleted: list[Step] = []
    blocked: list[tuple[_Pair, str]] = []
    preps: list[tuple[Step, list[str]]] = []  # pure `mkdir` RUNs waiting for the next copy
    remaining = sorted(group, key=lambda p: p.copy.line)
    reason: str | None = None
    for step in chain[chain.index(build) + 1 :]:
        if not remaining:
            break
        pair = by_copy.get(id(step))
        if pair is not None:
            remaining.remove(pair)
            try:
                text = _mergeable_text(pair)
                for prep, made in preps:
                    if not all(any(paths.is_within(d, m) for _, d in pair.copies) for m in made):
                        raise NoFix(f"line {prep.line} creates a directory between the two RUNs")
            except NoFix as exc:
                blocked.append((pair, str(exc)))
                reason = f"the copying RUN on line {step.line} stays in between"
                break
            for prep, _ in preps:
                texts.append(_script_commands(prep))
                deleted.append(prep)
            preps = []
            texts.append(text)
            deleted.append(step)
            merged.append(pair)
            continue
        created = _prep_directories(build, step)
        if created is not None:
            preps.append((step, created))
            continue
        for prep, _ in preps:
            # A `mkdir` RUN that another step separates from the copy stays where it is.
            reason = _conflict(prep, remaining)
            if reason is not None:
                break
        reason = reason or _conflict(step, remaining)
        if reason is not None:
            break
        preps = []
    for pair in remaining:
        if pair.copy.stage is not build.stage:
            blocked.append((pair, "the copying RUN is in another stage than the build"))
        else:
            blocked.append((pair, reason or "the copying RUN cannot be moved"))
    return merged, texts, deleted, blocked


def _conflict(step: Step, pairs: list[_Pair]) -> str | None:
    """Why `step`, between a build and its copying RUNs, keeps the copies where they are."""
    for pair in pairs:
        if step.keyword == "RUN" and any(same_cache(m, pair.mount) for m in step.mounts):
            return f"the RUN on line {step.line} also uses that cache between the two"
        for _, dest in pair.copies:
            if writes_into_layer(step, dest):
                return f"line {step.line} writes to {dest} or a directory above it between the two RUNs"
        if step.keyword in ("WORKDIR", "USER", "SHELL"):
            return f"line {step.line} changes the {step.keyword} between the two RUNs"
    return None


def _prep_directories(build: Step, step: Step) -> list[str] | None:
    """The directories a RUN that does nothing but `mkdir` creates (None for any other step)."""
    ins = step.instruction
    if step.keyword != "RUN" or step.mounts or ins.exec_form is not None or ins.heredocs:
        return None
    if (build.workdir.path, build.user, build.shell) != (step.workdir.path, step.user, step.shell):
        return None
    script = ins.args
    if "$" in script or "`" in script or not _simple_list(script):
        return None
    parsed = commands(script)
    if not parsed or any(c.name != "mkdir" or c.assignments or c.cwd is not None for c in parsed):
        return None
    made = [paths.join(step.workdir.path, w) for c in parsed for w in c.words[1:] if not w.startswith("-")]
    if not made or any(
        m.target is not None and paths.is_within(d, m.target) for d in made for m in build.mounts
    ):
        return None
    return made


def _simple_list(script: str) -> bool:
    """Only simple commands joined by `&&`, `;` or newlines: no pipes, redirections or subshells."""
    tokens = tokenize(script)
    return all(t.kind == "word" or (t.kind == "op" and t.value in ("&&", ";", "\n")) for t in tokens)


def _script_commands(step: Step) -> str:
    script = step.instruction.args
    return " && ".join(script[c.start : c.end] for c in commands(script))


def _mergeable_text(pair: _Pair) -> str:
    """The copy commands of B, to append to A; raises NoFix when moving them is not certainly safe."""
    build, copy = pair.build, pair.copy
    ins = copy.instruction
    if ins.exec_form is not None or ins.heredoc_script is not None or ins.heredocs:
        raise NoFix("the copying RUN is not a plain shell-form RUN")
    if build.instruction.exec_form is not None:
        raise NoFix("the building RUN uses the exec form")
    if (build.workdir.path, build.user, build.shell) != (copy.workdir.path, copy.user, copy.shell):
        raise NoFix("the two RUNs run with a different WORKDIR, USER or SHELL")
    if pair.build_mount.target != pair.mount.target:
        raise NoFix("the two RUNs mount the cache at different targets")
    script = ins.args
    if "$(" in script or "`" in script:
        raise NoFix("the copying RUN uses command substitution")
    if not _simple_list(script):
        raise NoFix("the copying RUN does more than a list of commands")
    parsed = commands(script)
    texts: list[str] = []
    for command in parsed:
        if command.assignments or command.cwd is not None:
            raise NoFix("the copying RUN sets variables or changes directory")
        if command.name == "mkdir" and "-p" in command.words:
            pass
        elif command.name not in _COPY_COMMANDS:
            raise NoFix(f"the copying RUN also runs `{command.name}`")
        texts.append(script[command.start : command.end])
    for word in script.split():
        if "$" in word and expand(word, build.scope, dequote=False) != expand(
            word, copy.scope, dequote=False
        ):
            raise NoFix("a variable the copy uses has another value at the building RUN")
        if "$" in word and expand(word, copy.scope, dequote=False) is None:
            raise NoFix("the copy uses a variable whose value is unknown")
    effects = effects_of(copy)
    for written in effects.writes:
        if any(m.target is not None and paths.is_within(written, m.target) for m in build.mounts):
            raise NoFix(f"{written} is under a mount of the building RUN")
    for copy_out in effects.copy_outs:
        for source in copy_out.sources:
            if copy.covering_mount(source) is not pair.mount:
                raise NoFix(f"the copy also reads {source}, which is not in that cache")
        for source in copy_out.sources:
            dest = _final_destination(copy_out, source)
            for item in build.mounts:
                if item.target is not None and (
                    paths.is_within(dest, item.target) or paths.is_within(item.target, dest)
                ):
                    raise NoFix(f"{dest} is under a mount of the building RUN")
    for mount in copy.mounts:
        other = mount is not pair.mount and not any(same_cache(mount, m) for m in build.mounts)
        if (
            other
            and mount.target is not None
            and any(paths.is_within(w, mount.target) for w in effects.mentioned)
        ):
            raise NoFix("the copy reads another mount of the copying RUN")
    return " && ".join(texts)


RULE = Rule(
    code="BKM004",
    name="copy-out-in-separate-run",
    summary="A later RUN copies a build result out of the cache an earlier RUN built into",
    severity=Severity.WARNING,
    fix=FixAvailability.SOMETIMES,
    check=check,
    doc=__doc__ or "",
    needs_mounts=True,
)
