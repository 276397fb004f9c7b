"""## What it does
Finds an `apt-get install` (or `apt install`, `build-dep`, ...) in a RUN that does not run
`apt-get update` itself, when the latest `apt-get update` before it in the stage chain ran with
a cache or tmpfs mount on `/var/lib/apt/lists` (or `/var/lib/apt`), and the installing RUN does
not mount that same cache.

Also finds a cache, tmpfs or bind mount that covers the package database `/var/lib/dpkg` in a
RUN that installs or removes packages (error).

## Why is this bad?
Whatever a RUN writes under a mount goes into the mount, never into the image layer. The package
lists that `apt-get update` downloaded into a cached `/var/lib/apt/lists` are therefore missing
from the layer, and the next RUN, which does not mount them, sees the empty lists of the base
image: its install fails with `E: Unable to locate package`.

With `/var/lib/dpkg` under a mount, dpkg records the packages it installs or removes in the
mount, while their files land in the layer. The image's package database then no longer matches
its contents: the next `apt-get install` reinstalls or breaks, and security scanners that read
the database miss packages.

## Example
```dockerfile
FROM debian:bookworm
RUN --mount=type=cache,target=/var/lib/apt/lists,sharing=locked apt-get update
RUN apt-get install -y --no-install-recommends curl
```

Use instead:
```dockerfile
FROM debian:bookworm
RUN --mount=type=cache,target=/var/lib/apt/lists,sharing=locked \
    apt-get update && apt-get install -y --no-install-recommends curl
```

## Fix
No automatic fix: merging the two RUNs changes the layers, and adding the cache mount to the
installing RUN would still depend on a cache BuildKit may have emptied in between (a cache mount
is not part of any cache key). Run `apt-get update` and the install in the same RUN, with the
same mounts, as in the example. For the dpkg database: never mount it; mount only
`/var/cache/apt` and `/var/lib/apt`.

Not reported: an installing RUN that runs its own `apt-get update` first, or mounts the same
cache on the lists; an update that wrote the lists into the layer (no mount); installs of local
`.deb` files only.

## References
- [Dockerfile reference: RUN --mount=type=cache](https://docs.docker.com/reference/dockerfile/#run---mounttypecache):
  cache contents are not in the image
- [Docker build best practices: apt-get](https://docs.docker.com/build/building/best-practices/#apt-get):
  always combine `apt-get update` with `apt-get install` in the same RUN
- [docker/buildx#788](https://github.com/docker/buildx/issues/788): "Cache mounts do not persist in
  the image"
- [moby/buildkit#1673](https://github.com/moby/buildkit/issues/1673): later RUNs without the cache
  mount see an empty folder
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator

from bot.analysis import Analysis
from bot.analysis.mount_hygiene import DpkgMount, ListsLost, apt_action, hygiene
from bot.rules.base import Finding, FixAvailability, Rule, Severity

_NO_FIX = (
    "run `apt-get update` and the install in the same RUN, with the same mounts: a later RUN cannot "
    "rely on what an earlier one left in a cache"
)


def check(analysis: Analysis) -> Iterator[Finding]:
    facts = hygiene(analysis.dockerfile)
    for lost in facts.lists_lost:
        step = lost.install
        yield RULE.finding(
            step.line,
            _lists_message(lost),
            end_line=step.instruction.end_line,
            severity=Severity.WARNING,
            no_fix_reason=_NO_FIX,
            related_lines=(lost.update.line,),
        )
    for dpkg in facts.dpkg:
        step = dpkg.ref.step
        yield RULE.finding(
            step.line,
            _dpkg_message(dpkg),
            end_line=step.instruction.end_line,
            column=dpkg.ref.column,
            severity=Severity.ERROR,
            no_fix_reason="remove the mount: /var/lib/dpkg must stay in the image",
        )


def _lists_message(fact: ListsLost) -> str:
    mount = fact.update_mount
    kind = mount.mount.type
    written = mount.mount.options.get("target", "")
    action = apt_action(fact.command)
    tool = posixpath.basename(fact.command.unwrapped()[0].value)
    what = f"{tool} {action[0]}" if action is not None else tool
    head = (
        f"`{what}` runs without `apt-get update`, and the package lists from the update on line "
        f"{fact.update.line} were written only into its {kind} mount `target={written}`, never into "
        "the image layer."
    )
    own = fact.own_mount
    if own is not None:
        other = f"id `{own.mount.cache_id}`" if own.mount.cache_id else "an unknown id"
        middle = (
            f" This RUN's own {own.mount.type} mount on the lists is not that cache ("
            + ("a tmpfs starts empty" if own.mount.type == "tmpfs" else other)
            + ")."
        )
    else:
        middle = ""
    return head + middle + ' The install sees empty lists and fails with "Unable to locate package".'


def _dpkg_message(fact: DpkgMount) -> str:
    ref = fact.ref
    kind = ref.resolved.mount.type
    return (
        f"The {kind} mount {ref.label} covers the dpkg database /var/lib/dpkg, and this RUN installs "
        "or removes packages: dpkg records the change in the mount, never in the image, while the "
        "files land in the layer. The image's package database no longer matches its contents."
    )


RULE = Rule(
    code="BKM008",
    name="apt-lists-only-in-cache",
    summary="apt package lists or the dpkg database live only in a mount",
    severity=Severity.ERROR,
    fix=FixAvailability.NEVER,
    check=check,
    doc=__doc__ or "",
    needs_mounts=True,
    tidies=True,
)
