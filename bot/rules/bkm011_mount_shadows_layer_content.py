"""## What it does
Finds a cache or tmpfs mount whose target already holds content in the image layer: files a
`COPY`/`ADD` put there, or the output of an earlier dependency build (`cargo chef cook`, a dummy
`cargo build`, `npm ci`, `mvn package`) that ran without that mount.

## Why is this bad?
While the `RUN` executes, the mount hides whatever the layer has at its target; afterwards the
layer's content is visible again, unchanged. So:
- a mount over the WORKDIR, or over a directory the sources were just copied into, leaves the
  build with no sources ("could not find `Cargo.toml`", "No such file or directory");
- a mount over the output of a dependency-build step throws that work away: the build starts
  again from an empty (or foreign) cache, and after the `RUN` the layer's old copy reappears, which
  is exactly how a stale binary ships when a later stage copies from there.

Severity: **error** when the mount hides sources the `RUN` works on (its working directory is
inside the mount, or it names a copied file); **warning** when it hides the output of an earlier
dependency build, or copied files of a tool's directory (`node_modules`, `target`, `.m2`, ...).
Files copied under `/tmp`-like scratch directories that the `RUN` does not name are not reported.

Not reported: a cache mount seeded with `from=` (the intended way to start a cache from earlier
work); a `COPY . .` into a parent directory of the target, where only a local `target/` or
`node_modules/` could land (that is mentioned in the message when the finding fires for another
reason, using `.dockerignore` when it is known); bind mounts, which bring content of their own on
purpose.

## Example
```dockerfile
FROM rust:1.79
WORKDIR /app
COPY . .
RUN --mount=type=cache,target=/app cargo build --release
```

Use instead:
```dockerfile
FROM rust:1.79
WORKDIR /app
COPY . .
RUN --mount=type=cache,target=/app/target cargo build --release && cp target/release/app /usr/local/bin/app
```

## Fix
None is offered: either mount only the directory the tool uses as a cache, seed the cache from
the earlier work (`--mount=type=cache,target=/app/target,from=deps,source=/app/target`), or stop
mixing layer-based and mount-based caching of the same directory. Which one fits is a choice about
the build.

## References
- [Dockerfile reference: RUN --mount](https://docs.docker.com/reference/dockerfile/#run---mount):
  `from=` seeds a cache mount
- [docker/docs optimize.md](https://docs.docker.com/build/cache/optimize/): the contents of the
  target directory are hidden while it is mounted
- [neondatabase/neon#12276](https://github.com/neondatabase/neon/pull/12276): "the mounts we have
  set up are directly conflicting with chef"
- [LukeMathWalker/cargo-chef#156](https://github.com/LukeMathWalker/cargo-chef/issues/156)
- [earthly/earthly#3073](https://github.com/earthly/earthly/issues/3073): the same trap in Earthly
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import NamedTuple

from bot.analysis import Analysis
from bot.analysis.dockerignore import DockerIgnore
from bot.analysis.effects import effects_of
from bot.analysis.lost import earlier_content, layer_index
from bot.analysis.memo import memo
from bot.analysis.path_index import PathIndex, stage_index
from bot.dockerfile import paths
from bot.dockerfile.model import ResolvedMount, Step
from bot.rules.base import Finding, FixAvailability, Rule, Severity

# Outputs of dependency builds that a later cache mount may hide.
_BUILD_TOOLS = ("cargo", "npm", "yarn", "pnpm", "bun", "mvn", "gradle")
_SCRATCH = ("/tmp", "/var/tmp", "/run")
# Directories tools read without naming them on the command line.
_TOOL_DIRS = frozenset(
    {"node_modules", "target", ".m2", ".gradle", ".cargo", "vendor", "site-packages", "build"}
)
_NO_FIX = (
    "mount only the tool's cache directory, seed the cache with `from=`, or stop caching the same "
    "directory in both the layer and a mount: a choice about the build"
)


class _Shadow(NamedTuple):
    step: Step  # the instruction that put the content there
    path: str  # where it put it
    kind: str  # "copy" or "build"
    what: str


def check(analysis: Analysis) -> Iterator[Finding]:
    df = analysis.dockerfile
    for stage in df.stages:
        index = stage_index(stage, _fact_paths)
        chain = index.chain
        own_start = len(chain) - len(stage.steps)
        for position in range(own_start, len(chain)):
            step = chain[position]
            if step.keyword != "RUN":
                continue
            for item in step.mounts:
                if item.mount.type not in ("cache", "tmpfs") or item.target is None:
                    continue
                if item.mount.from_ is not None:
                    continue  # seeded on purpose
                finding = _check_mount(chain[:position], step, item, analysis.dockerignore, index)
                if finding is not None:
                    yield finding


def _check_mount(
    before: list[Step],
    run: Step,
    item: ResolvedMount,
    dockerignore: DockerIgnore | None,
    index: PathIndex | None = None,
) -> Finding | None:
    """`index` (by `_fact_paths`, of a chain `before` is a prefix of) only speeds up the walks."""
    target = item.target or "/"
    shadows = list(_shadows(before, target, index))
    if not shadows:
        return None
    copies = [s for s in shadows if s.kind == "copy"]
    builds = [s for s in shadows if s.kind == "build"]
    kind = item.mount.type
    written = item.mount.options.get("target", "")
    where = f"`target={written}`" + (f" ({target})" if written != target else "")
    used = [c for c in copies if _run_uses(run, target, c.path)]
    context_note = _context_note(before, target, dockerignore, index)
    if used:
        shadow = used[0]
        return RULE.finding(
            run.line,
            f"The {kind} mount {where} hides {shadow.what} (line {shadow.step.line}), and this RUN works "
            f"on it: while the mount is in place the build sees {_seen(kind)}, not those files, so it "
            f"fails or builds the wrong thing.{context_note}",
            end_line=run.instruction.end_line,
            severity=Severity.ERROR,
            no_fix_reason=_NO_FIX,
            related_lines=(shadow.step.line,),
        )
    if builds:
        shadow = builds[0]
        return RULE.finding(
            run.line,
            f"The {kind} mount {where} hides {shadow.what} (line {shadow.step.line}): this RUN starts "
            f"again from {_seen(kind)}, so that work is lost, and after the RUN the layer's old copy "
            "reappears at the same path, which is how a stale artifact ends up being copied or run."
            f"{context_note}",
            end_line=run.instruction.end_line,
            severity=Severity.WARNING,
            no_fix_reason=_NO_FIX,
            related_lines=(shadow.step.line,),
        )
    tool_copies = [c for c in copies if _is_tool_dir(target) and not _is_scratch(target)]
    if tool_copies:
        shadow = tool_copies[0]
        return RULE.finding(
            run.line,
            f"The {kind} mount {where} hides {shadow.what} (line {shadow.step.line}): while the mount is "
            f"in place the tools see {_seen(kind)} there, and afterwards the copied files reappear "
            f"unchanged.{context_note}",
            end_line=run.instruction.end_line,
            severity=Severity.WARNING,
            no_fix_reason=_NO_FIX,
            related_lines=(shadow.step.line,),
        )
    return None


def _seen(kind: str) -> str:
    return "an empty tmpfs" if kind == "tmpfs" else "whatever the cache holds (empty on a fresh builder)"


def _is_tool_dir(target: str) -> bool:
    return any(part in _TOOL_DIRS for part in paths.parts(target))


def _is_scratch(target: str) -> bool:
    return any(paths.is_within(target, s) for s in _SCRATCH)


def _backwards(before: list[Step], target: str, index: PathIndex | None) -> Iterable[int]:
    if index is None:
        return range(len(before) - 1, -1, -1)
    return index.related(target, below=len(before))


def _shadows(before: list[Step], target: str, index: PathIndex | None = None) -> Iterator[_Shadow]:
    """Content earlier steps left in the layer at or under `target`, latest first, stopping at a
    step that removes the target."""
    for position in _backwards(before, target, index):
        content, removed = _layer_facts(before[position])
        if any(_within(target, path) for path in removed):
            return
        for shadow in content:
            if _within(shadow.path, target):
                yield shadow


def _within(path: str, directory: str) -> bool:
    """`paths.is_within`, with a fast path for the plain (glob-free, cleaned) paths used here."""
    if paths.has_glob(path):
        return paths.is_within(path, directory)
    return directory in (path, "/") or path.startswith(directory + "/")


def _fact_paths(step: Step) -> list[str]:
    """The paths `_shadows` and `_context_note` test a step against (for `stage_index`)."""
    content, removed = _layer_facts(step)
    return [*(shadow.path for shadow in content), *removed]


def _layer_facts(step: Step) -> tuple[list[_Shadow], list[str]]:
    """What the step leaves in the layer (copies, build outputs) and the paths it removes."""
    return memo(step, "bkm011_facts", lambda: _scan_layer_facts(step))  # the shadows name the step


def _scan_layer_facts(step: Step) -> tuple[list[_Shadow], list[str]]:
    content: list[_Shadow] = []
    removed: list[str] = []
    spec = step.copy
    if step.keyword in ("COPY", "ADD") and spec is not None and spec.dest.value is not None:
        if spec.sources or spec.heredoc_sources:
            dest = step.resolve(spec.dest.value)
            source = "the build context" if spec.from_stage is None else f"stage {spec.from_stage}"
            content.append(_Shadow(step, dest, "copy", f"what {step.keyword} put in {dest} from {source}"))
        return content, removed
    if step.keyword != "RUN":
        return content, removed
    effects = effects_of(step)

    def in_layer(path: str) -> bool:
        mount = step.covering_mount(path)
        return mount is None or not mount.mount.ephemeral

    for output in effects.outputs:
        if output.tool.startswith(_BUILD_TOOLS) and in_layer(output.path):
            content.append(
                _Shadow(step, output.path, "build", f"the {output.path} that `{output.tool}` built")
            )
    for copy in effects.copy_outs:
        if in_layer(copy.dest):
            content.append(_Shadow(step, copy.dest, "copy", f"what `{copy.command}` put in {copy.dest}"))
    for command in effects.commands:
        if command.name != "rm":
            continue
        for word in command.words[1:]:
            if word.startswith("-") or "$" in word or (command.cwd is not None and not word.startswith("/")):
                continue
            path = step.resolve(word)
            if step.covering_mount(path) is None:
                removed.append(path)
    return content, removed


def _run_uses(run: Step, target: str, copied: str) -> bool:
    """Whether the mount-RUN works inside the target, or names the copied path."""
    effects = effects_of(run)
    cwds = [run.workdir.path]
    for command in effects.commands:
        if command.cwd is not None and "$" not in command.cwd:
            cwds.append(run.resolve(command.cwd))
    if any(paths.is_within(cwd, target) for cwd in cwds):
        return True
    return any(
        paths.is_within(m, copied) or (paths.is_within(copied, m) and paths.is_within(m, target))
        for m in effects.mentioned
    )


def _context_note(
    before: list[Step], target: str, dockerignore: DockerIgnore | None, facts: PathIndex | None = None
) -> str:
    """What a `COPY . <parent of target>` may have brought to the target, per .dockerignore."""
    for index in _backwards(before, target, facts):
        step = before[index]
        spec = step.copy
        if spec is None or spec.from_stage is not None or spec.dest.value is None:
            continue
        if not any(s.value in (".", "./") for s in spec.sources):
            continue
        dest = step.resolve(spec.dest.value)
        if dest == target or not paths.is_within(target, dest):
            continue
        # `before[: index + 1]` ends with a step of `step.stage`: a prefix of that stage's chain.
        layer = layer_index(step.stage) if facts is not None else None
        earlier = earlier_content(before[: index + 1], target, dockerignore, layer)
        if earlier is None or earlier.step is not step:
            return ""
        return f" Also, {earlier.description}."
    return ""


RULE = Rule(
    code="BKM011",
    name="mount-shadows-layer-content",
    summary="A cache or tmpfs mount hides files an earlier instruction put at its target",
    severity=Severity.WARNING,
    fix=FixAvailability.NEVER,
    check=check,
    doc=__doc__ or "",
    needs_mounts=True,
)
