"""## What it does
Finds a cache mount meant for a tool's cache that is not where that tool keeps it at this `RUN`:
- `/root/.cache/go-build`, `/root/.cache/pip`, `/root/.npm`, `/root/.m2`, `/root/.gradle`,
  `/root/.cargo/...` while an environment variable moves the cache (`GOCACHE`, `PIP_CACHE_DIR`,
  `npm_config_cache`, `GRADLE_USER_HOME`, `CARGO_HOME`, `XDG_CACHE_HOME`, `HOME`), or while a
  non-root `USER` runs the command (the cache is then under that user's `$HOME`);
- `/root/go/pkg/mod` or `/go/pkg/mod` while `GOPATH`/`GOMODCACHE` put Go modules elsewhere;
- `/root/.cargo/registry` in a `rust` image, whose CARGO_HOME is `/usr/local/cargo`;
- a cargo or Maven `target` (Gradle `build`) directory that is not the one the build writes:
  the tool runs in another WORKDIR (a mount on `/home/root/app/target` while cargo builds in
  `/usr/src/app`).

## Why is this bad?
The tool never reads or writes the mounted directory, so the cache stays empty and every build
downloads and compiles everything again. The build is correct, only slow; this is information.

Not reported: a cache directory that depends on a variable whose value the Dockerfile does not
determine, a command that moves the cache with its own option (`npm --cache`, `pip --cache-dir`,
`gradle -g`, `-Dmaven.repo.local`), or a script that sets the variable itself. Variables that
neither the Dockerfile nor a known base image sets (`GOCACHE`, `PIP_CACHE_DIR`, ...) are taken as
unset for mounts under `/root`; for a mount at an image's usual place (`/usr/local/cargo/...`,
`/go/pkg/mod`) only a value the Dockerfile or a known base image sets counts, since an unknown
image that puts the cache there most likely set the variable itself.

## Example
```dockerfile
FROM golang:1.22
ENV GOCACHE=/cache/go-build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/root/.cache/go-build go build -o /bin/app .
```

Use instead:
```dockerfile
FROM golang:1.22
ENV GOCACHE=/cache/go-build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/cache/go-build go build -o /bin/app .
```

## Fix
For caches that only speed things up (the Go build cache, pip's and npm's caches), when the
directory the tool uses is known and the `RUN` runs as root, points the mount's `target=` at it.
Not for the Go module cache, CARGO_HOME, Maven or Gradle: a later step may rely on what the tool
downloaded into the image layer, and moving the cache would take that away. Never for a
`target`/`build` directory: mounting a cache on the build output hides the artifacts from later
steps.

## References
- [moby/buildkit#2421](https://github.com/moby/buildkit/issues/2421): `target=$GOPATH/pkg/mod` and
  where Go really caches
- [rancher/support-bundle-kit#196](https://github.com/rancher/support-bundle-kit/pull/196): a HOME
  mismatch left the go-build cache unused
- [thockin/go-build-template#53](https://github.com/thockin/go-build-template/pull/53)
- [Dockerfile reference: RUN --mount=type=cache](https://docs.docker.com/reference/dockerfile/#run---mount)
- [docker/docs optimize.md](https://docs.docker.com/build/cache/optimize/): each tool's cache directory
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator

from bot.analysis import Analysis
from bot.analysis.effects import effects_of
from bot.analysis.tool_paths import TOOL_CACHES, CacheDir, runs_as_root, tool_cache_dir
from bot.dockerfile import paths
from bot.dockerfile.model import ResolvedMount, Step
from bot.fixes.mount_edit import instruction_edits, set_mount_options
from bot.fixes.text_edit import NoFix
from bot.rules.base import Finding, Fix, FixAvailability, Rule, Severity

# Where each cache usually is besides its place under /root (in official images).
_USUAL: dict[str, tuple[str, ...]] = {
    "go-mod": ("/go/pkg/mod",),
    "cargo": ("/usr/local/cargo",),
}
# Output directories whose name says which tool a cache mount is for.
_OUTPUT_DIRS = {"target": ("cargo", "mvn"), "build": ("gradle",)}


def check(analysis: Analysis) -> Iterator[Finding]:
    for step in analysis.dockerfile.steps():
        if step.keyword != "RUN":
            continue
        for item in step.mounts:
            if item.mount.type != "cache" or item.target is None:
                continue
            finding = _cache_mismatch(analysis, step, item) or _output_mismatch(step, item)
            if finding is not None:
                yield finding


def _spot(target: str, key: str, home_default: str) -> str | None:
    """The usual place of the cache that `target` is meant for: the target lies inside it, or the
    target is a parent of its place under /root (`/root/.cache` holds `/root/.cache/go-build`)."""
    under_root = paths.join("/root", home_default)
    for spot in (under_root, *_USUAL.get(key, ())):
        if paths.is_within(target, spot):
            return spot
    if paths.is_within(under_root, target) and target not in ("/", "/root"):
        return under_root
    return None


def _cache_mismatch(analysis: Analysis, step: Step, item: ResolvedMount) -> Finding | None:
    target = item.target or "/"
    for command in effects_of(step).commands:
        for cache in TOOL_CACHES:
            if not cache.uses(command):
                continue
            spot = _spot(target, cache.key, cache.home_default)
            if spot is None:
                continue
            # At an image's usual place (`/usr/local/cargo/...`), an unknown image probably set
            # the variable that puts the cache there: only a known value can contradict it.
            strict = spot != paths.join("/root", cache.home_default)
            where = tool_cache_dir(step, command, cache, strict=strict)
            if where is None:
                continue
            if where.path is not None:
                if paths.is_within(where.path, target) or paths.is_within(target, where.path):
                    continue
            elif not paths.is_within(target, "/root"):
                continue
            counterpart = None
            if where.path is not None and paths.is_within(target, spot):
                counterpart = paths.join(where.path, paths.relative_to(target, spot) or ".")
            return _finding(analysis, step, item, where, tool=command.words[0], counterpart=counterpart)
    return None


def _finding(
    analysis: Analysis,
    step: Step,
    item: ResolvedMount,
    where: CacheDir,
    *,
    tool: str,
    counterpart: str | None,
) -> Finding:
    written = item.mount.options.get("target", "")
    fix, reason = _fix(analysis, step, item, where, counterpart)
    uses = "" if where.described in where.because else f", so it uses {where.described}"
    instead = (
        f"; this mount's counterpart there is {counterpart}"
        if counterpart and counterpart != where.path
        else ""
    )
    return RULE.finding(
        step.line,
        f"The cache mount `target={written}` is not where `{tool}` keeps {where.cache.label} here: "
        f"{where.because}{uses}{instead}. The mount is never used, and every build starts with an empty "
        "cache.",
        end_line=step.instruction.end_line,
        severity=Severity.INFO,
        fix=fix,
        no_fix_reason=reason,
    )


def _fix(
    analysis: Analysis, step: Step, item: ResolvedMount, where: CacheDir, counterpart: str | None
) -> tuple[Fix | None, str | None]:
    if where.path is None:
        return None, "the home directory of the RUN's user is not known from the Dockerfile"
    if not where.cache.pure:
        return None, (
            f"later steps may rely on what the tool downloaded into {counterpart or where.path} in the "
            "image layer; moving the cache there would take it away"
        )
    if counterpart is None:
        return None, f"the mount covers more than {where.cache.label}; pick its new target yourself"
    if not runs_as_root(step):
        return None, "the RUN does not run as root: a cache there would also need `uid=`"
    if any(
        other is not item and other.target is not None and paths.is_within(counterpart, other.target)
        for other in step.mounts
    ):
        return None, f"another mount of this RUN already covers {counterpart}"
    df = analysis.dockerfile
    index = next(i for i, candidate in enumerate(step.mounts) if candidate is item)
    try:
        edits = tuple(
            instruction_edits(df, step, set_mount_options(df, step, index, {"target": counterpart}))
        )
    except NoFix as exc:
        return None, str(exc)
    return Fix(f"Mount the cache where the tool keeps it ({counterpart})", edits), None


def _output_mismatch(step: Step, item: ResolvedMount) -> Finding | None:
    target = item.target or "/"
    tools = _OUTPUT_DIRS.get(posixpath.basename(target))
    if tools is None or step.workdir.assumed:
        return None
    effects = effects_of(step)
    if any(c.cwd is not None and ("$" in c.cwd or "`" in c.cwd) for c in effects.commands):
        return None
    outputs = [o for o in effects.outputs if o.tool.split()[0] in tools and o.tool != "cargo install"]
    if not outputs:
        return None
    if any(paths.is_within(o.path, target) or paths.is_within(target, o.path) for o in outputs):
        return None
    if any(step.covering_mount(o.path) is not None for o in outputs):
        return None  # another mount takes the output: this one is the odd one out, but not lost work
    first = outputs[0]
    written = item.mount.options.get("target", "")
    if first in effects.redirected:
        why = "redirected by an option or variable"
    else:
        why = f"the `{posixpath.basename(first.path)}/` of its working directory"
    return RULE.finding(
        step.line,
        f"The cache mount `target={written}` is not the directory `{first.tool}` writes: it builds "
        f"into {first.path} ({why}). The mount is never used, so nothing is reused between builds.",
        end_line=step.instruction.end_line,
        severity=Severity.INFO,
        no_fix_reason=(
            "a cache on the build output would hide the artifacts from later steps; move the mount only "
            "if you also copy the artifacts out in the same RUN"
        ),
    )


RULE = Rule(
    code="BKM014",
    name="cache-target-not-the-tools-cache-dir",
    summary="A cache mount is not where the tool keeps its cache, so it is never used",
    severity=Severity.INFO,
    fix=FixAvailability.SOMETIMES,
    check=check,
    doc=__doc__ or "",
    needs_mounts=True,
)
