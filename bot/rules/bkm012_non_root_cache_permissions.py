"""## What it does
Finds a writable cache mount without `uid=` (and without a world-writable `mode=`) on a `RUN` whose
`USER` is not root.

## Why is this bad?
BuildKit creates a new cache directory owned by `0:0` with mode `0755`, whatever the owner of the
directory it is mounted over; `uid`, `gid` and `mode` are the only way to change that. A non-root
user therefore cannot write to the cache, and the build fails with `permission denied` (for
example `mkdir /home/nobody/.cache/go-build/00: permission denied`).

Not reported: root users (`root`, `0`, `0:<group>`, after ARG/ENV expansion), a `USER` whose value
the Dockerfile does not determine, `ro` caches, caches with `uid=` set to the user's uid, a `mode=`
that lets everyone write (`0777`, `1777`), or one that lets the group write when `gid=` is set.
A cache under `/root` (or yarn v1's root-only `/usr/local/share/.cache/yarn`) is not reported for
a non-root user either: tools follow `$HOME`, so they never write there and the mount cannot fail
(that mismatch is `cache-target-not-the-tools-cache-dir`), unless a variable in scope points into
it.
When `uid=` is set to a number other than a numeric `USER`, the cache is still unwritable, and that
is reported too.

## Example
```dockerfile
FROM python:3.12-slim
RUN useradd --uid 1000 --create-home app
USER 1000
RUN --mount=type=cache,target=/home/app/.cache/pip pip install --user requests
```

Use instead:
```dockerfile
FROM python:3.12-slim
RUN useradd --uid 1000 --create-home app
USER 1000
RUN --mount=type=cache,target=/home/app/.cache/pip,uid=1000 pip install --user requests
```

## Fix
When `USER` is numeric, adds `uid=<uid>` (and `gid=<gid>` when `USER` names a numeric group) to the
mount. BuildKit accepts only numbers there, so a named user gets no fix: look up its uid (e.g.
the `--uid` given to `useradd`) and add it yourself. Changing `uid`/`gid` gives the cache a new key,
so the first build after the fix starts with an empty cache.

## References
- [Dockerfile reference: RUN --mount=type=cache](https://docs.docker.com/reference/dockerfile/#run---mount):
  `uid`, `gid` and `mode` apply "for new cache directory"
- [moby/buildkit#724](https://github.com/moby/buildkit/issues/724): `permission denied` under `USER nobody`
- [moby/buildkit#1237](https://github.com/moby/buildkit/issues/1237): the cache does not inherit the
  mount point's owner
- [moby/buildkit#3153](https://github.com/moby/buildkit/issues/3153)
"""

from __future__ import annotations

from collections.abc import Iterator

from bot.analysis import Analysis
from bot.analysis.tool_paths import RunAs, run_as
from bot.dockerfile import paths
from bot.dockerfile.model import ResolvedMount, Step
from bot.fixes.mount_edit import instruction_edits, set_mount_options
from bot.fixes.text_edit import NoFix
from bot.rules.base import Finding, Fix, FixAvailability, Rule, Severity

# Cache directories only root's tools use: /root (HOME of root) and yarn v1's cache for root.
_ROOT_ONLY = ("/root", "/usr/local/share/.cache/yarn")


def check(analysis: Analysis) -> Iterator[Finding]:
    df = analysis.dockerfile
    for step in df.steps():
        if step.keyword != "RUN" or not step.mounts:
            continue
        who = run_as(step)
        if who is None or who.root or not step.user_known:
            continue
        flagged = [
            (item, problem) for item in step.mounts if (problem := _problem(step, item, who)) is not None
        ]
        if not flagged:
            continue
        fix, reason = _fix(analysis, step, [item for item, _ in flagged], who)
        for _, problem in flagged:
            yield RULE.finding(
                step.line,
                problem,
                end_line=step.instruction.end_line,
                fix=fix,
                no_fix_reason=reason,
            )


def _problem(step: Step, item: ResolvedMount, who: RunAs) -> str | None:
    mount = item.mount
    if mount.type != "cache" or mount.readonly or item.target is None:
        return None
    mode = _mode(mount.options.get("mode"), mount.mode)
    if mode is _UNKNOWN_MODE:
        return None
    if isinstance(mode, int) and mode & 0o002:
        return None  # everyone may write
    if isinstance(mode, int) and mode & 0o020 and "gid" in mount.options:
        return None  # the group may write; membership is not visible here
    if any(paths.is_within(item.target, place) for place in _ROOT_ONLY) and not _points_into(
        step, item.target
    ):
        return None  # tools follow $HOME: a non-root user never writes there
    target = mount.options.get("target", item.target)
    if "uid" in mount.options:
        if mount.uid is None or not mount.uid.isdigit() or who.uid is None or int(mount.uid) == who.uid:
            return None
        return (
            f"The cache mount `target={target}` belongs to uid {mount.uid}, but this RUN runs as USER "
            f"{step.user}: BuildKit creates the cache directory with that owner and mode 0755, so the "
            'build fails with "permission denied" when it writes there.'
        )
    return (
        f"The cache mount `target={target}` has no `uid=`, and this RUN runs as USER {step.user}, not "
        "root: BuildKit creates a new cache directory owned by root with mode 0755 (it does not take "
        'the owner of the directory it mounts over), so the build fails with "permission denied" '
        "when it writes there."
    )


class _Unknown:
    pass


_UNKNOWN_MODE = _Unknown()


def _mode(written: str | None, value: str | None) -> int | _Unknown | None:
    if written is None:
        return None
    if value is None:
        return _UNKNOWN_MODE
    try:
        return int(value, 8)
    except ValueError:
        return _UNKNOWN_MODE


def _points_into(step: Step, target: str) -> bool:
    """Whether a variable in scope (GOCACHE, ...) names a path inside the mount, or HOME holds it."""
    known, home = step.scope.lookup("HOME")
    if known and home and home.startswith("/") and paths.is_within(target, home):
        return True
    return any(
        isinstance(value, str) and value.startswith("/") and value != "/" and paths.is_within(value, target)
        for value in step.scope.values.values()
    )


def _fix(
    analysis: Analysis, step: Step, items: list[ResolvedMount], who: RunAs
) -> tuple[Fix | None, str | None]:
    if who.uid is None:
        return None, (
            f"BuildKit takes only numbers in `uid=`, and the uid of USER {step.user} is not known from "
            "the Dockerfile"
        )
    if any("uid" in item.mount.options for item in items):
        return None, "the mount already sets `uid=`; choose which owner it should have"
    options = {"uid": str(who.uid)}
    if who.gid is not None and not any("gid" in item.mount.options for item in items):
        options["gid"] = str(who.gid)
    df = analysis.dockerfile
    try:
        replacements = [
            replacement
            for item in items
            for replacement in set_mount_options(df, step, _index(step, item), options)
        ]
        edits = tuple(instruction_edits(df, step, replacements))
    except NoFix as exc:
        return None, str(exc)
    noun = "mount" if len(items) == 1 else "mounts"
    written = ",".join(f"{key}={value}" for key, value in options.items())
    return Fix(f"Create the cache {noun} owned by the RUN's user ({written})", edits), None


def _index(step: Step, item: ResolvedMount) -> int:
    return next(i for i, candidate in enumerate(step.mounts) if candidate is item)


RULE = Rule(
    code="BKM012",
    name="non-root-cache-permissions",
    summary="A non-root USER writes to a cache mount that BuildKit creates owned by root",
    severity=Severity.WARNING,
    fix=FixAvailability.SOMETIMES,
    check=check,
    doc=__doc__ or "",
    needs_mounts=True,
)
