"""## What it does
Checks cache mounts on apt's directories (`/var/cache/apt`, `/var/lib/apt`, their
subdirectories such as `/var/lib/apt/lists`) for two mistakes:

* **locking** (warning): the mount uses `sharing=shared`, the default, in a RUN that runs apt;
* **docker-clean** (info): a cache on `/var/cache/apt` (or `/var/cache/apt/archives`) in a stage
  built on a Debian- or Ubuntu-based official image, with no earlier instruction that removes
  `/etc/apt/apt.conf.d/docker-clean` (or otherwise touches apt's configuration).

## Why is this bad?
apt takes an exclusive lock inside these directories (`/var/lib/apt/lists/lock`,
`/var/cache/apt/archives/lock`). A shared cache mount is the same directory for every build on
the builder that mounts it, at the same time: a parallel stage, the other platform of a
multi-platform build, another CI job. The second apt fails with `Could not get lock
/var/lib/apt/lists/lock`. `sharing=locked` makes the second build wait instead.

Debian and Ubuntu images ship `/etc/apt/apt.conf.d/docker-clean`, which deletes every downloaded
`.deb` after each install. With it in place a cache on `/var/cache/apt` stays empty: every build
downloads every package again, and the mount only costs time.

## Example
```dockerfile
FROM debian:bookworm
RUN --mount=type=cache,target=/var/cache/apt \
    --mount=type=cache,target=/var/lib/apt \
    apt-get update && apt-get install -y --no-install-recommends gcc
```

Use instead:
```dockerfile
FROM debian:bookworm
RUN rm -f /etc/apt/apt.conf.d/docker-clean; \
    echo 'Binary::apt::APT::Keep-Downloaded-Packages "true";' > /etc/apt/apt.conf.d/keep-cache
RUN --mount=type=cache,target=/var/cache/apt,sharing=locked \
    --mount=type=cache,target=/var/lib/apt,sharing=locked \
    apt-get update && apt-get install -y --no-install-recommends gcc
```

## Fix
Locking: adds `sharing=locked` to each apt cache mount of the RUN (or rewrites `sharing=shared`
in place). It only makes concurrent builds wait for each other, so it is always safe.
`sharing=private` is also accepted: it gives a concurrent writer its own new cache instead.

docker-clean: starts the first such RUN of the stage chain with
`rm -f /etc/apt/apt.conf.d/docker-clean &&` (plus the reference's
`echo 'Binary::apt::APT::Keep-Downloaded-Packages "true";' > /etc/apt/apt.conf.d/keep-cache` when
the `apt` binary installs: unlike apt-get it deletes downloaded packages by default), or with
that line at the top of a heredoc script. The Dockerfile reference uses a separate `RUN` for
this; a fix never adds an instruction, and the same RUN has the same effect. The removal stays in
the image's apt configuration, so the fix is offered only when it cannot make an image bigger:
the stage is not part of the final image, and every later RUN that installs packages in that
stage and the stages built on it has a cache on `/var/cache/apt`.

When another rule's fix changes the same lines, that one comes first and this fix is offered
again on the result.

Not reported: stages whose base image is not known to be Debian-based (Alpine, UBI,
`*-alpine` tags, unknown images: a custom base may have removed docker-clean already), caches
only on `/var/lib/apt/lists` (docker-clean does not empty it), and RUNs that visibly run no apt.

## References
- [Dockerfile reference: RUN --mount=type=cache](https://docs.docker.com/reference/dockerfile/#run---mounttypecache):
  the apt example, with `sharing=locked` and docker-clean removed
- [moby/buildkit#1662](https://github.com/moby/buildkit/issues/1662): `Could not get lock
  /var/lib/apt/lists/lock` with shared apt cache mounts ("In case of apt you want to use
  sharing=locked")
- [docker/buildx#549](https://github.com/docker/buildx/issues/549): races between platforms on one
  cache mount
- [debuerreotype/docker-debian-artifacts#126](https://github.com/debuerreotype/docker-debian-artifacts/issues/126):
  what docker-clean does
"""

from __future__ import annotations

from collections.abc import Iterator

from bot.analysis import Analysis
from bot.analysis.mount_fix_plan import fix_plan
from bot.analysis.mount_hygiene import APT_LIB, DockerCleanGap, UnlockedApt, hygiene
from bot.dockerfile import paths
from bot.rules.base import Finding, FixAvailability, Rule, Severity


def check(analysis: Analysis) -> Iterator[Finding]:
    facts = hygiene(analysis.dockerfile)
    plan = fix_plan(analysis)
    for unlocked in facts.unlocked:
        step = unlocked.step
        fix, reason = plan.fix(unlocked)
        yield RULE.finding(
            step.line,
            _locking_message(unlocked),
            end_line=step.instruction.end_line,
            column=unlocked.refs[0].column,
            severity=Severity.WARNING,
            fix=fix,
            no_fix_reason=reason,
        )
    for gap in facts.docker_clean:
        step = gap.ref.step
        fix, reason = plan.fix(gap)
        yield RULE.finding(
            step.line,
            _docker_clean_message(gap),
            end_line=step.instruction.end_line,
            column=gap.ref.column,
            severity=Severity.INFO,
            fix=fix,
            no_fix_reason=reason,
            related_lines=(gap.first.line,) if gap.first is not step else (),
        )


def _locking_message(fact: UnlockedApt) -> str:
    labels = ", ".join(ref.label for ref in fact.refs)
    mode = "`sharing=shared`" + ("" if "sharing" in fact.refs[0].resolved.mount.options else " (the default)")
    plural = "s" if len(fact.refs) > 1 else ""
    lists = any(
        paths.is_within(ref.resolved.target or "", APT_LIB)
        or paths.is_within(APT_LIB, ref.resolved.target or "")
        for ref in fact.refs
    )
    lock = "/var/lib/apt/lists/lock" if lists else "/var/cache/apt/archives/lock"
    return (
        f"The apt cache mount{plural} {labels} use{'' if plural else 's'} {mode}: another build on this "
        "builder (a parallel stage, another platform, another CI job) mounts the same cache at the "
        f"same time, and its apt fails with `Could not get lock {lock}`."
    )


def _docker_clean_message(fact: DockerCleanGap) -> str:
    return (
        f"The cache mount {fact.ref.label} stays empty: the base image `{fact.base}` keeps "
        "/etc/apt/apt.conf.d/docker-clean, which deletes every downloaded .deb after each install, "
        "and no earlier instruction removes it. Every build downloads all packages again."
    )


RULE = Rule(
    code="BKM007",
    name="apt-cache-mount-misconfigured",
    summary="An apt cache mount without sharing=locked, or emptied by docker-clean",
    severity=Severity.WARNING,
    fix=FixAvailability.SOMETIMES,
    check=check,
    doc=__doc__ or "",
    needs_mounts=True,
    tidies=True,
)
