"""Where a path's content really comes from: the walk back along a stage chain that finds the RUN
whose ephemeral mount (cache, tmpfs, bind) was the last thing to write that path.

BuildKit keeps nothing written under a mount target: after the RUN the layer shows again what it
held there before (S3, S4 in the hazard notes). So a path whose last writer is such a RUN is, in
the layer, either missing or stale.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.analysis.dockerignore import DockerIgnore
from bot.analysis.effects import effects_of
from bot.dockerfile import paths
from bot.dockerfile.model import ResolvedMount, Step


@dataclass(frozen=True, slots=True)
class EarlierContent:
    """What put content at the mount target before the RUN, so it reappears afterwards."""

    step: Step
    description: str
    certain: bool  # False when it depends on a build context we cannot see


@dataclass(frozen=True, slots=True)
class LostWrite:
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
        return paths.is_within(path, dest) or paths.is_within(dest, path)
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


def find_lost_write(chain: list[Step], path: str, dockerignore: DockerIgnore | None = None) -> LostWrite | None:
    """Walk `chain` backwards; return the mount-RUN that last wrote `path`, if that is its last writer."""
    for position in range(len(chain) - 1, -1, -1):
        step = chain[position]
        if step.keyword == "RUN":
            mount = step.covering_mount(path)
            if mount is not None and mount.mount.ephemeral:
                return _lost(chain, position, mount, path, dockerignore)
        if writes_into_layer(step, path):
            return None
    return None


def _lost(
    chain: list[Step], position: int, mount: ResolvedMount, path: str, dockerignore: DockerIgnore | None
) -> LostWrite | None:
    run = chain[position]
    effects = effects_of(run)
    producer = next(
        (o.tool for o in effects.outputs if paths.is_within(path, o.path) or paths.is_within(o.path, path)),
        None,
    )
    if producer is None and any(
        not paths.is_within(o.path, mount.target or "/") for o in effects.redirected
    ):
        # The build wrote its output elsewhere (`--target-dir`, `-o`, CARGO_TARGET_DIR): the mount
        # never held the artifact, so this is not a lost write.
        return None
    mentioned = any(paths.is_within(m, path) or paths.is_within(path, m) for m in effects.mentioned)
    if producer is None and not mentioned and any(writes_into_layer(s, path) for s in chain[:position]):
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
        earlier=earlier_content(chain[:position], target, dockerignore),
    )


def earlier_content(chain: list[Step], target: str, dockerignore: DockerIgnore | None) -> EarlierContent | None:
    """The latest step before a mount-RUN that put something at `target` in the layer."""
    for step in reversed(chain):
        if step.keyword in ("COPY", "ADD") and step.copy is not None and step.copy.dest.value is not None:
            dest = step.resolve(step.copy.dest.value)
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
            return EarlierContent(step, f"line {step.line} writes into {dest}", certain=True)
        if step.keyword == "RUN" and writes_into_layer(step, target):
            return EarlierContent(step, f"the RUN on line {step.line} writes {target} into the layer", True)
    return None
