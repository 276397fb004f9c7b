"""## What it does
Finds a cache mount on a build-output or incremental-state directory (cargo or Maven `target`,
`build`, `node_modules`, `.next`, the apk cache) whose `id` does not separate target platforms,
in a Dockerfile that builds for several platforms (`FROM --platform=`, or any use of
`TARGETPLATFORM`, `TARGETARCH`, `BUILDPLATFORM` and the like).

## Why is this bad?
A cache mount's id is global to the builder and, by default, just the target path: the same for
every platform. In a multi-platform build the platforms run side by side and share the cache, so
one platform's compiled files, installed native add-ons or package indexes land in the other's
build. The lucky outcome is a cache that never hits; the unlucky one is an arm64 image that ships
an amd64 binary, or a build that fails on the other architecture's apk index.

## Example
```dockerfile
FROM --platform=$BUILDPLATFORM rust:1.79 AS builder
ARG TARGETARCH
WORKDIR /app
COPY . .
RUN --mount=type=cache,target=/app/target \
    ./build.sh "$TARGETARCH" && cp target/release/app /usr/local/bin/app
```

Use instead:
```dockerfile
FROM --platform=$BUILDPLATFORM rust:1.79 AS builder
ARG TARGETARCH
ARG TARGETPLATFORM
WORKDIR /app
COPY . .
RUN --mount=type=cache,target=/app/target,id=/app/target-${TARGETPLATFORM} \
    ./build.sh "$TARGETARCH" && cp target/release/app /usr/local/bin/app
```

## Fix
Under multi-platform intent, appends `-${TARGETPLATFORM}` to the cache's id (`id=/app/target` is
added when the mount had none, since that is its default), on every mount in the Dockerfile
that shares the id, so RUNs that share the cache keep sharing it. Mount options only expand the
ARGs declared in the stage, so when the stage does not declare `TARGETPLATFORM` above the RUN,
the fix adds it to the stage's last `ARG` line above it (`ARG TARGETARCH` becomes
`ARG TARGETARCH TARGETPLATFORM`). A fix never adds an instruction: a stage without an `ARG` line
there gets no fix (add `ARG TARGETPLATFORM` yourself). Each platform then starts with an empty
cache once; a build must work with any cache contents, so renaming a cache never breaks one. No
fix either when the new id is already another mount's, and when another rule's fix changes the
same lines (install-destination-is-cache replacing a `node_modules` mount, copy-out-in-separate-run
merging RUNs): that one comes first, and this fix is offered again on the result.

Without multi-platform intent the rule stays silent, although the catalogue suggests an info
note there (builds of other branches on the same builder share an unkeyed cache too, as in the
"binary from another PR" incidents below). Such a note would fire on nearly every cached
`target/` (Docker's own Rust template included), and no id the Dockerfile could name keeps
branches apart: noise without a fix. The catalogue's own trigger requires the intent.

Not reported: download caches that hold architecture-independent files (`cargo/registry`,
`go/pkg/mod`, `.npm`, pip), ids that already use `TARGETPLATFORM`, `TARGETARCH` or
`TARGETVARIANT` or another variable (a profile ARG, which may carry the platform), and mounts
with `from=`, whose cache key includes that stage's snapshot, which differs per platform.

apt directories are left to BKM007, unlike the catalogue's list: apt names its list and `.deb`
files by architecture and re-validates them on `apt-get update`, so sharing them across
platforms is not what breaks; the concurrent lock is, and `sharing=locked` fixes that.

## References
- [moby/buildkit#2598](https://github.com/moby/buildkit/issues/2598): "Could the default mount cache
  id include target architecture?" (an apk cache shared across architectures breaks)
- [docker/buildx#549](https://github.com/docker/buildx/issues/549): race between architectures on
  one cache mount
- [Dockerfile reference: RUN --mount=type=cache](https://docs.docker.com/reference/dockerfile/#run---mounttypecache):
  `id`, and variable expansion in mount options (frontend 1.3+)
- [Dockerfile reference: automatic platform ARGs](https://docs.docker.com/reference/dockerfile/#automatic-platform-args-in-the-global-scope):
  they must be declared with `ARG` inside a stage
- tensorzero/tensorzero PR #1860 and 0xMiden/node PR #2314: unkeyed target caches shipped binaries
  from other builds
"""

from __future__ import annotations

from collections.abc import Iterator

from bot.analysis import Analysis
from bot.analysis.mount_fix_plan import fix_plan
from bot.analysis.mount_hygiene import UnscopedCache, hygiene
from bot.rules.base import Finding, FixAvailability, Rule, Severity


def check(analysis: Analysis) -> Iterator[Finding]:
    facts = hygiene(analysis.dockerfile)
    plan = fix_plan(analysis)
    for fact in facts.unscoped:
        step = fact.ref.step
        fix, reason = plan.fix(fact)
        yield RULE.finding(
            step.line,
            _message(fact),
            end_line=step.instruction.end_line,
            column=fact.ref.column,
            severity=Severity.WARNING,
            fix=fix,
            no_fix_reason=reason,
            related_lines=(fact.platform_line,),
        )


def _message(fact: UnscopedCache) -> str:
    ref = fact.ref
    target = ref.resolved.target or ref.written_target
    current = f"`id={fact.id_text}`" if fact.id_text is not None else f"the default id `{target}`"
    return (
        f"The cache mount {ref.label} holds {fact.kind.what}, and its id ({current}) is the same for "
        f"every target platform, while line {fact.platform_line} shows this Dockerfile builds for "
        f"several: the platforms share the cache, and {fact.kind.risk}."
    )


RULE = Rule(
    code="BKM006",
    name="unscoped-output-cache",
    summary="A cache on build output has one id for every target platform",
    severity=Severity.WARNING,
    fix=FixAvailability.SOMETIMES,
    check=check,
    doc=__doc__ or "",
    needs_mounts=True,
    tidies=True,
)
