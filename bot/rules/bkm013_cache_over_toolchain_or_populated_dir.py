"""## What it does
Finds a cache or tmpfs mount whose target is, or contains, a directory that already holds programs
or data before the `RUN`: a toolchain the base image ships (`/usr/local/cargo` in `rust` images,
`/usr/local/go` in `golang`, `/usr/local/bin` and `/usr/local/lib/node_modules` in `node`), a
system directory (`/usr/bin`, `/etc`, ...), or what an earlier `RUN` installed (rustup into
`~/.cargo`, a virtual environment, `go install` into `/go/bin`, `cargo install`).

## Why is this bad?
A new cache mount starts empty and a tmpfs always does: neither is filled from the directory it
is mounted over. Mounting one over a toolchain hides the toolchain for the whole `RUN`
("cargo: not found"), and once the cache has been filled by some other build, the tool that runs
is whatever that build left there, silently. Caches belong on the tools' cache subdirectories
(`$CARGO_HOME/registry`, `$CARGO_HOME/git/db`, `/go/pkg/mod`, `/root/.cache/go-build`), never on
the directories that hold the tools.

Not reported: the recommended subdirectories; a cache seeded with `from=` (for example
`from=rust:1.79,source=/usr/local/cargo`, whose key includes the seed); a mount on a directory
only an unknown base image might fill (`/root/.cargo` in a `rust` image is empty: its CARGO_HOME is
`/usr/local/cargo`, so a tmpfs there is harmless); `/go` in a `golang` image, which ships only
empty `bin` and `src` directories there (unless an earlier `go install` filled `/go/bin`).

## Example
```dockerfile
FROM rust:1.79
WORKDIR /app
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo cargo build --release && cp target/release/app /bin/app
```

Use instead:
```dockerfile
FROM rust:1.79
WORKDIR /app
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \\
    --mount=type=cache,target=/usr/local/cargo/git/db \\
    cargo build --release && cp target/release/app /bin/app
```

## Fix
When the target is exactly CARGO_HOME and the `RUN` only builds with cargo, replaces the mount
with two cache mounts on `$CARGO_HOME/registry` and `$CARGO_HOME/git/db` (keeping `sharing=`).
No fix is offered for tmpfs mounts, mounts with other options (`id=`, `uid=`, ...), a `RUN` that
runs `cargo install` or names paths inside CARGO_HOME (it uses the directory for more than a
cache), other directories, or a flag written with quotes; there the right cache directory depends
on the tool.

## References
- [rust-lang/docker-rust#17](https://github.com/rust-lang/docker-rust/issues/17): the toolchain
  lives under CARGO_HOME, so the whole directory cannot be a cache
- [Docker's Rust guide](https://docs.docker.com/guides/rust/develop/): caches on
  `/usr/local/cargo/registry` and `/usr/local/cargo/git/db`
- [Dockerfile reference: RUN --mount=type=cache](https://docs.docker.com/reference/dockerfile/#run---mount)
- [moby/buildkit#1237](https://github.com/moby/buildkit/issues/1237): a new cache directory is not
  filled from the mount point
"""

from __future__ import annotations

from collections.abc import Iterator

from bot.analysis import Analysis
from bot.analysis.effects import effects_of
from bot.analysis.path_index import stage_index
from bot.analysis.tool_paths import Populated, image_populated, run_populated
from bot.dockerfile import paths
from bot.dockerfile.model import ResolvedMount, Step
from bot.fixes.mount_edit import Replacement, instruction_edits, mount_flag
from bot.fixes.text_edit import NoFix
from bot.rules.base import Finding, Fix, FixAvailability, Rule, Severity


def check(analysis: Analysis) -> Iterator[Finding]:
    df = analysis.dockerfile
    for stage in df.stages:
        index = stage_index(stage, _populated_paths)
        chain = index.chain
        own_start = len(chain) - len(stage.steps)
        base_dirs = image_populated(stage)
        for position in range(own_start, len(chain)):
            step = chain[position]
            if step.keyword != "RUN":
                continue
            mounted = [m for m in step.mounts if m.mount.type in ("cache", "tmpfs") and m.target is not None]
            if not mounted:
                continue
            for item in mounted:
                if item.mount.from_ is not None:
                    continue  # seeded
                target = item.target or "/"
                # `run_populated(chain[:position])` and the base image's, in order, under the target:
                # only the earlier RUNs the index relates to the target can have any.
                earlier = sorted(index.related(target, below=position))
                populated = [*run_populated([chain[p] for p in earlier]), *base_dirs]
                hidden = [p for p in populated if paths.is_within(p.path, target)]
                if hidden:
                    yield _finding(analysis, step, item, hidden)


def _populated_paths(step: Step) -> list[str]:
    """The directories `run_populated` finds in `step` (for `stage_index`)."""
    return [found.path for found in run_populated([step])]


def _finding(analysis: Analysis, step: Step, item: ResolvedMount, hidden: list[Populated]) -> Finding:
    first = hidden[0]
    kind = item.mount.type
    written = item.mount.options.get("target", "")
    where = f"`target={written}`" + (f" ({item.target})" if written != item.target else "")
    holds = f"{first.path}, which holds {first.what} ({first.origin})"
    if kind == "tmpfs":
        effect = 'A tmpfs always starts empty, so during this RUN those files are missing ("not found").'
    else:
        effect = (
            "A cache starts empty on a fresh builder, never filled from the image, so during this RUN "
            'those files are missing ("not found"), or silently replaced by whatever another build '
            "left in the cache."
        )
    fix, reason = _fix(analysis, step, item, hidden)
    return RULE.finding(
        step.line,
        f"The {kind} mount {where} covers {holds}. {effect} Mount only the tool's cache subdirectories.",
        end_line=step.instruction.end_line,
        severity=Severity.WARNING,
        fix=fix,
        no_fix_reason=reason,
        related_lines=tuple(sorted({p.line for p in hidden if p.line is not None})),
    )


def _fix(
    analysis: Analysis, step: Step, item: ResolvedMount, hidden: list[Populated]
) -> tuple[Fix | None, str | None]:
    target = item.target or "/"
    cargo_home = next((p.cargo_home for p in hidden if p.cargo_home == target), None)
    if cargo_home is None or any(p.cargo_home != target for p in hidden):
        return (
            None,
            "a replacement is known only for a mount on CARGO_HOME itself; mount the tool's cache "
            "subdirectory instead",
        )
    if item.mount.type != "cache":
        return None, "a tmpfs is thrown away on purpose; replacing it with caches would change the build"
    effects = effects_of(step)
    cargo = [c for c in effects.commands if c.name == "cargo"]
    if not cargo or any(len(c.words) > 1 and c.words[1] == "install" for c in cargo):
        return (
            None,
            "the RUN does more with CARGO_HOME than build with cargo; which parts to cache is your call",
        )
    if any(paths.is_within(path, target) for path in effects.mentioned):
        return None, "the RUN names paths inside CARGO_HOME itself; which parts to cache is your call"
    options = item.mount.options
    if not set(options) <= {"type", "target", "sharing"} or item.mount.readonly:
        return (
            None,
            "the mount sets options (id, uid, mode, ...) whose meaning for two new caches is your call",
        )
    if any(
        other is not item and other.target and paths.is_within(other.target, target) for other in step.mounts
    ):
        return None, "another mount of this RUN already lies inside CARGO_HOME"
    df = analysis.dockerfile
    index = next(i for i, candidate in enumerate(step.mounts) if candidate is item)
    written = options.get("target", "").rstrip("/")
    sharing = f",sharing={options['sharing']}" if "sharing" in options else ""
    replacement = (
        f"--mount=type=cache,target={written}/registry{sharing} "
        f"--mount=type=cache,target={written}/git/db{sharing}"
    )
    try:
        flag = mount_flag(step, index)
        raw = step.instruction.raw
        line, col = raw.position(flag.start)
        end_line, last_col = raw.position(flag.end - 1)
        if end_line != line or df.lines[line - 1][col : last_col + 1] != flag.raw:
            raise NoFix("the --mount flag is quoted, escaped or split over lines; it is left for you to edit")
        if any(ch in written for ch in "'\" ,") or df.escape in written:
            raise NoFix("the target cannot be rewritten safely")
        edits = tuple(instruction_edits(df, step, [Replacement(line, col, line, last_col + 1, replacement)]))
    except NoFix as exc:
        return None, str(exc)
    return Fix("Cache only CARGO_HOME's registry and git database", edits), None


RULE = Rule(
    code="BKM013",
    name="cache-over-toolchain-or-populated-dir",
    summary="A cache or tmpfs mount hides a toolchain or other directory the image already fills",
    severity=Severity.WARNING,
    fix=FixAvailability.SOMETIMES,
    check=check,
    doc=__doc__ or "",
    needs_mounts=True,
)
