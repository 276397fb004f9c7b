"""Where tools keep their executables and their caches, as far as a Dockerfile shows it.

Three kinds of facts:

* who runs a step: root or not (`USER`), and the numeric uid/gid when the Dockerfile says so;
* directories that are already full before a RUN: what official base images ship
  (docker-library and rust-lang Dockerfiles), the system directories of any Linux userland, and
  what earlier RUNs installed (rustup, virtual environments, `go install`, `cargo install`);
* the cache directory a tool really uses at a step, following its environment variables, `HOME`
  and the user, so a cache mount elsewhere can be told apart.

Values are never guessed: where the Dockerfile does not determine a directory the answer is None.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import NamedTuple

from bot.analysis.effects import effects_of, run_script
from bot.dockerfile import paths
from bot.dockerfile.images import image_repository
from bot.dockerfile.model import Stage, Step
from bot.dockerfile.shell import SimpleCommand

# -- users ------------------------------------------------------------------------------------------


class RunAs(NamedTuple):
    user: str  # the user part of USER, expanded
    group: str | None  # the group part, when written

    @property
    def root(self) -> bool:
        return self.user in ("root", "0")

    @property
    def uid(self) -> int | None:
        return int(self.user) if self.user.isdigit() else None

    @property
    def gid(self) -> int | None:
        return int(self.group) if self.group is not None and self.group.isdigit() else None


def run_as(step: Step) -> RunAs | None:
    """The user a step runs as, when the Dockerfile says so; None for the default (root, unless an
    unknown base image set another) or a USER whose value is unknown."""
    if not step.user_known or step.user is None or not step.user.strip():
        return None
    user, colon, group = step.user.strip().partition(":")
    return RunAs(user, group if colon else None)


def is_non_root(step: Step) -> bool:
    who = run_as(step)
    return who is not None and not who.root


def runs_as_root(step: Step) -> bool:
    """True when the step runs as root as far as the Dockerfile shows (no USER, or USER root/0)."""
    if not step.user_known:
        return False
    who = run_as(step)
    return who is None or who.root


# -- stages -----------------------------------------------------------------------------------------


def root_image(stage: Stage) -> str | None:
    """The image the stage's chain starts from (its own FROM, or its first ancestor's)."""
    seen: list[Stage] = []
    current: Stage | None = stage
    while current is not None and current not in seen:
        seen.append(current)
        if current.parent is None:
            return current.base
        current = current.parent
    return None


# -- populated directories --------------------------------------------------------------------------


class Populated(NamedTuple):
    path: str  # a directory that holds executables or data before the RUN
    what: str  # "cargo and rustc"
    origin: str  # "the rust base image", "the RUN on line 4"
    cargo_home: str | None = None  # set when `path` is CARGO_HOME/bin: the CARGO_HOME
    line: int | None = None  # the RUN that filled it, when it was not the base image


_RUST = (
    Populated("/usr/local/cargo/bin", "cargo, rustc and rustup", "", "/usr/local/cargo"),
    Populated("/usr/local/rustup/toolchains", "the installed Rust toolchains", ""),
)
_LOCAL_RUNTIME = "/usr/local/bin"
# From the images' own Dockerfiles: rust-lang/docker-rust, docker-library/{golang,node,python,ruby,
# php,gradle}, adoptium/containers, oven-sh/bun.
_IMAGE_DIRS: dict[str, tuple[Populated, ...]] = {
    "rust": _RUST,
    "lukemathwalker/cargo-chef": _RUST,  # built FROM rust
    "golang": (
        Populated("/usr/local/go/bin", "the go command", ""),
        Populated("/usr/local/go/pkg/tool", "the Go compiler and linker", ""),
    ),
    "node": (
        Populated(_LOCAL_RUNTIME, "node, npm and npx", ""),
        Populated("/usr/local/lib/node_modules", "npm and corepack", ""),
    ),
    "python": (
        Populated(_LOCAL_RUNTIME, "python and pip", ""),
        Populated("/usr/local/lib", "the Python standard library", ""),
    ),
    "ruby": (
        Populated(_LOCAL_RUNTIME, "ruby, gem and bundle", ""),
        Populated("/usr/local/lib", "the Ruby standard library", ""),
    ),
    "php": (
        Populated(_LOCAL_RUNTIME, "php", ""),
        Populated("/usr/local/lib/php", "the PHP extensions", ""),
    ),
    "eclipse-temurin": (Populated("/opt/java/openjdk", "the JDK", ""),),
    "gradle": (
        Populated("/opt/gradle", "Gradle", ""),
        Populated("/opt/java/openjdk", "the JDK", ""),
    ),
    "oven/bun": (Populated(_LOCAL_RUNTIME, "bun", ""),),
}
# Every Linux userland has these (scratch has nothing).
_SYSTEM_DIRS = (
    Populated("/usr/bin", "the system's programs", "part of any Linux base image"),
    Populated("/usr/sbin", "the system's programs", "part of any Linux base image"),
    Populated("/usr/lib", "the system's libraries", "part of any Linux base image"),
    Populated("/bin", "the system's programs", "part of any Linux base image"),
    Populated("/sbin", "the system's programs", "part of any Linux base image"),
    Populated("/lib", "the system's libraries", "part of any Linux base image"),
    Populated("/etc", "the system's configuration", "part of any Linux base image"),
)


def image_populated(stage: Stage) -> list[Populated]:
    """Directories the stage's base image fills."""
    image = root_image(stage)
    if image is None:
        return []
    if image == "scratch":
        return []
    repository = image_repository(image)
    found = [
        Populated(p.path, p.what, f"shipped by the {repository} base image", p.cargo_home)
        for p in _IMAGE_DIRS.get(repository, ())
    ]
    return found + list(_SYSTEM_DIRS)


_VENV = re.compile(r"^(python[0-9.]*|pypy[0-9.]*)$")
_RUSTUP_INSTALL = ("sh.rustup.rs", "rustup-init", "rustup.rs")


def run_populated(chain: list[Step]) -> list[Populated]:
    """Directories earlier RUNs filled with programs, in the layer (not under a mount)."""
    found: list[Populated] = []
    for step in chain:
        if step.keyword != "RUN":
            continue
        origin = f"put there by the RUN on line {step.line}"
        for path, what, cargo_home in _installs(step):
            mount = step.covering_mount(path)
            if mount is not None and mount.mount.ephemeral:
                continue
            found.append(Populated(path, what, origin, cargo_home, step.line))
    return found


def _installs(step: Step) -> list[tuple[str, str, str | None]]:
    cached = vars(step).get("_memo_installs")
    if cached is None:
        cached = _scan_installs(step)
        vars(step)["_memo_installs"] = cached
    return cached


def _scan_installs(step: Step) -> list[tuple[str, str, str | None]]:
    effects = effects_of(step)
    result: list[tuple[str, str, str | None]] = []
    script = run_script(step)
    if any(marker in script for marker in _RUSTUP_INSTALL) and "CARGO_HOME" not in script:
        home = _rustup_home(step, "CARGO_HOME", ".cargo")
        if home is not None:
            result.append((paths.join(home, "bin"), "cargo and rustc installed by rustup", home))
        toolchains = _rustup_home(step, "RUSTUP_HOME", ".rustup")
        if toolchains is not None and "RUSTUP_HOME" not in script:
            result.append(
                (paths.join(toolchains, "toolchains"), "the Rust toolchains installed by rustup", None)
            )
    for command in effects.commands:
        venv = _venv_dir(command)
        if venv is not None:
            value = _literal(venv)
            if value is not None:
                cwd = step.workdir.path if command.cwd is None else None
                if value.startswith("/") or cwd is not None:
                    result.append(
                        (
                            paths.join(paths.join(cwd or "/", value), "bin"),
                            "the python and pip of a virtual environment",
                            None,
                        )
                    )
    for output in effects.outputs:
        if output.tool in ("go install", "cargo install"):
            result.append((output.path, f"programs installed by `{output.tool}`", None))
    return result


def _rustup_home(step: Step, variable: str, default: str) -> str | None:
    known, value = step.scope.lookup(variable)
    if known and value:
        return value if value.startswith("/") else None
    if variable in step.scope.values:
        return None  # declared without a known value
    home = _home(step)
    return paths.join(home, default) if home is not None else None


def _venv_dir(command: SimpleCommand) -> str | None:
    words = command.words
    operands: list[str]
    if (
        _VENV.match(command.name)
        and len(words) > 3
        and words[1] == "-m"
        and words[2] in ("venv", "virtualenv")
    ):
        operands = [w for w in words[3:] if not w.startswith("-")]
    elif command.name == "virtualenv":
        operands = [w for w in words[1:] if not w.startswith("-")]
    elif command.name == "uv" and len(words) > 1 and words[1] == "venv":
        operands = [w for w in words[2:] if not w.startswith("-")] or [".venv"]
        if any(w in ("-p", "--python", "--prompt") for w in words[2:]):
            return None  # an option that takes a value: the operands are ambiguous
    else:
        return None
    return operands[0] if len(operands) == 1 else None


def _literal(word: str) -> str | None:
    return None if "$" in word or "`" in word else word


# -- homes and tool caches --------------------------------------------------------------------------


def _home(step: Step) -> str | None:
    """HOME at a step when it is known: ENV HOME, else /root for root. None otherwise."""
    known, value = step.scope.lookup("HOME")
    if known and value:
        return value if value.startswith("/") else None
    if "HOME" in step.scope.values:
        return None
    return "/root" if runs_as_root(step) else None


class ToolCache(NamedTuple):
    key: str
    label: str  # "the Go build cache"
    tool: str  # "go"
    variables: tuple[str, ...]  # environment variables that move it, first wins
    home_default: str  # its place under $HOME
    xdg: str | None  # its place under $XDG_CACHE_HOME, when it follows XDG
    uses: Callable[[SimpleCommand], bool]
    pure: bool  # only speeds things up: nothing later relies on its content


_GO_BUILDS = frozenset({"build", "test", "install", "run", "vet"})
_GO_MODULES = _GO_BUILDS | {"mod", "get", "list"}


def _go(subcommands: frozenset[str]) -> Callable[[SimpleCommand], bool]:
    return lambda c: c.name == "go" and len(c.words) > 1 and c.words[1] in subcommands


def _pip(command: SimpleCommand) -> bool:
    words = command.words
    if re.match(r"^pip[0-9.]*$", command.name):
        return "install" in words[1:2] or "download" in words[1:2] or "wheel" in words[1:2]
    return bool(_VENV.match(command.name)) and words[1:4] == ("-m", "pip", "install")


TOOL_CACHES: tuple[ToolCache, ...] = (
    ToolCache("go-build", "the Go build cache", "go", ("GOCACHE",), ".cache/go-build", "go-build",
              _go(_GO_BUILDS), pure=True),
    ToolCache("go-mod", "the Go module cache", "go", ("GOMODCACHE",), "go/pkg/mod", None,
              _go(_GO_MODULES), pure=False),
    ToolCache("pip", "pip's cache", "pip", ("PIP_CACHE_DIR",), ".cache/pip", "pip", _pip, pure=True),
    ToolCache("uv", "uv's cache", "uv", ("UV_CACHE_DIR",), ".cache/uv", "uv",
              lambda c: c.name == "uv", pure=False),
    ToolCache("npm", "npm's cache", "npm", ("npm_config_cache", "NPM_CONFIG_CACHE"), ".npm", None,
              lambda c: c.name == "npm" and any(w in ("ci", "install", "i") for w in c.words[1:2]),
              pure=True),
    ToolCache("maven", "Maven's local repository", "mvn", (), ".m2", None,
              lambda c: c.name in ("mvn", "mvnw"), pure=False),
    ToolCache("gradle", "Gradle's user home", "gradle", ("GRADLE_USER_HOME",), ".gradle", None,
              lambda c: c.name in ("gradle", "gradlew"), pure=False),
    ToolCache("cargo", "its registry and git caches (in CARGO_HOME)", "cargo", ("CARGO_HOME",), ".cargo",
              None, lambda c: c.name == "cargo", pure=False),
)  # fmt: skip
# Command-line options that move a cache; when present, the rule cannot tell where it is.
_OVERRIDE_OPTIONS = {
    "npm": ("--cache",),
    "maven": ("-Dmaven.repo.local", "-s", "--settings", "-gs"),
    "gradle": ("-g", "--gradle-user-home"),
    "pip": ("--cache-dir", "--no-cache-dir"),
    "uv": ("--cache-dir", "--no-cache"),
    "go-mod": ("-modcacherw",),
}


class CacheDir(NamedTuple):
    """Where a tool's cache is at one command: `path` when known; `described` always."""

    cache: ToolCache
    path: str | None  # absolute, when the Dockerfile determines it
    described: str  # "/usr/local/cargo (CARGO_HOME)", "$HOME/.cache/go-build of USER app"
    because: str  # why it is there: "GOCACHE is set", "USER app is not root"


def tool_cache_dir(
    step: Step, command: SimpleCommand, cache: ToolCache, *, strict: bool = False
) -> CacheDir | None:
    """Where `cache` is for `command` in `step`; None when that cannot be told.

    With `strict`, a variable that neither the Dockerfile nor a known base image sets is unknown
    (the answer is None); otherwise it is taken as unset.
    """
    script = run_script(step)
    overrides = _OVERRIDE_OPTIONS.get(cache.key, ())
    if any(
        w == o or w.startswith(o + "=") or (o.startswith("-D") and w.startswith(o))
        for w in command.words
        for o in overrides
    ):
        return None
    for variable in (*cache.variables, *(("XDG_CACHE_HOME",) if cache.xdg else ()), "HOME", "GOPATH"):
        # A variable the script sets itself (other than on this command) is not followed.
        if re.search(rf"(?<![\w$]){variable}=", script) and variable not in command.assignments:
            return None
    for variable in cache.variables:
        value = _variable(step, command, variable, strict=strict)
        if value is _UNKNOWN:
            return None
        if isinstance(value, str) and value:
            if not value.startswith("/"):
                return None
            return CacheDir(cache, paths.clean(value), paths.clean(value), f"{variable} is {value}")
    if cache.key == "go-mod":
        gopath = _variable(step, command, "GOPATH", strict=strict)
        if gopath is _UNKNOWN:
            return None
        if isinstance(gopath, str) and gopath:
            first = gopath.split(":", 1)[0]
            if not first.startswith("/"):
                return None
            where = paths.join(first, "pkg/mod")
            return CacheDir(cache, where, f"{where} (GOPATH/pkg/mod)", f"GOPATH is {gopath}")
    if cache.xdg is not None:
        xdg = _variable(step, command, "XDG_CACHE_HOME", strict=strict)
        if xdg is _UNKNOWN:
            return None
        if isinstance(xdg, str) and xdg:
            if not xdg.startswith("/"):
                return None
            where = paths.join(xdg, cache.xdg)
            return CacheDir(cache, where, f"{where} (XDG_CACHE_HOME/{cache.xdg})", "XDG_CACHE_HOME is set")
    home = _variable(step, command, "HOME", strict=strict)
    if home is _UNKNOWN:
        return None
    if isinstance(home, str) and home:
        if not home.startswith("/"):
            return None
        where = paths.join(home, cache.home_default)
        return CacheDir(cache, where, f"{where} ($HOME/{cache.home_default})", f"HOME is {home}")
    if not step.user_known:
        return None
    who = run_as(step)
    if who is None or who.root:
        where = paths.join("/root", cache.home_default)
        return CacheDir(cache, where, where, "the RUN runs as root")
    return CacheDir(
        cache,
        None,
        f"$HOME/{cache.home_default} in the home directory of USER {step.user}",
        f"USER {step.user} is not root",
    )


class _Unknown:
    pass


_UNKNOWN = _Unknown()


def _variable(step: Step, command: SimpleCommand, name: str, *, strict: bool) -> str | _Unknown | None:
    """A variable's value for `command`: a string, None when unset, _UNKNOWN when not determined.

    Unless `strict`, variables that neither the Dockerfile nor a known base image sets are taken
    as unset: base images rarely set these, and where they do the finding is information only.
    """
    if name in command.assignments:
        raw = command.assignments[name]
        return _UNKNOWN if "$" in raw or "`" in raw else raw
    if name in step.scope.values:
        value = step.scope.values[name]
        return _UNKNOWN if value is None else value
    if strict and not step.scope.complete:
        return _UNKNOWN
    return None
