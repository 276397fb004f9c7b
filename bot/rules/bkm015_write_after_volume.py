"""## What it does
Finds a `RUN` that writes under a path an earlier `VOLUME` of the same stage chain declared
(`chown`, `chmod`, `mkdir`, `>` redirections, `cp`/`mv`/`tar -x` destinations, build outputs), in a
Dockerfile that uses no BuildKit-only syntax.

## Why is this bad?
The two builders disagree. The legacy builder (`DOCKER_BUILDKIT=0`, Docker Engine before 23.0 on
Linux, and tools that mimic it) runs each later step with the volume mounted, so changes under the
volume path are **discarded**; BuildKit keeps them. A Dockerfile that works with one builder then
silently produces a different image with the other (for example `VOLUME /var/lib/mysql`
followed by `RUN chown -R mysql /var/lib/mysql`).

When is it reported? The catalogue asks for evidence that a non-BuildKit builder is in use. A
single Dockerfile shows that only indirectly, so the rule reads it the other way round: a
Dockerfile that uses anything only BuildKit understands (a `# syntax=` or `# check=` directive,
`RUN --mount`/`--network`/`--security`, heredocs, `COPY --link`/`--chmod`/`--parents`/`--exclude`,
`ADD --checksum`, the automatic platform ARGs such as `TARGETARCH`) cannot be built by the legacy
builder as written, so BuildKit semantics apply and the rule stays silent. Only a Dockerfile that
either builder could build gets this note. Writes under `/tmp` and `/var/tmp` are scratch space
and are not reported, nor is `mkdir -p` of the volume path itself (it already exists).

`COPY` and `ADD` are not reported although the catalogue lists them: the legacy builder copies
into the image's filesystem without mounting the volume, so their files are kept by both builders
(moby/moby#33842, "COPY can add files to an existing VOLUME but RUN can't"; the one report of a
discarded single-file `COPY`, moby/moby#21728, is from 2016 and inconsistent).

## Example
```dockerfile
FROM mysql:8.4
VOLUME /var/lib/mysql
RUN chown -R mysql:mysql /var/lib/mysql
```

Use instead:
```dockerfile
FROM mysql:8.4
RUN chown -R mysql:mysql /var/lib/mysql
VOLUME /var/lib/mysql
```

## Fix
None: moving `VOLUME` after the writes is usually right, but a `VOLUME` early in the file is
sometimes inherited by child stages or relied on by scripts, so the order is left to the author.

## References
- [Dockerfile reference: VOLUME](https://docs.docker.com/reference/dockerfile/#volume): changes
  after `VOLUME` "will be discarded when using the legacy builder. When using Buildkit, the changes
  will instead be kept"
- [Docker Engine 23.0 release notes](https://docs.docker.com/engine/release-notes/23.0/): BuildKit
  is the default builder on Linux
- [moby/buildkit#880](https://github.com/moby/buildkit/issues/880): "VOLUME is persisting with
  buildkit, but not with plain docker"
- [moby/moby#33842](https://github.com/moby/moby/issues/33842): "COPY can add files to an existing
  VOLUME but RUN can't"
- [moby/moby#41911](https://github.com/moby/moby/issues/41911): the classic builder and BuildKit-only
  syntax
"""

from __future__ import annotations

from collections.abc import Iterator

from bot.analysis import Analysis
from bot.analysis.run_writes import run_writes
from bot.dockerfile import paths
from bot.dockerfile.model import PLATFORM_ARGS, Dockerfile, Step
from bot.dockerfile.words import expand
from bot.rules.base import Finding, FixAvailability, Rule, Severity

_SCRATCH = ("/tmp", "/var/tmp")
_BUILDKIT_FLAGS = {
    "RUN": frozenset({"mount", "network", "security", "device"}),
    "COPY": frozenset({"link", "chmod", "parents", "exclude"}),
    "ADD": frozenset({"link", "chmod", "checksum", "keep-git-dir", "exclude", "unpack"}),
}


def check(analysis: Analysis) -> Iterator[Finding]:
    df = analysis.dockerfile
    if not any(ins.keyword == "VOLUME" for ins in df.instructions) or _buildkit_only(df):
        return
    for stage in df.stages:
        chain = stage.chain()
        own_start = len(chain) - len(stage.steps)
        volumes: list[tuple[Step, str]] = []
        for position, step in enumerate(chain):
            if step.keyword == "VOLUME":
                volumes.extend((step, path) for path in _volume_paths(step))
                continue
            if position < own_start or not volumes:
                continue
            hit = _first_write(step, volumes)
            if hit is not None:
                volume_step, volume, what = hit
                yield RULE.finding(
                    step.line,
                    f"{what} writes under {volume}, which the VOLUME on line {volume_step.line} declares. "
                    "The legacy builder (DOCKER_BUILDKIT=0, Docker before 23.0) discards changes made "
                    "under a volume path after VOLUME, while BuildKit keeps them, so the image depends "
                    "on the builder. Nothing in this Dockerfile requires BuildKit.",
                    end_line=step.instruction.end_line,
                    severity=Severity.INFO,
                    related_lines=(volume_step.line,),
                )


def _volume_paths(step: Step) -> list[str]:
    ins = step.instruction
    words = list(ins.exec_form) if ins.exec_form is not None else ins.args.split()
    found: list[str] = []
    for word in words:
        value = word if ins.exec_form is not None else expand(word, step.scope)
        if value and value.startswith("/") and paths.clean(value) != "/":
            found.append(paths.clean(value))
    return found


def _first_write(step: Step, volumes: list[tuple[Step, str]]) -> tuple[Step, str, str] | None:
    if step.keyword != "RUN":
        return None  # the legacy builder keeps COPY/ADD writes into a volume (moby/moby#33842)
    candidates = [
        (write.path, write.what, write.kind == "mkdir -p")
        for write in run_writes(step)
        if write.certain and write.kind != "move"
    ]
    for path, what, parents_only in candidates:
        if any(paths.is_within(path, s) for s in _SCRATCH):
            continue
        for volume_step, volume in volumes:
            if not paths.is_within(path, volume):
                continue
            if parents_only and paths.is_within(volume, path):
                continue  # `mkdir -p` of the volume path itself: it exists already
            return volume_step, volume, what
    return None


def _buildkit_only(df: Dockerfile) -> bool:
    """Whether the Dockerfile uses syntax only BuildKit builds (so BuildKit semantics apply)."""
    if "syntax" in df.scan.directives or "check" in df.scan.directives:
        return True
    for ins in df.instructions:
        current = ins.trigger or ins
        allowed = _BUILDKIT_FLAGS.get(current.keyword, frozenset())
        if any(flag.name in allowed for flag in current.flags):
            return True
        if current.heredocs:
            return True
        if current.keyword == "ARG" and any(
            word.split("=", 1)[0] in PLATFORM_ARGS for word in current.args.split()
        ):
            return True
        if current.keyword == "FROM" and any(name in current.args for name in PLATFORM_ARGS):
            return True
    return False


RULE = Rule(
    code="BKM015",
    name="write-after-volume",
    summary="A write under a VOLUME path: discarded by the legacy builder, kept by BuildKit",
    severity=Severity.INFO,
    fix=FixAvailability.NEVER,
    check=check,
    doc=__doc__ or "",
)
