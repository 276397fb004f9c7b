"""## What it does
Finds a `RUN --mount=type=cache` whose `target=` is relative (after ARG/ENV expansion) and which
sets no `id=`.

## Why is this bad?
BuildKit resolves a relative target against the WORKDIR, but names the cache after the target
*as written*: the default id is `path.Clean(target)`, here just `target`. Cache mounts are global
to the builder, so every Dockerfile built there that mounts a relative `target`, under any
WORKDIR and in any project, shares this cache, while `target=/app/target` in this very file
would be a different one. A build-output directory shared that way can hand one project's
artifacts to another; a separate `RUN` that copies out of it may read what another build left.

## Example
```dockerfile
FROM rust:1.79 AS builder
WORKDIR /app
COPY . .
RUN --mount=type=cache,target=target \
    cargo build --release && cp target/release/app /usr/local/bin/app
```

Use instead:
```dockerfile
FROM rust:1.79 AS builder
WORKDIR /app
COPY . .
RUN --mount=type=cache,id=myapp-target,target=/app/target \
    cargo build --release && cp target/release/app /usr/local/bin/app
```

## Fix
Adds `id=<resolved target>` (`id=/app/target` above) to this mount and to every other mount in
the Dockerfile that shares the same relative id, so RUNs that share the cache keep sharing it.
The target stays as written: it already resolves to that path. Changing the id changes which
cache is used, so the first build afterwards starts with an empty cache; nothing else changes (a
build must work with any cache contents anyway). The new id is what an absolute target would get,
so it is still shared with other projects that mount the same path: prefix it with your project's
name to keep them apart. When the Dockerfile builds for several platforms, the id also gets
`-${TARGETPLATFORM}`, the same edit BKM006 offers, so the two fixes never disagree.

No fix is offered when the WORKDIR comes from a base image Mountie does not know (the resolved
path is then unknown), when the RUNs sharing the id mount it at different paths, when an explicit
`id=` elsewhere already names the same cache, or when another mount in the file already uses the
new id (merging two caches would change what that RUN finds). When another rule's fix changes the
same lines (copy-out-in-separate-run merging a separate copy-out RUN into the build), that fix
comes first and this one is offered again on the result.

Severity: info; warning when the target is a compiler or package-manager output directory
(`target`, `build`, `dist`, `out`, `.next`, `node_modules`) or when another RUN copies out of the
same cache (BKM004's pattern). A relative target that is a genuine download cache
(`target=.cache/pip`) stays at info: sharing it is harmless, only surprising.

## References
- [Dockerfile reference: RUN --mount=type=cache](https://docs.docker.com/reference/dockerfile/#run---mounttypecache):
  `id` defaults to the target
- BuildKit `frontend/dockerfile/dockerfile2llb/convert_runmount.go`:
  `mount.CacheID = path.Clean(mount.Target)`, before the target is joined to the WORKDIR
- [moby/buildkit#1673](https://github.com/moby/buildkit/issues/1673): "only the ID+mode matters"
- [moby/buildkit#2598](https://github.com/moby/buildkit/issues/2598): cache mounts are shared builder-wide
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator

from bot.analysis import Analysis
from bot.analysis.mount_fix_plan import fix_plan
from bot.analysis.mount_hygiene import RelativeCache, hygiene
from bot.rules.base import Finding, FixAvailability, Rule, Severity


def check(analysis: Analysis) -> Iterator[Finding]:
    facts = hygiene(analysis.dockerfile)
    plan = fix_plan(analysis)
    for fact in facts.relative:
        step = fact.ref.step
        fix, reason = plan.fix(fact)
        yield RULE.finding(
            step.line,
            _message(fact),
            end_line=step.instruction.end_line,
            column=fact.ref.column,
            severity=Severity.WARNING if fact.output_dir or fact.copy_out is not None else Severity.INFO,
            fix=fix,
            no_fix_reason=reason,
            related_lines=(fact.copy_out.line,) if fact.copy_out is not None else (),
        )


def _message(fact: RelativeCache) -> str:
    ref = fact.ref
    if ref.step.workdir.assumed or ref.resolved.target is None:
        other = "an absolute target would get an id of its own"
    else:
        other = f"`target={ref.resolved.target}` here would be a different cache"
    text = (
        f"The cache mount {ref.label} has no `id`, so BuildKit names the cache after the relative "
        f"target as written: `{fact.cache_id}`. Every build on this builder that mounts a relative "
        f"`{fact.cache_id}`, in any project and under any WORKDIR, shares this cache, while {other}."
    )
    if fact.output_dir and posixpath.basename(fact.cache_id) == "node_modules":
        text += " It holds installed packages, so another project's packages can end up in this build."
    elif fact.output_dir:
        text += " It holds build output, so another project's artifacts can end up in this build."
    if fact.copy_out is not None:
        text += (
            f" The RUN on line {fact.copy_out.line} copies out of this cache in a separate step, so it "
            "may read what another build left there."
        )
    return text


RULE = Rule(
    code="BKM005",
    name="relative-target-implicit-id",
    summary="A cache mount with a relative target and no id shares a builder-global cache",
    severity=Severity.WARNING,
    fix=FixAvailability.SOMETIMES,
    check=check,
    doc=__doc__ or "",
    needs_mounts=True,
    tidies=True,
)
