"""## What it does
Finds a path that the final image, or a later `RUN` of the same stage, needs, but that only ever
existed inside a cache or tmpfs mount of an earlier `RUN`:

- a path in the final stage's `CMD`, `ENTRYPOINT` or `HEALTHCHECK` (exec or shell form; relative
  paths are resolved against the image's final WORKDIR);
- a directory the final stage's `ENV PATH` lists (`/app/node_modules/.bin`);
- a path a later `RUN` of the same stage reads (runs it, copies it, passes it to a command) without
  mounting the same cache (same `id`, or the same `target` as written when there is no `id`).

## Why is this bad?
With BuildKit, whatever a `RUN` writes under a cache or tmpfs mount goes into the mount, never into
the image layer, and the mount is gone when the `RUN` ends. The image keeps what the layer held at
that path before: nothing, or a stale copy (from `COPY . .` of a local `target/`, or an earlier
build without the mount). `CMD ["target/release/app"]` then fails with "not found" or starts an old
binary; `node_modules/.bin` on the `PATH` is empty. A later `RUN` without the mount fails the
build, or quietly works on stale files.

Severity:
- **error** for the final image (`CMD`, `ENTRYPOINT`, `HEALTHCHECK`, `ENV PATH`) when the `RUN`
  produced the path: it names it, or runs a tool whose output lands there (`cargo build` →
  `target/`, `npm ci` → `node_modules/`, `npm run build` → `dist/` ...);
- **warning** for a later `RUN`, because the build then usually fails loudly; and for a runtime
  path the `RUN` is not seen to produce, or whose resolution rests on an unknown base image WORKDIR.

Not reported: a later `RUN` that mounts the same cache (copying out of the cache in a separate `RUN`
is `copy-out-in-separate-run`); stages built on the one with the mount, and `COPY --from` readers
(`artifact-in-cache-mount` covers them); bind mounts (`writes-into-bind-mount` covers them); paths
a later instruction writes into the layer again; a final stage named like a development stage
(`dev`, `development`, `devcontainer`, `local`, `debug`), whose runtime usually bind-mounts the
sources; runtime paths under a `VOLUME`; `ENV PATH` directories and later `RUN` reads of paths the
mounting `RUN` is not seen to produce (a `PATH` entry that does not exist is harmless, and a later
`RUN` may only list or clean a cache).

## Example
```dockerfile
FROM rust:1.79
WORKDIR /usr/src/app
COPY . .
RUN --mount=type=cache,target=/usr/src/app/target cargo build --release
CMD ["target/release/app"]
```

Use instead:
```dockerfile
FROM rust:1.79
WORKDIR /usr/src/app
COPY . .
RUN --mount=type=cache,target=/usr/src/app/target \\
    cargo build --release && mv target/release/app /usr/local/bin/app
CMD ["/usr/local/bin/app"]
```

## Fix
For a binary that `cargo` or `go` builds or installs into the mount and that `CMD`, `ENTRYPOINT` or
`HEALTHCHECK` runs: appends a move out of the mount to the same `RUN`
(`&& mv target/release/app /usr/local/bin/app`, as `artifact-in-cache-mount` does; before the
terminator of a heredoc script, adding `set -e`; through `sh -c` for the exec form) and points every
runtime reference at the new path. When the `RUN` already copies the binary out of the mount, only
the references change. `/tmp` is not used here: the file stays in the final image, and a container
often gets a fresh tmpfs on `/tmp`. `fix.move-command: cp` copies instead of moving.

No fix for other paths: a `dist/` or `node_modules/` tree belongs in the layer (install without the
mount, or mount only the tool's own cache such as `/root/.npm`), and which directory suits it is
the author's choice. No fix either when the `RUN` runs as a non-root `USER` (it could not write
`/usr/local/bin`), under a non-POSIX `SHELL`, when `/usr/local/bin` is itself mounted, or when the
`RUN` re-mounts a cache an earlier `RUN` filled (merge the two first: `copy-out-in-separate-run`).

## References
- [Dockerfile reference: RUN --mount=type=cache](https://docs.docker.com/reference/dockerfile/#run---mounttypecache)
- [moby/buildkit#2147](https://github.com/moby/buildkit/issues/2147): a cache on `/app/node_modules`
  leaves "node_modules exists, but is empty"
- [moby/buildkit#1673](https://github.com/moby/buildkit/issues/1673): later `RUN`s without the cache
  mount see an empty folder
- [docker/buildx#788](https://github.com/docker/buildx/issues/788): "Cache mounts do not persist in the
  image ... If you want files to persist you need to copy them to somewhere else"
- [Docker's Rust guide](https://docs.docker.com/guides/rust/develop/): copy the executable out before
  the cache is unmounted
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Iterator
from typing import NamedTuple

from bot.analysis import Analysis
from bot.analysis.dockerignore import DockerIgnore
from bot.analysis.effects import effects_of, existing_copy_outs
from bot.analysis.lost import LostWrite, find_lost_write, layer_index, writes_into_layer
from bot.analysis.mount_readers import (
    PathRead,
    cache_key,
    run_reads,
    runs_as_root,
    runtime_reads,
    same_cache,
    volumes,
)
from bot.analysis.path_index import PathIndex
from bot.dockerfile import paths
from bot.dockerfile.model import Dockerfile, ResolvedMount, Stage, Step
from bot.fixes.text_edit import NoFix, append_to_run
from bot.rules.base import Edit, Finding, Fix, FixAvailability, Rule, Severity

_DEV_STAGE = re.compile(r"^(dev|devel|develop|development|devcontainer|local|debug)([-_.].*)?$|.*[-_.]dev$")
# Tools whose output is one self-contained executable, safe to move on its own.
_BINARY_TOOLS = ("cargo build", "cargo b", "cargo rustc", "cargo install", "go build -o", "go install")
_BINARY_DIR = "/usr/local/bin"


class _Hit(NamedTuple):
    read: PathRead
    lost: LostWrite
    severity: Severity


def check(analysis: Analysis) -> Iterator[Finding]:
    df = analysis.dockerfile
    yield from _later_run_reads(analysis)
    final = df.final_stage
    if final is None or (final.name is not None and _DEV_STAGE.match(final.name)):
        return
    hits = list(_runtime_hits(analysis, final))
    fixes = _plan_fixes(df, hits, analysis)
    for hit in hits:
        fix, reason = fixes.get(id(hit), (None, None))
        yield RULE.finding(
            hit.read.step.line,
            _runtime_message(hit),
            end_line=hit.read.step.instruction.end_line,
            severity=hit.severity,
            fix=fix,
            no_fix_reason=reason,
            related_lines=(hit.lost.run.line,),
        )


# -- later RUNs -------------------------------------------------------------------------------------


def _later_run_reads(analysis: Analysis) -> Iterator[Finding]:
    df = analysis.dockerfile
    for stage in df.stages:
        index = layer_index(stage)
        chain = index.chain
        own_start = len(chain) - len(stage.steps)
        for offset, step in enumerate(stage.steps):
            if step.keyword != "RUN":
                continue
            position = own_start + offset
            reported: set[str] = set()
            for read in run_reads(step):
                lost = _lost_write(chain[:position], read.path, analysis.dockerignore, index)
                if lost is None or lost.run.stage is not stage or not lost.produced:
                    continue
                if lost.mount.mount.type == "bind" or lost.target in reported:
                    continue
                cover = step.covering_mount(read.path)
                if cover is not None:
                    if cover.mount.type not in ("cache", "tmpfs"):
                        continue  # the RUN reads what it mounts there itself
                    if cover.mount.type == "cache" and (
                        cache_key(cover) is None or _mounted_before(chain[:position], cover)
                    ):
                        continue  # a cache an earlier RUN used (or one we cannot tell apart)
                reported.add(lost.target)
                mount = lost.mount.mount
                where = f"the {mount.type} mount `target={mount.options.get('target', '')}`"
                elsewhere = ""
                if cover is not None:
                    elsewhere = f" This RUN mounts another {cover.mount.type} there, which does not hold it."
                yield RULE.finding(
                    step.line,
                    f"This RUN reads {read.path}, which only {where} of the RUN on line {lost.run.line} "
                    f"ever wrote{_produced(lost)}. That mount is gone after line {lost.run.line}, so "
                    f"here the path is {_outcome(lost)}.{elsewhere} Do this work in the RUN on line "
                    f"{lost.run.line}, or mount the same cache here.",
                    end_line=step.instruction.end_line,
                    severity=Severity.WARNING,
                    related_lines=(lost.run.line,),
                )


def _mounted_before(chain: list[Step], item: ResolvedMount) -> bool:
    return any(step.keyword == "RUN" and any(same_cache(m, item) for m in step.mounts) for step in chain)


def _lost_write(
    chain: list[Step], path: str, dockerignore: DockerIgnore | None, index: PathIndex | None = None
) -> LostWrite | None:
    """`find_lost_write`, looking past a later `COPY . <dir>` of the build context that only may
    bring the path along: the Dockerfile builds the path itself, so a copy from the context is
    taken to be excluded by the .dockerignore unless the known .dockerignore keeps it.

    `index` (of a chain `chain` is a prefix of) only speeds up the walks; once a step is taken
    out, `steps` is no longer such a prefix and the walks visit every step."""
    steps = list(chain)
    while True:
        lost = find_lost_write(steps, path, dockerignore, index)
        if lost is not None:
            return lost
        position = _blocker(steps, path, index)
        if position is None or not _context_copy_skips(steps[position], path, dockerignore):
            return None
        if not any(s.keyword == "RUN" and s.covering_mount(path) is not None for s in steps[:position]):
            return None
        del steps[position]
        index = None


def _blocker(chain: list[Step], path: str, index: PathIndex | None = None) -> int | None:
    """Where `find_lost_write` stopped: the last step that writes `path` into the layer."""
    positions = range(len(chain) - 1, -1, -1) if index is None else index.related(path, below=len(chain))
    for position in positions:
        step = chain[position]
        if step.keyword == "RUN":
            mount = step.covering_mount(path)
            if (
                mount is not None
                and mount.mount.ephemeral
                and not (mount.mount.type == "bind" and mount.mount.readonly)
            ):
                return None
        if writes_into_layer(step, path):
            return position
    return None


def _context_copy_skips(step: Step, path: str, dockerignore: DockerIgnore | None) -> bool:
    spec = step.copy
    if step.keyword != "COPY" or spec is None or spec.from_stage is not None or spec.dest.value is None:
        return False
    if not spec.sources or any(w.value is None or w.value.rstrip("/") not in (".", "") for w in spec.sources):
        return False
    dest = step.resolve(spec.dest.value)
    rel = paths.relative_to(path, dest)
    if rel is None or rel == ".":
        return False
    return dockerignore is None or dockerignore.excludes(rel.split("/", 1)[0]) or dockerignore.excludes(rel)


def _produced(lost: LostWrite) -> str:
    return f" ({lost.producer} writes it there)" if lost.producer else ""


def _outcome(lost: LostWrite) -> str:
    if lost.earlier is not None and lost.earlier.certain:
        return f"a stale copy ({lost.earlier.description})"
    if lost.earlier is not None:
        return f"missing, or a stale copy: {lost.earlier.description}"
    return "missing"


# -- the final image --------------------------------------------------------------------------------


def _runtime_hits(analysis: Analysis, final: Stage) -> Iterator[_Hit]:
    df = analysis.dockerfile
    index = layer_index(final)
    chain = index.chain
    declared = volumes(chain)
    seen: set[tuple[int, str]] = set()
    for read in runtime_reads(df, final):
        if (id(read.step), read.path) in seen:
            continue
        lost = _lost_write(chain, read.path, analysis.dockerignore, index)
        if lost is None or lost.mount.mount.type == "bind":
            continue
        if any(paths.is_within(read.path, v) for v in declared):
            continue
        if read.how == "ENV PATH" and not lost.produced:
            continue
        seen.add((id(read.step), read.path))
        assumed = (read.relative and read.step.workdir.assumed) or (
            lost.run.workdir.assumed and not lost.mount.mount.options.get("target", "").startswith("/")
        )
        severity = Severity.ERROR if lost.produced and not assumed else Severity.WARNING
        yield _Hit(read, lost, severity)


def _runtime_message(hit: _Hit) -> str:
    read, lost = hit.read, hit.lost
    mount = lost.mount.mount
    written = mount.options.get("target", "")
    where = f"the {mount.type} mount `target={written}` of the RUN on line {lost.run.line}"
    if read.how == "ENV PATH":
        head = f"ENV PATH puts {read.path} on the search path of the image, but only {where} ever wrote it"
        tail = " Programs the container expects to find there are not in the image."
    else:
        head = f"{read.how} uses {read.path}, but only {where} ever wrote it"
        tail = (
            " The container cannot start it, or starts an old copy."
            if read.is_program
            else " The container does not find it, or uses an old copy."
        )
    kept = "Cache contents" if mount.type == "cache" else "tmpfs contents"
    body = f"{_produced(lost)}. {kept} never reach the image layer, so the image holds {_image_state(lost)}."
    return head + body + tail


def _image_state(lost: LostWrite) -> str:
    if lost.earlier is not None and lost.earlier.certain:
        return f"a stale copy: {lost.earlier.description}"
    if lost.earlier is not None:
        return f"nothing there, or a stale copy: {lost.earlier.description}"
    return "nothing there"


# -- fixes ------------------------------------------------------------------------------------------


def _plan_fixes(
    df: Dockerfile, hits: list[_Hit], analysis: Analysis
) -> dict[int, tuple[Fix | None, str | None]]:
    """One move per binary per RUN, and a rewrite of every runtime reference to it."""
    result: dict[int, tuple[Fix | None, str | None]] = {}
    by_path: dict[tuple[int, str], list[_Hit]] = {}
    for hit in hits:
        if hit.read.how != "ENV PATH":
            by_path.setdefault((id(hit.lost.run), hit.read.path), []).append(hit)
    by_run: dict[int, list[tuple[str, list[_Hit]]]] = {}
    for (run_id, path), group in by_path.items():
        by_run.setdefault(run_id, []).append((path, group))
    for groups in by_run.values():
        run = groups[0][1][0].lost.run
        moves: list[str] = []
        rewrites: list[tuple[_Hit, str]] = []
        reasons: dict[str, str] = {}
        taken: set[str] = set()
        for path, group in groups:
            reason = _no_fix_reason(df, run, group)
            if reason is not None:
                reasons[path] = reason
                continue
            existing = _existing_copy_out(run, path)
            if existing is not None:
                rewrites.extend((hit, existing) for hit in group)
                continue
            dest = paths.join(_BINARY_DIR, posixpath.basename(path))
            if dest in taken or _layer_writes(run, dest):
                reasons[path] = f"{dest} is already used"
                continue
            taken.add(dest)
            moves.append(f"{analysis.fix_options.move_command} {_shown(run, path)} {dest}")
            rewrites.extend((hit, dest) for hit in group)
        run_edit: Edit | None = None
        if moves:
            try:
                run_edit = append_to_run(df, run, " && ".join(moves))
            except NoFix as exc:
                for _, group in groups:
                    for hit in group:
                        result[id(hit)] = (None, str(exc))
                continue
        word_edits: list[Edit] = []
        try:
            word_edits = _rewrite_words(df, rewrites)
        except NoFix as exc:
            for _, group in groups:
                for hit in group:
                    result[id(hit)] = (None, str(exc))
            continue
        edits = tuple(e for e in (run_edit, *word_edits) if e is not None)
        title = (
            "Move the binary out of the mount in the same RUN and run it from there"
            if run_edit is not None
            else "Run the copy the RUN already makes outside the mount"
        )
        for path, group in groups:
            for hit in group:
                if path in reasons:
                    result[id(hit)] = (None, reasons[path])
                elif edits:
                    result[id(hit)] = (Fix(title, edits), None)
    return result


def _no_fix_reason(df: Dockerfile, run: Step, group: list[_Hit]) -> str | None:
    lost = group[0].lost
    if lost.producer not in _BINARY_TOOLS:
        return (
            "the path is not a single binary built by cargo or go: keep that tree in the layer "
            "(install without the mount, or mount only the tool's cache) and choose where it goes"
        )
    if group[0].read.path == lost.target:
        return "the path is the mount point itself"
    if not any(hit.read.is_program for hit in group):
        return "the path is not run as a program here, so it may be a directory or data file"
    if not runs_as_root(run):
        return "the RUN does not run as root, so it may not write /usr/local/bin"
    if run.covering_mount(_BINARY_DIR) is not None or any(
        m.target is not None and paths.is_within(m.target, _BINARY_DIR) for m in run.mounts
    ):
        return f"{_BINARY_DIR} is itself under a mount of that RUN"
    if any(hit.read.word is None for hit in group):
        return "a reference to the path cannot be rewritten automatically"
    if _refills_earlier_cache(df, run):
        return (
            f"the RUN on line {run.line} re-mounts a cache an earlier RUN filled: merge the two "
            "RUNs first (copy-out-in-separate-run)"
        )
    return None


def _refills_earlier_cache(df: Dockerfile, run: Step) -> bool:
    chain = run.stage.chain()
    earlier = chain[: chain.index(run)]
    return any(
        step.keyword == "RUN" and any(same_cache(a, b) for a in run.mounts for b in step.mounts)
        for step in earlier
    )


def _existing_copy_out(run: Step, path: str) -> str | None:
    """Where the RUN already copies `path` to, outside all of its mounts."""
    return existing_copy_outs(run).get(path)


def _layer_writes(run: Step, dest: str) -> bool:
    """Whether some step of the image already puts something at `dest`."""
    index = layer_index(run.stage)
    return any(writes_into_layer(index.chain[position], dest) for position in index.related(dest))


def _shown(run: Step, path: str) -> str:
    if any(c.cwd is not None for c in effects_of(run).commands):
        return path
    return paths.display(path, run.workdir.path)


def _rewrite_words(df: Dockerfile, rewrites: list[tuple[_Hit, str]]) -> list[Edit]:
    """One edit per instruction, replacing each word by the new path (JSON-quoted in exec form)."""
    by_step: dict[int, list[tuple[_Hit, str]]] = {}
    for hit, new in rewrites:
        by_step.setdefault(id(hit.read.step), []).append((hit, new))
    edits: list[Edit] = []
    for items in by_step.values():
        step = items[0][0].read.step
        raw = step.instruction.raw
        by_line: dict[int, list[tuple[int, int, str]]] = {}
        done: set[int] = set()
        for hit, new in items:
            word = hit.read.word
            if word is None or word.start in done:
                continue
            done.add(word.start)
            line, col = raw.position(word.start)
            end_line, end_col = raw.position(word.end - 1)
            if end_line != line:
                raise NoFix("the word to replace spans a line continuation")
            if hit.read.exec_form:
                text = json.dumps(new, ensure_ascii=False)
            else:
                if not re.fullmatch(r"[A-Za-z0-9_./+-]+", new):
                    raise NoFix("the new path would need quoting")
                text = new
            by_line.setdefault(line, []).append((col, end_col + 1, text))
        for number, pieces in sorted(by_line.items()):
            line_text = df.lines[number - 1]
            for start, end, value in sorted(pieces, reverse=True):
                line_text = line_text[:start] + value + line_text[end:]
            edits.append(Edit(number, number, line_text))
    return edits


RULE = Rule(
    code="BKM002",
    name="ephemeral-path-used-later-in-same-image",
    summary="The final image or a later RUN needs a path that only ever existed in a mount",
    severity=Severity.ERROR,
    fix=FixAvailability.SOMETIMES,
    check=check,
    doc=__doc__ or "",
    needs_mounts=True,
)
