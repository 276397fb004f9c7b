"""## What it does
Finds a `RUN` whose command writes under the target of one of its bind mounts (`type=bind`, or
no `type` at all, which is a bind): an output file (`go build -o`, `curl -o`, `gcc -o`), a `>`
redirection, `mkdir`, `touch`, `chmod`, `sed -i`, a `cp`/`mv`/`tar -x` destination, or a tool
whose default output lands in the current directory (`cargo build` → `./target`, `npm ci` →
`./node_modules`, `mvn package` → `./target`, `go mod vendor` → `./vendor`).

## Why is this bad?
BuildKit mounts binds **read-only** unless `rw` is given, so the write fails the build with
`read-only file system`. Docker's own documentation shipped this bug (`WORKDIR /app`,
`--mount=type=bind,target=.`, `go build -o /app/hello`). With `rw` the write succeeds, but
BuildKit discards it when the `RUN` ends: nothing written to a bind mount is committed to the image,
so whatever reads the output later gets nothing, or a stale copy.

Severity:
- **warning** for a read-only bind (the build fails; the author may not have built it yet);
  **info** when the write only happens in some states (`go mod tidy` rewrites go.mod only when it is
  not tidy);
- **error** for an `rw` bind when a later step reads what was written there (`COPY --from`, a later
  `RUN`, `CMD`/`ENTRYPOINT`);
- **warning** for an `rw` bind when a build tool's output lands there and the `RUN` keeps nothing
  anywhere else (no copy-out, no write outside its mounts): the whole build is thrown away.

Not reported: writes outside the mount (`go build -o /bin/server` with `target=.`, Docker's Go
template), writes under a deeper cache or tmpfs mount of the same `RUN` (the deepest mount
decides; losing those is `artifact-in-cache-mount`'s business), writes next to a single-file bind
(`source=package.json,target=package.json` protects only that file), `mkdir -p` of the mount point
itself, and `rw` binds used as scratch space by a `RUN` that copies its result out.

## Example
```dockerfile
FROM golang:1.22
WORKDIR /app
RUN --mount=type=bind,target=. go build -o /app/hello ./cmd/hello
```

Use instead:
```dockerfile
FROM golang:1.22
WORKDIR /app
RUN --mount=type=bind,target=. go build -o /bin/hello ./cmd/hello
```

## Fix
None: the build has to write outside the bind mount (`go build -o /out/app`), and every later step
that reads the output has to read it from there; which directory suits the image is the author's
choice. The usual shape is `RUN --mount=type=bind,target=. go build -o /out/app .` followed by
`COPY --from=build /out/app /`.

## References
- [Dockerfile reference: RUN --mount=type=bind](https://docs.docker.com/reference/dockerfile/#run---mount):
  read-only by default; with `rw`, "data will be discarded"
- [docker/docs#22637](https://github.com/docker/docs/issues/22637) and
  [docker/docs#24125](https://github.com/docker/docs/pull/24125): the documented
  `go build -o /app/hello` failed with "read-only file system"
- [docker/docs#20549](https://github.com/docker/docs/issues/20549): the `rw` discard surprises users
- [apecloud/kubeblocks#5307](https://github.com/apecloud/kubeblocks/issues/5307):
  `open /src/go.mod: read-only file system`
- [abiosoft/colima#1076](https://github.com/abiosoft/colima/issues/1076)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

from bot.analysis import Analysis
from bot.analysis.effects import effects_of
from bot.analysis.lost import writes_into_layer
from bot.analysis.run_writes import Write, run_writes
from bot.dockerfile import paths
from bot.dockerfile.model import Dockerfile, ResolvedMount, Stage, Step
from bot.rules.base import Finding, FixAvailability, Rule, Severity

_RESULT_KINDS = frozenset({"output", "copy", "redirect"})
_NO_FIX = (
    "the output has to go outside the bind mount and every reader has to follow it there; "
    "which directory suits the image is your choice"
)


class _Reader(NamedTuple):
    step: Step
    path: str
    how: str
    source: Stage  # the stage whose layer the reader sees


def check(analysis: Analysis) -> Iterator[Finding]:
    df = analysis.dockerfile
    for step in df.steps():
        if step.keyword != "RUN":
            continue
        for item in step.mounts:
            if item.mount.type != "bind" or item.target is None:
                continue
            hits = _hits(step, item)
            if not hits:
                continue
            finding = _finding(df, step, item, hits)
            if finding is not None:
                yield finding


def _hits(step: Step, item: ResolvedMount) -> list[Write]:
    target = item.target or "/"
    written = item.mount.target or ""
    target_relative = not written.startswith("/")
    hits: list[Write] = []
    for write in run_writes(step):
        if not paths.is_within(write.path, target):
            continue
        if step.covering_mount(write.path) is not item:
            continue  # a deeper mount of the same RUN takes the write
        if write.kind == "mkdir -p" and paths.is_within(target, write.path):
            continue  # the mount point exists: `mkdir -p` does nothing there
        if step.workdir.assumed and write.relative != target_relative:
            continue  # one side rests on a WORKDIR the Dockerfile does not show
        if any(h.path == write.path and h.kind == write.kind for h in hits):
            continue
        hits.append(write)
    return hits


def _where(item: ResolvedMount) -> str:
    written = item.mount.options.get("target", "")
    return f"{item.target} (`target={written}`)" if written != item.target else f"{item.target}"


def _finding(df: Dockerfile, step: Step, item: ResolvedMount, hits: list[Write]) -> Finding | None:
    where = _where(item)
    if item.mount.readonly:
        certain = [h for h in hits if h.certain]
        shown = certain or hits
        severity = Severity.WARNING if certain else Severity.INFO
        what = _describe(shown)
        tail = (
            ' so the build fails with "read-only file system".'
            if certain
            else ' so the build fails with "read-only file system" whenever it has to write.'
        )
        return RULE.finding(
            step.line,
            f"{what} under the bind mount at {where}. BuildKit mounts binds read-only unless `rw` is set,"
            f"{tail}",
            end_line=step.instruction.end_line,
            severity=severity,
            no_fix_reason=_NO_FIX,
        )
    results = [h for h in hits if h.kind in _RESULT_KINDS and h.certain]
    if not results:
        return None
    reader = _first_reader(df, step, results)
    if reader is not None:
        read = [
            w for w in results if paths.is_within(reader.path, w.path) or paths.is_within(w.path, reader.path)
        ]
        return RULE.finding(
            step.line,
            f"{_describe(read)} into the `rw` bind mount at {where}, and {reader.how} on line "
            f"{reader.step.line} reads {reader.path}. BuildKit discards everything written to a bind "
            "mount when the RUN ends (it is never committed to the image), so that read finds nothing "
            "or a stale copy.",
            end_line=step.instruction.end_line,
            severity=Severity.ERROR,
            no_fix_reason=_NO_FIX,
            related_lines=(reader.step.line,),
        )
    outputs = [h for h in results if h.kind == "output"]
    if not outputs or _keeps_something(step):
        return None
    return RULE.finding(
        step.line,
        f"{_describe(outputs)} into the `rw` bind mount at {where}, and the RUN keeps nothing anywhere "
        "else. BuildKit discards everything written to a bind mount when the RUN ends, so this build's "
        "output is thrown away.",
        end_line=step.instruction.end_line,
        severity=Severity.WARNING,
        no_fix_reason=_NO_FIX,
    )


def _describe(writes: list[Write]) -> str:
    distinct = list(dict.fromkeys(w.what for w in writes))
    names = distinct[:2]
    more = f" (and {len(distinct) - 2} more)" if len(distinct) > 2 else ""
    verb = "write" if len(distinct) > 1 else "writes"
    return f"{' and '.join(names)}{more} {verb}"


def _keeps_something(step: Step) -> bool:
    """Whether the RUN leaves anything outside its ephemeral mounts (a copy-out, a write)."""
    for write in run_writes(step):
        if write.kind == "move":
            continue
        mount = step.covering_mount(write.path)
        if mount is None or not mount.mount.ephemeral:
            return True
    return False


def _first_reader(df: Dockerfile, run: Step, results: list[Write]) -> _Reader | None:
    for reader in _readers(df, run):
        if not any(
            paths.is_within(reader.path, w.path) or paths.is_within(w.path, reader.path) for w in results
        ):
            continue
        chain = reader.source.chain()
        position = next((i for i, s in enumerate(chain) if s is reader.step), len(chain))
        if _last_writer_is(chain[:position], run, reader.path):
            return reader
    return None


def _last_writer_is(chain: list[Step], run: Step, path: str) -> bool:
    """Whether, walking back from the reader, `run` comes before anything that puts `path` into
    the layer (RUNs that merely mount over the path leave the layer as it was)."""
    for step in reversed(chain):
        if step is run:
            return True
        if writes_into_layer(step, path):
            return False
    return False


def _readers(df: Dockerfile, run: Step) -> Iterator[_Reader]:
    """Paths read after `run`: COPY --from / mount from= of a stage built on it, and later RUN,
    CMD and ENTRYPOINT instructions of stages built on it."""
    for stage in df.stages:
        chain = stage.chain()
        if not any(s is run for s in chain):
            continue
        start = next(i for i, s in enumerate(chain) if s is run)
        for later in chain[start + 1 :]:
            if later.stage is not stage:
                continue
            yield from _step_reads(later, stage)
    for step in df.steps():
        spec = step.copy
        if spec is not None and spec.from_stage is not None:
            source = df.stage_for(spec.from_stage)
            if source is not None and source is not step.stage and any(s is run for s in source.chain()):
                for word in spec.sources:
                    if word.value is not None:
                        yield _Reader(
                            step, paths.join("/", word.value), f"`COPY --from={spec.from_stage}`", source
                        )
        for mount in step.mounts:
            if mount.mount.type == "bind" and mount.mount.from_ is not None:
                source = df.stage_for(mount.mount.from_)
                if source is not None and source is not step.stage and any(s is run for s in source.chain()):
                    yield _Reader(
                        step,
                        paths.join("/", mount.mount.source or "/"),
                        f"`--mount=from={mount.mount.from_}`",
                        source,
                    )


def _step_reads(step: Step, stage: Stage) -> Iterator[_Reader]:
    if step.keyword == "RUN":
        for path in effects_of(step).mentioned:
            if step.covering_mount(path) is None:
                yield _Reader(step, path, "the RUN", stage)
    elif step.keyword in ("CMD", "ENTRYPOINT"):
        ins = step.instruction
        words = list(ins.exec_form) if ins.exec_form is not None else ins.args.split()
        for word in words:
            if "/" in word and "$" not in word and not word.startswith("-"):
                yield _Reader(step, step.resolve(word), f"the {step.keyword}", stage)


RULE = Rule(
    code="BKM010",
    name="writes-into-bind-mount",
    summary="A RUN writes under a bind mount: read-only by default, and rw writes are discarded",
    severity=Severity.WARNING,
    fix=FixAvailability.NEVER,
    check=check,
    doc=__doc__ or "",
    needs_mounts=True,
)
