"""Where a path's content really comes from: the walk back along a stage chain that finds the RUN
whose ephemeral mount (cache, tmpfs, bind) was the last thing to write that path.

BuildKit keeps nothing written under a mount target: after the RUN the layer shows again what it
held there before (S3, S4 in the hazard notes). So a path whose last writer is such a RUN is, in
the layer, either missing or stale.
"""

from __future__ import annotations

import fnmatch
import posixpath
from collections.abc import Iterable
from typing import NamedTuple

from bot.analysis.dockerignore import DockerIgnore
from bot.analysis.effects import effects_of
from bot.analysis.path_index import PathIndex, any_related, stage_index
from bot.dockerfile import paths
from bot.dockerfile.model import ResolvedMount, Stage, Step


class EarlierContent(NamedTuple):
    """What put content at the mount target before the RUN, so it reappears afterwards."""

    step: Step
    description: str
    certain: bool  # False when it depends on a build context we cannot see


class LostWrite(NamedTuple):
    run: Step
    mount: ResolvedMount
    path: str
    producer: str | None  # the tool whose output lands at the path ("cargo build"), if known
    mentioned: bool  # the RUN's script names the path itself
    earlier: EarlierContent | None

    @property
    def target(self) -> str:
        return self.mount.target or "/"

    @property
    def produced(self) -> bool:
        return self.producer is not None or self.mentioned


def writes_into_layer(step: Step, path: str) -> bool:
    """Whether `step` puts something at `path` (or inside it) into the layer."""
    if step.keyword in ("COPY", "ADD"):
        spec = step.copy
        if spec is None or spec.dest.value is None:
            return False
        dest = step.resolve(spec.dest.value)
        if paths.is_within(dest, path):
            return True
        if not paths.is_within(path, dest):
            return False
        # `path` lies below the destination. Named files (`COPY entrypoint.sh /app/`) land
        # beside it, not on it; anything else (the context, a directory, a wildcard) might.
        first = (paths.relative_to(path, dest) or ".").split("/", 1)[0]
        return not spec.sources or any(
            not _plain_file_name(name) or _name_matches(name, first)
            for name in (posixpath.basename((s.value or "/").rstrip("/")) for s in spec.sources)
        )
    if step.keyword != "RUN":
        return False
    effects = effects_of(step)
    candidates = [*effects.writes, *(c.dest for c in effects.copy_outs), *(o.path for o in effects.outputs)]
    for written in candidates:
        if not (paths.is_within(path, written) or paths.is_within(written, path)):
            continue
        mount = step.covering_mount(written)
        if mount is None or not mount.mount.ephemeral:
            return True
    return False


def layer_paths(step: Step) -> list[str | None]:
    """Every path `covering_mount`, `writes_into_layer` and `earlier_content` test a step against.

    Read-only bind mounts are left out: the walks pass over a RUN whose mount at a path is one
    (it can write nothing there), and its other mounts and writes are listed anyway."""
    found: list[str | None] = [
        item.target for item in step.mounts if not (item.mount.type == "bind" and item.mount.readonly)
    ]
    if step.copy is not None and step.copy.dest.value is not None:
        found.append(step.resolve(step.copy.dest.value))
    if step.keyword == "RUN":
        effects = effects_of(step)
        found += [*effects.writes, *(c.dest for c in effects.copy_outs), *(o.path for o in effects.outputs)]
    return found


def layer_index(stage: Stage) -> PathIndex:
    """`stage.chain()` indexed by `layer_paths`: pass it (with a prefix of its `chain`) to the walks
    below to visit only the steps that can matter, which keeps them linear in the file's size."""
    return stage_index(stage, layer_paths)


def _backwards(chain: list[Step], path: str, index: PathIndex | None) -> Iterable[int]:
    """Positions of `chain` latest first: all of them, or those `index` relates to `path` (`chain`
    must then be a prefix of `index.chain`)."""
    if index is None:
        return range(len(chain) - 1, -1, -1)
    return index.related(path, below=len(chain))


def find_lost_write(
    chain: list[Step], path: str, dockerignore: DockerIgnore | None = None, index: PathIndex | None = None
) -> LostWrite | None:
    """Walk `chain` backwards; return the mount-RUN that last wrote `path`, if that is its last writer."""
    for position in _backwards(chain, path, index):
        step = chain[position]
        if step.keyword == "RUN":
            mount = step.covering_mount(path)
            if mount is not None and mount.mount.type == "bind" and mount.mount.readonly:
                # A read-only bind mount takes no writes (they fail with EROFS): this RUN left
                # the layer at `path` as it was.
                continue
            if mount is not None and mount.mount.ephemeral:
                return _lost(chain, position, mount, path, dockerignore, index=index)
        if writes_into_layer(step, path):
            return None
    return None


def _lost(
    chain: list[Step],
    position: int,
    mount: ResolvedMount,
    path: str,
    dockerignore: DockerIgnore | None,
    *,
    index: PathIndex | None,
) -> LostWrite | None:
    run = chain[position]
    effects = effects_of(run)
    producer = next(
        (o.tool for o in effects.outputs if paths.is_within(path, o.path) or paths.is_within(o.path, path)),
        None,
    )
    if producer is None and any(not paths.is_within(o.path, mount.target or "/") for o in effects.redirected):
        # The build wrote its output elsewhere (`--target-dir`, `-o`, CARGO_TARGET_DIR): the mount
        # never held the artifact, so this is not a lost write.
        return None
    mentioned = any_related(effects, "mentioned", lambda: effects.mentioned, len(effects.mentioned), path)
    if (
        producer is None
        and not mentioned
        and any(_layer_write(chain[p], path, dockerignore) for p in _backwards(chain[:position], path, index))
    ):
        # Nothing says this RUN writes the path, and an earlier step put it into the layer: the
        # consumer reads that earlier content, which this rule cannot call stale.
        return None
    target = mount.target or "/"
    return LostWrite(
        run=run,
        mount=mount,
        path=path,
        producer=producer,
        mentioned=mentioned,
        earlier=earlier_content(chain[:position], target, dockerignore, index),
    )


def _layer_write(step: Step, path: str, dockerignore: DockerIgnore | None) -> bool:
    """`writes_into_layer`, except that a `COPY . <dir>` whose .dockerignore is known to exclude
    `path` does not count."""
    spec = step.copy
    if (
        spec is not None
        and spec.from_stage is None
        and dockerignore is not None
        and spec.dest.value is not None
        and spec.sources
        and all(s.value in (".", "./") for s in spec.sources)
    ):
        rel = paths.relative_to(path, step.resolve(spec.dest.value))
        if rel not in (None, ".") and dockerignore.excludes(rel):
            return False
    return writes_into_layer(step, path)


def earlier_content(
    chain: list[Step], target: str, dockerignore: DockerIgnore | None, index: PathIndex | None = None
) -> EarlierContent | None:
    """The latest step before a mount-RUN that put something at `target` in the layer."""
    for position in _backwards(chain, target, index):
        step = chain[position]
        if step.keyword in ("COPY", "ADD") and step.copy is not None and step.copy.dest.value is not None:
            dest = step.resolve(step.copy.dest.value)
            if paths.is_within(dest, target):
                return EarlierContent(step, f"line {step.line} writes into {dest}", certain=True)
            if not paths.is_within(target, dest):
                continue
            rel = paths.relative_to(target, dest) or "."
            if step.copy.from_stage is None and any(s.value in (".", "./") for s in step.copy.sources):
                what = f"`{step.instruction.keyword} . {step.copy.dest.text}` (line {step.line})"
                if dockerignore is None:
                    return EarlierContent(
                        step,
                        f"{what} copies the build context into {dest}, so a local `{rel}/` that "
                        ".dockerignore does not exclude lands there",
                        certain=False,
                    )
                if dockerignore.excludes(rel):
                    continue
                return EarlierContent(
                    step,
                    f"{what} copies your local `{rel}/` into the layer: {dockerignore.source} does "
                    f"not exclude `{rel}/`",
                    certain=True,
                )
            # `COPY Cargo.toml ./` puts nothing at `target/`; a source named like the first
            # part below the destination might (a file, or a directory copied into it).
            first = rel.split("/", 1)[0]
            named = [
                s.text
                for s in step.copy.sources
                if s.value is not None and _name_matches(posixpath.basename(s.value.rstrip("/")), first)
            ]
            if named:
                what = f"`{step.instruction.keyword} {' '.join(named)}` (line {step.line})"
                return EarlierContent(step, f"{what} may have put something at {target}", certain=False)
            continue
        if step.keyword == "RUN" and _run_writes_under(step, target):
            return EarlierContent(step, f"the RUN on line {step.line} writes {target} into the layer", True)
    return None


def _plain_file_name(name: str) -> bool:
    """A name that reads as a single file: `Cargo.toml`, `entrypoint.sh` (not `.`, `src`, `*.so`)."""
    return "." in name.strip(".") and not paths.has_glob(name)


def _name_matches(name: str, wanted: str) -> bool:
    return name == wanted or (paths.has_glob(name) and fnmatch.fnmatchcase(wanted, name))


def _run_writes_under(step: Step, target: str) -> bool:
    """Whether the RUN leaves something at `target` or below it in the layer (a tool output,
    a copy-out or another write there), not merely somewhere above it (`mkdir -p /app`)."""
    effects = effects_of(step)
    candidates = [*effects.writes, *(c.dest for c in effects.copy_outs), *(o.path for o in effects.outputs)]
    for written in candidates:
        if not paths.is_within(written, target):
            continue
        mount = step.covering_mount(written)
        if mount is None or not mount.mount.ephemeral:
            return True
    return False
