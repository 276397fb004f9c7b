"""Facts for the cache-mount hygiene rules (BKM005-BKM009).

Each fact is what one rule reports: a cache mount with a relative target and no id (BKM005), an
output cache whose id does not separate platforms (BKM006), apt cache mounts without a lock or
emptied by docker-clean (BKM007), apt lists or the dpkg database that live only in a mount
(BKM008), a cleanup that empties a cache mount of its own RUN (BKM009). Their fixes are planned
together in `bot.analysis.mount_fix_plan`.

Pure: reads the model only. Values that depend on unknown variables are never guessed: the fact
is skipped, or its fix withheld with a reason.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from bot.analysis.effects import effects_of
from bot.analysis.run_commands import Arg, Command, RunCommands, run_commands
from bot.dockerfile import paths
from bot.dockerfile.images import image_repository
from bot.dockerfile.model import Dockerfile, ResolvedMount, Stage, Step
from bot.dockerfile.mounts import Mount
from bot.dockerfile.words import Scope
from bot.fixes.mount_edit import mount_flag

APT_CACHE = "/var/cache/apt"
APT_ARCHIVES = "/var/cache/apt/archives"
APT_LIB = "/var/lib/apt"
APT_LISTS = "/var/lib/apt/lists"
DPKG = "/var/lib/dpkg"

PLATFORM_SCOPING_ARGS = frozenset({"TARGETPLATFORM", "TARGETARCH", "TARGETVARIANT"})
# Platform ARGs that do not tell target platforms apart (the build platform is the same for all).
_NON_SEPARATING_ARGS = frozenset({"TARGETOS", "BUILDPLATFORM", "BUILDOS", "BUILDARCH", "BUILDVARIANT"})
_PLATFORM_WORD = re.compile(
    r"\b(TARGETPLATFORM|TARGETOS|TARGETARCH|TARGETVARIANT|BUILDPLATFORM|BUILDOS|BUILDARCH|BUILDVARIANT)\b"
)
_VARIABLE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")

# Basenames of directories compilers and package managers write their results into (S18).
OUTPUT_DIR_NAMES = frozenset({"target", "build", "dist", "out", ".next", "node_modules"})

# Official images built on Debian or Ubuntu (docker-library), whose apt keeps the `docker-clean`
# hook; tags naming another distribution are excluded below.
_DEBIAN_FAMILY = frozenset(
    {
        "debian", "ubuntu", "buildpack-deps", "python", "node", "rust", "golang", "ruby", "php",
        "perl", "gcc", "openjdk", "eclipse-temurin",
    }
)  # fmt: skip
_OTHER_DISTRO_TAGS = (
    "alpine", "windowsservercore", "nanoserver", "ltsc", "ubi", "oracle", "distroless", "busybox",
    "amazonlinux", "centos", "fedora", "rocky", "alma", "musl", "wolfi",
)  # fmt: skip

_APT_TOOLS = frozenset({"apt-get", "apt", "aptitude"})
_APT_ARG_OPTIONS = frozenset(
    {"-o", "-c", "-t", "--option", "--config-file", "--target-release", "--default-release"}
)
# apt actions that need the package lists (they fail with "Unable to locate package" without).
APT_NEEDS_LISTS = frozenset({"install", "reinstall", "build-dep", "source", "satisfy", "download"})
# apt actions that download .deb files into /var/cache/apt/archives.
_APT_DOWNLOADS = frozenset(
    {"install", "reinstall", "upgrade", "dist-upgrade", "full-upgrade", "build-dep", "satisfy"}
)
# apt actions that change the installed packages (and so the dpkg database).
_APT_CHANGES = _APT_DOWNLOADS | {"remove", "purge", "autoremove"}
_DPKG_CHANGES = frozenset(
    {"-i", "--install", "-r", "--remove", "-P", "--purge", "--configure", "--unpack", "-a"}
)
# Scripts and wrappers that may run apt without showing it.
_APT_WRAPPERS = frozenset({"install_packages", "apt-fast", "add-apt-repository"})

REMOVE_DOCKER_CLEAN = "rm -f /etc/apt/apt.conf.d/docker-clean"
# The `apt` binary (not apt-get) also deletes downloaded packages unless told to keep them.
KEEP_DOWNLOADED = (
    "echo 'Binary::apt::APT::Keep-Downloaded-Packages \"true\";' > /etc/apt/apt.conf.d/keep-cache"
)
PLATFORM_SUFFIX = "-${TARGETPLATFORM}"


# -- small shared readings -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MountRef:
    """One `--mount` of one RUN."""

    step: Step
    index: int

    @property
    def resolved(self) -> ResolvedMount:
        return self.step.mounts[self.index]

    @property
    def written_target(self) -> str:
        return self.resolved.mount.options.get("target", "")

    @property
    def label(self) -> str:
        return f"`target={self.written_target}`"

    @property
    def column(self) -> int:
        """1-based column of the flag when it sits on the instruction's first line, else 1."""
        flag = mount_flag(self.step, self.index)
        line, col = self.step.instruction.raw.position(flag.start)
        return col + 1 if line == self.step.line else 1


def written_id(mount: Mount) -> str | None:
    """The `id=` as written, None when absent or empty (BuildKit then uses the target)."""
    return mount.options.get("id") or None


def cache_mounts(step: Step) -> Iterator[MountRef]:
    for index, item in enumerate(step.mounts):
        if item.mount.type == "cache":
            yield MountRef(step, index)


def run_steps(df: Dockerfile) -> Iterator[Step]:
    for step in df.steps():
        if step.keyword == "RUN":
            yield step


def multi_platform_evidence(df: Dockerfile) -> int | None:
    """The first line showing the build targets several platforms: `FROM --platform=`, or a
    reference to TARGETPLATFORM, TARGETARCH, BUILDPLATFORM and the like."""
    lines: list[int] = [s.from_step.start_line for s in df.stages if s.platform is not None]
    for ins in df.instructions:
        texts = [ins.raw.logical, *(h.body for h in ins.heredocs)]
        if any(_PLATFORM_WORD.search(text) for text in texts):
            lines.append(ins.start_line)
            break
    return min(lines) if lines else None


def variables_in(text: str) -> set[str]:
    return set(_VARIABLE.findall(text))


def root_stage(stage: Stage) -> Stage:
    seen: list[Stage] = []
    while stage.parent is not None and stage not in seen:
        seen.append(stage)
        stage = stage.parent
    return stage


def debian_base(stage: Stage) -> str | None:
    """The base image reference when it is a Debian/Ubuntu-based official image, else None."""
    reference = root_stage(stage).base
    if reference is None:
        return None
    if image_repository(reference) not in _DEBIAN_FAMILY:
        return None
    last = reference.split("@", 1)[0].rsplit("/", 1)[-1]
    tag = last.split(":", 1)[1].lower() if ":" in last else ""
    if any(word in tag for word in _OTHER_DISTRO_TAGS):
        return None
    return reference


def apt_action(command: Command) -> tuple[str, tuple[Arg, ...]] | None:
    """(`install`, package words) for `apt-get -y install x`, through sudo/env wrappers."""
    args = command.unwrapped()
    if not args or posixpath.basename(args[0].value) not in _APT_TOOLS:
        return None
    skip = False
    for position, arg in enumerate(args[1:], start=1):
        if skip:
            skip = False
        elif arg.value in _APT_ARG_OPTIONS:
            skip = True
        elif not arg.value.startswith("-"):
            return arg.value, tuple(a for a in args[position + 1 :] if not a.value.startswith("-"))
    return None


def updates_lists(command: Command) -> bool:
    """`apt-get update`, or `add-apt-repository` (which updates unless told not to)."""
    action = apt_action(command)
    if action is not None:
        return action[0] == "update"
    args = command.unwrapped()
    if args and posixpath.basename(args[0].value) == "add-apt-repository":
        return not any(a.value in ("-n", "--no-update") for a in args[1:])
    return False


def changes_packages(command: Command) -> bool:
    action = apt_action(command)
    if action is not None:
        return action[0] in _APT_CHANGES
    args = command.unwrapped()
    if args and posixpath.basename(args[0].value) == "dpkg":
        return any(a.value in _DPKG_CHANGES for a in args[1:])
    return False


def may_run_apt(commands: RunCommands | None) -> bool:
    """Whether a RUN runs apt, or runs something that may (a script): False only when every
    command is visible and none is apt."""
    if commands is None:
        return True
    for command in commands.commands:
        args = command.unwrapped()
        if not args:
            continue
        name = posixpath.basename(args[0].value)
        if name in _APT_TOOLS or name in _APT_WRAPPERS or name.endswith(".sh"):
            return True
        if name in ("sh", "bash", "ash", "dash") and len(args) > 1:
            return True
    return False


def instruction_text(step: Step) -> str:
    ins = step.instruction
    return "\n".join([ins.raw.logical, *(h.body for h in ins.heredocs)])


def is_root_user(step: Step) -> bool:
    user = step.user
    if user is None:
        return step.user_known
    return user.split(":", 1)[0] in ("root", "0")


def _lookup(scope: Scope, name: str, extra: dict[str, str] | None = None) -> str | None:
    """A variable's value when the Dockerfile sets it; None when unset or unknown."""
    if extra and name in extra and "$" not in extra[name]:
        return extra[name] or None
    known, value = scope.lookup(name)
    return value if known and value else None


def home_of(step: Step, extra: dict[str, str] | None = None) -> str | None:
    home = _lookup(step.scope, "HOME", extra)
    if home is not None:
        return home
    return "/root" if is_root_user(step) else None


# -- facts ---------------------------------------------------------------------------------------


class OutputKind(NamedTuple):
    what: str  # "a cargo or Maven `target` output dir"
    risk: str  # what sharing it across platforms does


class RelativeCache(NamedTuple):
    """BKM005: a cache mount with a relative target and no id."""

    ref: MountRef
    cache_id: str  # the relative string BuildKit uses as its id
    output_dir: bool  # a compiler or package-manager output dir
    copy_out: Step | None  # another RUN that copies out of the same cache


class UnscopedCache(NamedTuple):
    """BKM006: a cache on an output or state dir whose id does not separate platforms."""

    ref: MountRef
    kind: OutputKind
    platform_line: int  # where the Dockerfile shows multi-platform intent
    id_text: str | None  # the id as written, if any


class UnlockedApt(NamedTuple):
    """BKM007 (A): apt cache mounts a concurrent build may share while apt holds its lock."""

    step: Step
    refs: tuple[MountRef, ...]


class DockerCleanGap(NamedTuple):
    """BKM007 (B): a cache on /var/cache/apt in a Debian-based stage that keeps docker-clean."""

    ref: MountRef
    base: str
    first: Step  # the first such RUN in the chain: where the fix removes docker-clean


class ListsLost(NamedTuple):
    """BKM008: `apt-get install` whose package lists were only ever written into a mount."""

    install: Step
    command: Command
    update: Step
    update_mount: ResolvedMount
    own_mount: ResolvedMount | None  # the install RUN's own mount on the lists, if any


class DpkgMount(NamedTuple):
    """BKM008: a mount covering the dpkg database in a RUN that changes packages."""

    ref: MountRef


class Cleanup(NamedTuple):
    """BKM009: a cleanup command that empties a cache mount of its own RUN."""

    step: Step
    command: Command
    ref: MountRef
    what: str  # "`apt-get clean`", for titles
    path: str  # what it empties
    words: tuple[Arg, ...] = ()  # words to drop; empty: remove the whole command
    no_fix: str | None = None
    kind: str = "command"  # "command", "rm" (deletes `path`) or "no-cache" (turns the cache off)
    text: str = ""  # the whole command as written


@dataclass
class Hygiene:
    relative: list[RelativeCache] = field(default_factory=list)
    unscoped: list[UnscopedCache] = field(default_factory=list)
    unlocked: list[UnlockedApt] = field(default_factory=list)
    docker_clean: list[DockerCleanGap] = field(default_factory=list)
    lists_lost: list[ListsLost] = field(default_factory=list)
    dpkg: list[DpkgMount] = field(default_factory=list)
    cleanups: list[Cleanup] = field(default_factory=list)


def hygiene(df: Dockerfile) -> Hygiene:
    """All BKM005-BKM009 facts of `df` (computed once per model)."""
    cached = vars(df).get("_memo_hygiene")
    if cached is None:
        cached = _collect(df)
        vars(df)["_memo_hygiene"] = cached
    return cached


def _collect(df: Dockerfile) -> Hygiene:
    result = Hygiene()
    platform_line = multi_platform_evidence(df)
    for step in run_steps(df):
        for ref in cache_mounts(step):
            relative = _relative(df, ref)
            if relative is not None:
                result.relative.append(relative)
            unscoped = _unscoped(ref, platform_line) if platform_line is not None else None
            if unscoped is not None:
                result.unscoped.append(unscoped)
        unlocked = _unlocked(step)
        if unlocked is not None:
            result.unlocked.append(unlocked)
        result.dpkg.extend(_dpkg(step))
        result.cleanups.extend(_cleanups(step))
    for stage in df.stages:
        result.docker_clean.extend(_docker_clean(stage))
        result.lists_lost.extend(_lists_lost(stage))
    return result


def _relative(df: Dockerfile, ref: MountRef) -> RelativeCache | None:
    mount = ref.resolved.mount
    if written_id(mount) is not None or "target" not in mount.options or mount.target is None:
        return None
    if mount.target.startswith("/"):
        return None
    cache_id = mount.cache_id
    if cache_id is None:
        return None
    output = posixpath.basename(cache_id) in OUTPUT_DIR_NAMES
    return RelativeCache(ref, cache_id, output, _separate_copy_out(df, ref, cache_id))


def _separate_copy_out(df: Dockerfile, ref: MountRef, cache_id: str) -> Step | None:
    for step in run_steps(df):
        if step is ref.step:
            continue
        for other in cache_mounts(step):
            target = other.resolved.target
            if other.resolved.mount.cache_id != cache_id or target is None:
                continue
            for copy in effects_of(step).copy_outs:
                if (
                    any(paths.is_within(s, target) for s in copy.sources)
                    and step.covering_mount(copy.dest) is None
                ):
                    return step
    return None


def _is_apk(target: str) -> bool:
    return paths.is_within(target, "/var/cache/apk") or paths.is_within(target, "/etc/apk/cache")


_OUTPUT_KINDS = {
    "target": OutputKind("a cargo or Maven `target` output dir", "an arm64 image can ship an amd64 binary"),
    "build": OutputKind("a `build` output dir", "one platform's build output can ship in the other's image"),
    ".next": OutputKind(
        "the Next.js `.next` build dir", "one platform's build output can ship in the other's image"
    ),
    "node_modules": OutputKind(
        "installed `node_modules`", "native add-ons built for one platform can ship in the other's image"
    ),
}
_APK_KIND = OutputKind(
    "the apk package cache", "one architecture's package index and packages land in the other's install"
)


def output_kind(target: str) -> OutputKind | None:
    """What kind of output or state dir `target` is, for BKM006 (None: a plain download cache)."""
    if _is_apk(target):
        return _APK_KIND
    return _OUTPUT_KINDS.get(posixpath.basename(target))


def _unscoped(ref: MountRef, platform_line: int) -> UnscopedCache | None:
    """Only under multi-platform intent: without it the platforms cannot mix, and what remains
    (other branches on the same builder) has no id the Dockerfile could name."""
    mount = ref.resolved.mount
    target = ref.resolved.target
    if target is None or mount.from_ is not None:
        # With `from=`, BuildKit keys the cache on that stage's snapshot too, which differs per
        # platform (S6).
        return None
    kind = output_kind(target)
    if kind is None:
        return None
    id_text = written_id(mount)
    if id_text is not None:
        names = variables_in(id_text)
        if names & PLATFORM_SCOPING_ARGS or names - _NON_SEPARATING_ARGS:
            return None
    return UnscopedCache(ref, kind, platform_line, id_text)


def _unlocked(step: Step) -> UnlockedApt | None:
    refs = []
    for ref in cache_mounts(step):
        target = ref.resolved.target
        mount = ref.resolved.mount
        if target is None or "sharing" in mount.unresolved or mount.sharing in ("locked", "private"):
            continue
        if any(paths.is_within(target, d) or paths.is_within(d, target) for d in (APT_CACHE, APT_LIB)):
            refs.append(ref)
    if not refs or not may_run_apt(run_commands(step)):
        return None
    return UnlockedApt(step, tuple(refs))


def archives_mount(step: Step) -> MountRef | None:
    for ref in cache_mounts(step):
        target = ref.resolved.target
        if target is not None and paths.is_within(APT_ARCHIVES, target):
            return ref
    return None


def downloads_debs(step: Step, tools: frozenset[str] = _APT_TOOLS) -> bool:
    """Whether the RUN visibly downloads packages with one of `tools` (apt-get, apt, aptitude)."""
    commands = run_commands(step)
    if commands is None:
        return False
    for command in commands.commands:
        action = apt_action(command)
        tool = posixpath.basename(command.unwrapped()[0].value) if action is not None else ""
        if action is not None and action[0] in _APT_DOWNLOADS and tool in tools:
            return True
    return False


def _handles_docker_clean(step: Step) -> bool:
    if step.keyword == "RUN":
        text = instruction_text(step)
        return any(word in text for word in ("docker-clean", "apt.conf.d", "Keep-Downloaded-Packages"))
    if step.keyword in ("COPY", "ADD") and step.copy is not None and step.copy.dest.value is not None:
        dest = step.resolve(step.copy.dest.value)
        return paths.is_within(dest, "/etc/apt") or paths.is_within("/etc/apt", dest)
    return False


def _docker_clean(stage: Stage) -> Iterator[DockerCleanGap]:
    base = debian_base(stage)
    if base is None:
        return
    chain = stage.chain()
    first: Step | None = None
    for step in chain:
        if _handles_docker_clean(step):
            return
        if step.keyword != "RUN":
            continue
        ref = archives_mount(step)
        if ref is None or not downloads_debs(step):
            continue
        first = first or step
        if step.stage is stage:
            yield DockerCleanGap(ref, base, first)


def _lists_mount(step: Step) -> ResolvedMount | None:
    mount = step.covering_mount(APT_LISTS)
    if mount is not None and mount.mount.type in ("cache", "tmpfs"):
        return mount
    return None


def _lists_lost(stage: Stage) -> Iterator[ListsLost]:
    chain = stage.chain()
    if not any(_lists_mount(step) is not None for step in chain if step.keyword == "RUN"):
        return  # `_last_update` finds nothing: no RUN keeps the lists in a mount
    start = len(chain) - len(stage.steps)
    for position in range(start, len(chain)):
        step = chain[position]
        commands = run_commands(step) if step.keyword == "RUN" else None
        if commands is None:
            continue
        install = next((c for c in commands.commands if _needs_lists(c)), None)
        if install is None or any(updates_lists(c) and c.start < install.start for c in commands.commands):
            continue
        found = _last_update(chain[:position])
        if found is None:
            continue
        update, update_mount = found
        own = _lists_mount(step)
        same = (
            own is not None
            and update_mount.mount.type == "cache"
            and own.mount.type == "cache"
            and own.mount.cache_id is not None
            and own.mount.cache_id == update_mount.mount.cache_id
        )
        if not same:
            yield ListsLost(step, install, update, update_mount, own)


def _needs_lists(command: Command) -> bool:
    action = apt_action(command)
    if action is None or action[0] not in APT_NEEDS_LISTS:
        return False
    packages = action[1]
    # Only local .deb files with no dependencies to resolve would work without lists.
    return not packages or not all(p.value.endswith(".deb") and "/" in p.value for p in packages)


def _last_update(chain: list[Step]) -> tuple[Step, ResolvedMount] | None:
    """The latest RUN before the end of `chain` that updated the lists, if only a mount kept them."""
    for step in reversed(chain):
        if step.keyword in ("COPY", "ADD") and step.copy is not None and step.copy.dest.value is not None:
            if paths.is_within(step.resolve(step.copy.dest.value), APT_LIB):
                return None
            continue
        commands = run_commands(step) if step.keyword == "RUN" else None
        if commands is None or not any(updates_lists(c) for c in commands.commands):
            continue
        mount = _lists_mount(step)
        return (step, mount) if mount is not None else None
    return None


def _dpkg(step: Step) -> Iterator[DpkgMount]:
    refs = [
        MountRef(step, index)
        for index, item in enumerate(step.mounts)
        if item.target is not None
        and item.mount.ephemeral
        and (paths.is_within(DPKG, item.target) or paths.is_within(item.target, DPKG))
    ]
    if not refs:
        return  # checked first: reading the script costs more
    commands = run_commands(step)
    if commands is None or not any(changes_packages(c) for c in commands.commands):
        return
    yield from (DpkgMount(ref) for ref in refs)


# -- BKM009 cleanups -----------------------------------------------------------------------------

# Package-manager and tool cache dirs whose `rm` is a size cleanup, not build-dir surgery.
_CLEANUP_DIRS = (
    APT_LISTS, APT_CACHE, "/var/cache/apk", "/etc/apk/cache", "/var/cache/dnf", "/var/cache/yum",
    "/var/cache/zypp", "/var/cache/libdnf5", "/var/cache/pacman", "/root/.cache", "/root/.npm",
    "/usr/local/share/.cache", "/root/.yarn", "/root/.m2", "/root/.gradle", "/root/.cargo/registry",
    "/root/.cargo/git", "/usr/local/cargo/registry", "/usr/local/cargo/git", "/go/pkg/mod",
    "/root/go/pkg/mod", "/root/.composer/cache", "/root/.local/share/pnpm", "/pnpm/store",
)  # fmt: skip
_PIP = re.compile(r"pip[0-9.]*")
_PYTHON = re.compile(r"python[0-9.]*")


def _cache_ref(step: Step, path: str) -> MountRef | None:
    """The cache mount of `step` that holds `path` (the deepest mount covering it, if a cache)."""
    covering = step.covering_mount(path)
    if covering is None or covering.mount.type != "cache":
        return None
    return MountRef(step, step.mounts.index(covering))


def _cleanups(step: Step) -> Iterator[Cleanup]:
    if not any(True for _ in cache_mounts(step)):
        return
    commands = run_commands(step)
    if commands is None:
        return
    for command in commands.commands:
        args = command.unwrapped()
        if not args:
            continue
        name = posixpath.basename(args[0].value)
        finding: Cleanup | None
        if name == "rm":
            finding = _rm(commands, command, args)
        elif name in _APT_TOOLS:
            finding = _apt_clean(commands, command)
        elif _PIP.fullmatch(name) or (
            _PYTHON.fullmatch(name) and [a.value for a in args[1:3]] == ["-m", "pip"]
        ):
            finding = _pip(commands, command, args)
        else:
            finding = _tool_clean(commands, command, name, args)
        if finding is not None:
            yield finding


def _rm(commands: RunCommands, command: Command, args: tuple[Arg, ...]) -> Cleanup | None:
    step = commands.step
    operands: list[Arg] = []
    options_done = False
    for arg in args[1:]:
        if not options_done and arg.value == "--":
            options_done = True
        elif not options_done and arg.value.startswith("-"):
            continue
        else:
            operands.append(arg)
    hits: list[tuple[Arg, str, MountRef]] = []
    for arg in operands:
        if arg.quoted and paths.has_glob(arg.value):
            continue  # a quoted pattern names one literal file
        path = commands.resolve(command, arg.value)
        if path is None:
            continue
        directory = "/" + "/".join(p for p in _until_glob(paths.parts(path)))
        ref = _cache_ref(step, directory)
        if ref is None or not any(paths.is_within(directory, d) for d in _cleanup_dirs(step)):
            continue
        hits.append((arg, directory, ref))
    if not hits:
        return None
    whole = len(hits) == len(operands)
    shown = " ".join(a.value for a, _, _ in hits)
    return Cleanup(
        step,
        command,
        hits[0][2],
        f"`{commands.script[command.start : command.end]}`" if whole else f"`{shown}` from the `rm`",
        shown,
        () if whole else tuple(a for a, _, _ in hits),
        kind="rm",
        text=commands.script[command.start : command.end],
    )


def _until_glob(parts: Sequence[str]) -> Iterator[str]:
    for part in parts:
        if paths.has_glob(part):
            return
        yield part


def _cleanup_dirs(step: Step) -> tuple[str, ...]:
    home = home_of(step)
    extra = (paths.join(home, ".cache"), paths.join(home, ".npm")) if home and home != "/root" else ()
    return _CLEANUP_DIRS + extra


def _apt_clean(commands: RunCommands, command: Command) -> Cleanup | None:
    action = apt_action(command)
    if action is None or action[0] != "clean":
        return None
    ref = _cache_ref(commands.step, APT_ARCHIVES)
    if ref is None:
        return None
    target = ref.resolved.target or APT_ARCHIVES
    reason = None
    if not paths.is_within(APT_CACHE, target):
        reason = (
            "`apt-get clean` also deletes /var/cache/apt/*.bin, which is outside the mount "
            f"({target}), so it still does work for the image"
        )
    tool = posixpath.basename(command.unwrapped()[0].value)
    return Cleanup(commands.step, command, ref, f"`{tool} clean`", APT_ARCHIVES, (), reason)


def _pip(commands: RunCommands, command: Command, args: tuple[Arg, ...]) -> Cleanup | None:
    step = commands.step
    words = [a.value for a in args]
    if "install" not in words or "--no-cache-dir" not in words:
        return None
    if any(w == "--cache-dir" or w.startswith("--cache-dir=") for w in words):
        return None
    extra = command.assignments
    if any(name in extra for name in ("PIP_NO_CACHE_DIR", "PIP_CACHE_DIR")):
        return None
    cache = _lookup(step.scope, "PIP_CACHE_DIR")
    if cache is None:
        xdg = _lookup(step.scope, "XDG_CACHE_HOME", extra)
        home = home_of(step, extra)
        cache = paths.join(xdg, "pip") if xdg else (paths.join(home, ".cache/pip") if home else None)
    if cache is None:
        return None
    ref = _cache_ref(step, cache)
    if ref is None:
        return None
    flags = tuple(a for a in args if a.value == "--no-cache-dir")
    return Cleanup(step, command, ref, "`--no-cache-dir`", cache, flags, kind="no-cache")


def _tool_clean(commands: RunCommands, command: Command, name: str, args: tuple[Arg, ...]) -> Cleanup | None:
    step = commands.step
    words = [a.value for a in args]
    extra = command.assignments
    home = home_of(step, extra)
    cwd = commands.workdir_of(command)
    candidates: list[str] = []
    whole = True
    if name == "npm" and words[1:3] == ["cache", "clean"]:
        value = _lookup(step.scope, "npm_config_cache", extra) or _lookup(
            step.scope, "NPM_CONFIG_CACHE", extra
        )
        candidates = [value] if value else ([paths.join(home, ".npm")] if home else [])
        what = "`npm cache clean`"
    elif name == "yarn" and words[1:3] == ["cache", "clean"]:
        value = _lookup(step.scope, "YARN_CACHE_FOLDER", extra)
        candidates = [value] if value else ["/usr/local/share/.cache/yarn"]
        if value is None and home:
            candidates += [paths.join(home, ".cache/yarn"), paths.join(home, ".yarn/berry/cache")]
        if value is None and cwd:
            candidates.append(paths.join(cwd, ".yarn/cache"))
        what = "`yarn cache clean`"
    elif name == "pnpm" and words[1:3] == ["store", "prune"]:
        pnpm_home = _lookup(step.scope, "PNPM_HOME", extra)
        candidates = [paths.join(pnpm_home, "store")] if pnpm_home else []
        candidates += ["/pnpm/store"] + ([paths.join(home, ".local/share/pnpm/store")] if home else [])
        candidates += [paths.join(cwd, ".pnpm-store")] if cwd else []
        what = "`pnpm store prune`"
    elif name == "go" and words[1:2] == ["clean"]:
        flags = [w for w in words[2:] if w in ("-cache", "-modcache")]
        dirs = [_go_dir(step, flag, extra, home) for flag in flags]
        covered = [d for d in dirs if d is not None and _cache_ref(step, d) is not None]
        if not covered:
            return None
        ref = _cache_ref(step, covered[0])
        assert ref is not None
        whole = len(covered) == len(dirs) and sorted(words[2:]) == sorted(flags)
        what = f"`go clean {' '.join(flags)}`"
        reason = None if whole else f"{what} also cleans outside the cache mounts, or does more"
        return Cleanup(step, command, ref, what, " and ".join(covered), (), reason)
    elif name == "cargo" and words[1:2] == ["clean"]:
        if any(w in ("-p", "--package") or w.startswith(("--package=", "-p")) for w in words[2:]):
            return None  # a targeted clean forces one crate to rebuild: intentional
        target_dir = _cargo_target_dir(commands, command, words)
        candidates = [target_dir] if target_dir else []
        whole = len(words) == 2
        what = "`cargo clean`"
    else:
        return None
    for candidate in candidates:
        ref = _cache_ref(step, candidate)
        if ref is not None:
            reason = None if whole else f"{what} also does other work in this command"
            return Cleanup(step, command, ref, what, candidate, (), reason)
    return None


def _go_dir(step: Step, flag: str, extra: dict[str, str], home: str | None) -> str | None:
    if flag == "-cache":
        value = _lookup(step.scope, "GOCACHE", extra)
        if value:
            return value
        xdg = _lookup(step.scope, "XDG_CACHE_HOME", extra)
        if xdg:
            return paths.join(xdg, "go-build")
        return paths.join(home, ".cache/go-build") if home else None
    value = _lookup(step.scope, "GOMODCACHE", extra)
    if value:
        return value
    gopath = _lookup(step.scope, "GOPATH", extra)
    if gopath:
        return paths.join(gopath.split(":", 1)[0], "pkg/mod")
    return paths.join(home, "go/pkg/mod") if home else None


def _cargo_target_dir(commands: RunCommands, command: Command, words: list[str]) -> str | None:
    for position, word in enumerate(words):
        if word == "--target-dir" and position + 1 < len(words):
            return commands.resolve(command, words[position + 1])
        if word.startswith("--target-dir="):
            return commands.resolve(command, word.split("=", 1)[1])
    value = _lookup(commands.step.scope, "CARGO_TARGET_DIR", command.assignments)
    if value:
        return commands.resolve(command, value)
    if any(w.startswith("--manifest-path") for w in words):
        return None
    cwd = commands.workdir_of(command)
    return paths.join(cwd, "target") if cwd else None
