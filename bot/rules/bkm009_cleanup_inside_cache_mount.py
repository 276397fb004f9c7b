"""## What it does
Finds a cleanup command that empties a cache mount of its own RUN:
`rm -rf /var/lib/apt/lists/*`, `apt-get clean`, `rm -rf /var/cache/apk/*`,
`pip install --no-cache-dir` (with pip's cache dir mounted), `npm cache clean --force`,
`yarn cache clean`, `pnpm store prune`, `go clean -cache` / `-modcache`, `cargo clean`.

## Why is this bad?
These commands exist to keep package caches out of the image layer. Under a cache mount nothing
reaches the layer anyway: the cleanup only throws away the cache the RUN just filled, so every
build downloads or compiles everything again and the mount is wasted. With `sharing=shared`
(the default) it can also pull files from under a concurrent build that uses the same cache.

## Example
```dockerfile
FROM debian:bookworm
RUN --mount=type=cache,target=/var/lib/apt/lists,sharing=locked \
    apt-get update && \
    apt-get install -y --no-install-recommends curl && \
    rm -rf /var/lib/apt/lists/*
```

Use instead:
```dockerfile
FROM debian:bookworm
RUN --mount=type=cache,target=/var/lib/apt/lists,sharing=locked \
    apt-get update && \
    apt-get install -y --no-install-recommends curl
```

## Fix
Removes the cleanup command with its `&&` (or its `;`, when it is not the RUN's last command;
a whole heredoc line when it stands alone there), or drops just the `--no-cache-dir` word, or
just the `rm` operands that lie in the mount. What it removed only ever touched the mount, so
the image does not change. No fix when the command sits inside an `if`, a loop, a subshell or a
pipeline, when it is the RUN's only command, when removing it would change which command
decides the RUN's exit status, for the exec form, for `apt-get clean` when only
`/var/cache/apt/archives` is mounted (it still deletes `/var/cache/apt/*.bin` from the layer),
and for `go clean` or `cargo clean` invocations that do more than the mounted cleanup. When
another rule's fix changes the same lines, that one comes first and this fix is offered again on
the result.

Not reported: a cleanup of a path outside every cache mount, which is still needed for the image
size (`rm -rf /var/lib/apt/lists/*` when only `/var/cache/apt` is mounted); cleanups under a
tmpfs; targeted `cargo clean -p <crate>`, which forces one crate to rebuild on purpose; `rm` of
paths that are not package caches (build-directory surgery inside a target cache).

## References
- [Dockerfile reference: RUN --mount=type=cache](https://docs.docker.com/reference/dockerfile/#run---mounttypecache):
  cache mounts are not part of the image
- [hadolint#1139](https://github.com/hadolint/hadolint/issues/1139): prefer BuildKit cache mounts
  over cleanup
- hadolint `Hadolint/Utils.hs` `hasCacheOrTmpfsMountWith`: DL3009, DL3019 and DL3042 are suppressed
  when the cache is mounted
- nvidia-holoscan/holohub PR #1384 review: cleanup commands delete files in the mounted cache
"""

from __future__ import annotations

from collections.abc import Iterator

from bot.analysis import Analysis
from bot.analysis.mount_fix_plan import fix_plan
from bot.analysis.mount_hygiene import Cleanup, hygiene
from bot.rules.base import Finding, FixAvailability, Rule, Severity


def check(analysis: Analysis) -> Iterator[Finding]:
    facts = hygiene(analysis.dockerfile)
    plan = fix_plan(analysis)
    for cleanup in facts.cleanups:
        step = cleanup.step
        fix, reason = plan.fix(cleanup)
        yield RULE.finding(
            step.line,
            _message(cleanup),
            end_line=step.instruction.end_line,
            severity=Severity.INFO,
            fix=fix,
            no_fix_reason=reason,
        )


def _message(fact: Cleanup) -> str:
    label = fact.ref.label
    if fact.kind == "no-cache":
        return (
            f"`--no-cache-dir` turns off pip's cache, {fact.path}, inside this RUN's cache mount "
            f"{label}: the mount does nothing, and pip's cache would not reach the image anyway."
        )
    if fact.kind == "rm":
        head = f"`{' '.join(fact.text.split())}` deletes {fact.path}"
    else:
        head = f"{fact.what} empties {fact.path}"
    return (
        f"{head}, inside this RUN's cache mount {label}: it throws away the cache the RUN just "
        "filled, so every build starts over, and nothing it deletes would have reached the image "
        "anyway."
    )


RULE = Rule(
    code="BKM009",
    name="cleanup-inside-cache-mount",
    summary="A cleanup command empties a cache mount of its own RUN",
    severity=Severity.INFO,
    fix=FixAvailability.SOMETIMES,
    check=check,
    doc=__doc__ or "",
    needs_mounts=True,
    tidies=True,
)
