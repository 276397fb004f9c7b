"""## What it does
Finds a cache mount on the directory a package manager *installs into*, in the `RUN` that installs
there:

- `node_modules` (`npm ci`, `yarn`, `pnpm install`, `bun install`), and `node_modules/.prisma`
  around `prisma generate`;
- a virtual environment (`.venv`, `venv`, or `$VIRTUAL_ENV` / `$UV_PROJECT_ENVIRONMENT`) that
  `uv sync`, `python -m venv`, `pip install` ... fill, and `site-packages` / `dist-packages`;
- `vendor` (`composer install`, `go mod vendor`) and `vendor/bundle` (`bundle install`);
- the `bin` directory of `go install` (`/go/bin`, or all of `/go`), of `cargo install`
  (`$CARGO_HOME/bin`, or all of `$CARGO_HOME`), and `/root/.local` for `pip install --user`,
  `pipx install` and `uv tool install`.

It also finds installs that link the installed tree *into* the cache, so the tree in the layer
points at files that are not there once the `RUN` ends: `uv` with `UV_LINK_MODE=symlink` (or
`--link-mode symlink`) and its cache mounted, Yarn ≥ 4 with its global cache mounted
(`enableGlobalCache` is on by default; Plug'n'Play maps then point into it), and `renv::restore()`
with the renv cache mounted (renv links the project library to its cache on Linux).

## Why is this bad?
A cache mount is not part of the image: the packages land in the cache and the layer keeps an
empty (or stale) directory. The next `RUN npm run build` fails with "Cannot find module", the
container fails the same way at start, and `COPY --from=deps /app/node_modules` copies nothing.
Caches are for the package manager's *download* cache (`/root/.npm`, `/root/.cache/pip`,
`/root/.cache/uv`, `/go/pkg/mod`, `$CARGO_HOME/registry`), never for the installed tree.

Severity:
- **error** when something needs the tree later: a later `RUN` without that cache that runs the
  ecosystem's tools in the project (`npm run build`, `node`, `uv run`, `php`, an installed tool's
  name ...) or reads a path in it, a `COPY --from` or `--mount=from=` of it (or of the project
  directory holding it), the final image's `CMD`/`ENTRYPOINT`/`HEALTHCHECK`, or its `ENV PATH`;
- **warning** when the same `RUN` already uses the tree (install + build) and the only later need
  is a tool run (`CMD ["node", "dist/main.js"]`): the build product may be self-contained;
- **info** when nothing visibly needs it (for example a later `RUN` mounts the same cache again:
  that works only while the cache survives, see `copy-out-in-separate-run`), and always for Yarn and
  renv, whose linking depends on settings a Dockerfile does not show (`nodeLinker` in
  `.yarnrc.yml`, the Yarn version, renv options). renv's own Docker guide suggests a cache mount on
  `/root/.cache/R/renv/cache` around `renv::restore()`, while renv links the library into its cache
  on Linux by default (`renv_cache_config_symlinks_default`) and rstudio/renv#839 reports the broken
  links: until that is settled this stays at info.

Not reported: an install whose whole job finishes in the same `RUN`, that is the install is
followed there by the step that uses it and nothing later needs the tree (install + build + keep
only `dist/`); caches *inside* a tree (`node_modules/.cache`, `node_modules/.vite`,
`.next/cache`), which are genuine caches; a cache on such a directory in a `RUN` that does not
install into it; `$CARGO_HOME` or `/go` as a whole without `cargo install` / `go install` (hiding
the toolchain is `cache-over-toolchain-or-populated-dir`'s business). A later `COPY . .` of the
build context is not taken to bring the tree back unless the known `.dockerignore` keeps it: the
Dockerfile installs the tree itself. Not covered yet: `.m2/repository` used as a runtime classpath.

## Example
```dockerfile
FROM node:20
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/app/node_modules npm ci
COPY . .
CMD ["node", "server.js"]
```

Use instead:
```dockerfile
FROM node:20
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci
COPY . .
CMD ["node", "server.js"]
```

## Fix
For `npm ci` / `npm install` into `node_modules`: mounts npm's own cache instead
(`--mount=type=cache,target=/root/.npm`), or just drops the `node_modules` mount when `/root/.npm`
is already mounted, so the packages land in the layer. Offered only when the `RUN` runs as root
with `HOME` and `npm_config_cache` unchanged, no other `RUN` built on it mounts anything over
`node_modules`, no other mount of that `RUN` covers it, and the `--mount` flag sits on one line
without quotes.

For `UV_LINK_MODE=symlink`: sets it to `copy` where it is written (the `ENV`, the inline
assignment, or `--link-mode`), which uv's Docker guide recommends with a cache mount.

No fix for the other trees: which cache directory the tool really uses (and whether the install
should move to another stage) depends on settings the Dockerfile does not show.

## References
- [moby/buildkit#2147](https://github.com/moby/buildkit/issues/2147): a cache on `/app/node_modules`
  leaves "node_modules exists, but is empty"
- [yarnpkg/berry#6499](https://github.com/yarnpkg/berry/issues/6499): a `RUN --mount` cache is "not
  available when running the container"; use `YARN_ENABLE_GLOBAL_CACHE=false`
- [docker/buildx#260](https://github.com/docker/buildx/issues/260) and
  [rstudio/renv#839](https://github.com/rstudio/renv/issues/839): the "library's symlinks to the cache
  are all broken"
- [uv: using uv in Docker](https://docs.astral.sh/uv/guides/integration/docker/#caching):
  `UV_LINK_MODE=copy` with a cache mount
- [Docker docs: use cache mounts](https://docs.docker.com/build/cache/optimize/#use-cache-mounts): mount
  the package managers' caches (`/root/.npm`, `/root/.cache/pip`, `/go/pkg/mod`)
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Iterator
from typing import NamedTuple

from bot.analysis import Analysis
from bot.analysis.dockerignore import DockerIgnore
from bot.analysis.effects import effects_of
from bot.analysis.memo import memo
from bot.analysis.mount_readers import (
    CacheKey,
    cache_key,
    command_cwd,
    descendants,
    equivalent_mount,
    explicit_non_root,
    later_positions,
    mount_keys,
    next_path_entries,
    path_entries,
    run_reads,
    runs_as_root,
    runtime_commands,
    runtime_reads,
)
from bot.dockerfile import paths
from bot.dockerfile.flags import Flag
from bot.dockerfile.model import Dockerfile, ResolvedMount, Stage, Step
from bot.dockerfile.shell import SimpleCommand
from bot.dockerfile.words import expand
from bot.fixes.text_edit import NoFix
from bot.rules.base import Edit, Finding, Fix, FixAvailability, Rule, Severity

_NODE_TOOLS = frozenset(
    {"node", "nodejs", "npm", "npx", "yarn", "pnpm", "pnpx", "bun", "bunx", "tsc", "tsx", "ts-node", "next",
     "nuxt", "vite", "nest", "ng", "webpack", "rollup", "esbuild", "jest", "vitest", "prisma", "remix",
     "astro", "gatsby", "react-scripts", "serve", "pm2", "pm2-runtime", "nodemon", "vue-cli-service"}
)  # fmt: skip
_PYTHON = re.compile(r"^(python[0-9.]*|pypy[0-9.]*)$")
_PYTHON_TOOLS = frozenset(
    {"gunicorn", "uvicorn", "celery", "flask", "django-admin", "pytest", "hypercorn", "daphne", "streamlit",
     "jupyter", "fastapi", "alembic", "granian"}
)  # fmt: skip
_PHP_TOOLS = frozenset({"php", "php-fpm", "artisan", "apache2-foreground", "frankenphp", "rr", "phpunit"})
_RUBY_TOOLS = frozenset({"bundle", "rails", "ruby", "puma", "rake", "rackup", "unicorn", "sidekiq"})
_R_TOOLS = frozenset({"R", "Rscript"})
_FALSE = frozenset({"false", "0", "no", "off", "FALSE", "False"})
# Options of `cargo install` that take a value (so the word after them is not a crate name).
_CARGO_INSTALL_VALUES = frozenset(
    {"--version", "--vers", "--git", "--branch", "--tag", "--rev", "--path", "--root", "--index",
     "--registry", "--features", "-F", "--target", "--target-dir", "--profile", "-j", "--jobs", "--bin",
     "--example", "--config", "-Z", "--color"}
)  # fmt: skip


class _Tree(NamedTuple):
    """A cache mount that holds, or is linked from, what a RUN installs."""

    run: Step
    mount: ResolvedMount
    kind: str
    tree: str  # the installed tree (under the mount, or in the layer for linking installs)
    installer: SimpleCommand
    label: str  # "`npm ci` installs the packages into /app/node_modules"
    project: str  # the directory whose tools use the tree
    uses: Callable[[SimpleCommand, str, list[str]], bool]  # (command, cwd, PATH entries) -> uses it
    in_mount: bool  # the tree itself lives in the mount (else it links into it)
    cap: Severity = Severity.ERROR


class _Evidence(NamedTuple):
    line: int
    text: str
    by_path: bool = True  # names a path in the tree (False: runs a tool that would use it)


def check(analysis: Analysis) -> Iterator[Finding]:
    df = analysis.dockerfile
    for stage in df.stages:
        for step in stage.steps:
            if step.keyword != "RUN":
                continue
            for tree in _trees(df, step):
                evidence = _evidence(analysis, tree)
                same_run = _used_in_same_run(df, tree)
                if not evidence and same_run:
                    continue
                if not evidence:
                    severity = Severity.INFO
                elif same_run and not any(e.by_path for e in evidence):
                    # Built in the same RUN; the product may not need the tree at all (a bundle).
                    severity = Severity.WARNING
                else:
                    severity = Severity.ERROR
                severity = min(severity, tree.cap)
                fix, reason = _fix(df, tree)
                yield RULE.finding(
                    step.line,
                    _message(df, tree, evidence),
                    end_line=step.instruction.end_line,
                    severity=severity,
                    fix=fix,
                    no_fix_reason=reason,
                    related_lines=tuple(sorted({e.line for e in evidence})),
                )


# -- what is installed where ------------------------------------------------------------------------


def _trees(df: Dockerfile, run: Step) -> Iterator[_Tree]:
    effects = effects_of(run)
    entries = _entries_before(run, df.escape)
    for mount in run.mounts:
        if mount.mount.type != "cache" or mount.target is None:
            continue
        target = mount.target
        for command in effects.commands:
            cwd = command_cwd(run, command)
            if cwd is None:
                continue
            tree = _installs_into(run, command, cwd, target, entries)
            if tree is not None:
                yield _with(tree, run, mount, command)
                break


def _entries_before(run: Step, escape: str) -> list[str]:
    """`path_entries` of the chain before `run` (its PATH directories), from one pass over the
    stage's chain: recomputing them for every RUN would cost time quadratic in the stage's length."""

    def table() -> dict[Step, list[tuple[Step, str]]]:
        found: dict[Step, list[tuple[Step, str]]] = {}
        entries: list[tuple[Step, str]] = []
        for step in run.stage.chain():
            found[step] = entries
            entries = next_path_entries(entries, step, escape)
        return found

    return [path for _, path in memo(run.stage, "bkm003_path_entries", table)[run]]


class _Found(NamedTuple):
    kind: str
    tree: str
    label: str
    project: str
    uses: Callable[[SimpleCommand, str, list[str]], bool]
    in_mount: bool = True
    cap: Severity = Severity.ERROR


def _with(found: _Found, run: Step, mount: ResolvedMount, command: SimpleCommand) -> _Tree:
    return _Tree(
        run, mount, found.kind, found.tree, command, found.label, found.project, found.uses,
        found.in_mount, found.cap,
    )  # fmt: skip


def _installs_into(
    run: Step, command: SimpleCommand, cwd: str, target: str, entries: list[str]
) -> _Found | None:
    words = command.words
    name = command.name
    sub = _subcommand(words)
    base = posixpath.basename(target)
    env = _Env(run, command)
    shown = " ".join(words[:2]) if sub else name

    # node_modules
    if base == "node_modules" and _node_install(name, sub, words):
        prefix = _option(words, "--prefix", "--dir", "-C")
        project = paths.join(cwd, prefix) if prefix else cwd
        if paths.join(project, "node_modules") == target:
            return _Found(
                "node_modules", target, f"`{shown}` installs the packages into {target}", project,
                _node_user(project),
            )  # fmt: skip
    prisma = base == ".prisma" and posixpath.basename(posixpath.dirname(target)) == "node_modules"
    if prisma and "prisma" in words and "generate" in words:
        project = posixpath.dirname(posixpath.dirname(target))
        if paths.is_within(cwd, project):
            return _Found(
                "prisma", target, f"`prisma generate` writes the Prisma client into {target}", project,
                _node_user(project),
            )  # fmt: skip

    # Python virtual environments and site-packages
    venv_names = {v for v in (env.get("VIRTUAL_ENV"), env.get("UV_PROJECT_ENVIRONMENT")) if v}
    is_venv = base in (".venv", "venv") or any(paths.join(cwd, v) == target for v in venv_names)
    if is_venv and _venv_install(command, cwd, target, env, entries):
        project = posixpath.dirname(target)
        return _Found(
            "venv", target, f"`{shown}` installs into the virtual environment {target}", project,
            _venv_user(target, project),
        )  # fmt: skip
    if base in ("site-packages", "dist-packages") and _pip_install(name, words):
        return _Found(
            "site-packages", target, f"`{shown}` installs the packages into {target}", "/", _python_user,
        )  # fmt: skip
    if _pip_install(name, words) and (
        "--user" in words or (env.get("PIP_USER") or "").lower() in ("1", "true", "yes", "on")
    ):
        local = _user_local(run, env)
        if local is not None and paths.is_within(local, target):
            return _Found(
                "user-site", local, f"`pip install --user` installs into {local}", "/", _python_user,
            )  # fmt: skip
    if (name == "pipx" and sub == "install") or (name == "uv" and words[1:3] == ("tool", "install")):
        local = _user_local(run, env)
        tools = _named_tools(words[3:] if name == "uv" else words[2:])
        if local is not None and paths.is_within(paths.join(local, "bin"), target):
            return _Found(
                "user-site", local, f"`{' '.join(words[:3])}` installs its tools into {local}/bin", "/",
                _tool_user(tools),
            )  # fmt: skip

    # vendor trees
    composer = name == "composer" and sub in ("install", "update", "require")
    go_vendor = name == "go" and words[1:3] == ("mod", "vendor")
    if base == "vendor" and (composer or go_vendor) and paths.join(cwd, "vendor") == target:
        uses = _php_user(cwd) if composer else _go_vendor_user(cwd)
        what = "the PHP packages" if composer else "the Go modules"
        return _Found("vendor", target, f"`{shown}` puts {what} into {target}", cwd, uses)
    if target.endswith("/vendor/bundle") and name == "bundle" and sub in ("install", ""):
        project = posixpath.dirname(posixpath.dirname(target))
        if paths.is_within(cwd, project):
            return _Found(
                "vendor", target, f"`bundle install` installs the gems into {target}", project,
                _ruby_user(project),
            )  # fmt: skip

    # binaries of go install / cargo install
    if name == "go" and sub == "install":
        for output in effects_of(run).outputs:
            if output.tool == "go install" and paths.is_within(output.path, target):
                tools = _go_tools(words[2:])
                return _Found(
                    "bin", output.path, f"`go install` puts {_tool_list(tools)} into {output.path}", "/",
                    _tool_user(tools),
                )  # fmt: skip
    if name == "cargo" and sub == "install":
        for output in effects_of(run).outputs:
            if output.tool.startswith("cargo install") and paths.is_within(output.path, target):
                tools = _cargo_tools(words[2:])
                return _Found(
                    "bin", output.path, f"`cargo install` puts {_tool_list(tools)} into {output.path}", "/",
                    _tool_user(tools),
                )  # fmt: skip

    # installs that link into the cache
    if name == "uv" and (sub == "sync" or words[1:3] in (("pip", "install"), ("pip", "sync"))):
        link_mode = _option(words, "--link-mode") or env.get("UV_LINK_MODE")
        cache = env.get("UV_CACHE_DIR") or _home_path(run, env, ".cache/uv")
        if link_mode == "symlink" and cache is not None and paths.is_within(paths.join(cwd, cache), target):
            venv = env.get("UV_PROJECT_ENVIRONMENT") or env.get("VIRTUAL_ENV") or ".venv"
            tree = paths.join(cwd, venv)
            return _Found(
                "uv-symlink", tree,
                f"`{shown}` with UV_LINK_MODE=symlink fills {tree} with links into the uv cache at {target}",
                cwd, _venv_user(tree, cwd), in_mount=False,
            )  # fmt: skip
    if name == "yarn" and sub in ("install", "") and _yarn_berry(run, words, env):
        folder = env.get("YARN_GLOBAL_FOLDER") or _home_path(run, env, ".yarn/berry")
        disabled = env.get("YARN_ENABLE_GLOBAL_CACHE", "") in _FALSE
        node_modules = env.get("YARN_NODE_LINKER") in ("node-modules", "pnpm")
        if folder is not None and not disabled and not node_modules:
            cache = paths.join(paths.join(cwd, folder), "cache")
            if paths.is_within(cache, target) or paths.is_within(target, cache):
                return _Found(
                    "yarn", cwd,
                    f"Yarn ≥ 4 keeps the packages in its global cache at {cache} (enableGlobalCache is on by "
                    "default) and, with Plug'n'Play, the project only points there",
                    cwd, _node_user(cwd), in_mount=False, cap=Severity.INFO,
                )  # fmt: skip
    if any("renv::restore" in w or "renv::install" in w for w in words):
        cache = env.get("RENV_PATHS_CACHE") or _home_path(run, env, ".cache/R/renv")
        symlinks = env.get("RENV_CONFIG_CACHE_SYMLINKS", "")
        if (
            cache is not None
            and symlinks not in _FALSE
            and (
                paths.is_within(paths.join(cwd, cache), target)
                or paths.is_within(target, paths.join(cwd, cache))
            )
        ):
            return _Found(
                "renv", cwd,
                f"`renv::restore()` installs into the renv cache at {target} and links the project library "
                "to it (symlinks are renv's default on Linux)",
                cwd, _r_user(cwd), in_mount=False, cap=Severity.INFO,
            )  # fmt: skip
    return None


class _Env:
    """Variables a command sees: its inline assignments, then the step's ARG/ENV scope."""

    def __init__(self, step: Step, command: SimpleCommand) -> None:
        self.step = step
        self.command = command

    def get(self, name: str, default: str | None = None) -> str | None:
        if name in self.command.assignments:
            raw = self.command.assignments[name]
            value = expand(raw, self.step.scope, dequote=False) if "$" in raw else raw
            return value if value is not None else default
        known, value = self.step.scope.lookup(name)
        return value if known and value is not None else default


def _subcommand(words: tuple[str, ...]) -> str:
    return next((w for w in words[1:] if not w.startswith("-")), "")


def _option(words: tuple[str, ...], *names: str) -> str | None:
    for index, word in enumerate(words):
        for name in names:
            if word == name and index + 1 < len(words):
                return words[index + 1]
            if word.startswith(name + "="):
                return word[len(name) + 1 :]
    return None


def _node_install(name: str, sub: str, words: tuple[str, ...]) -> bool:
    """A local install into the project's node_modules (not `npm install -g`)."""
    if not _node_installs_anything(name, sub):
        return False
    return not any(w in ("-g", "--global", "--location=global") for w in words)


def _node_installs_anything(name: str, sub: str) -> bool:
    if name == "npm":
        return sub in ("ci", "install", "i", "add", "update", "up")
    if name == "yarn":
        return sub in ("install", "add", "", "global")
    if name == "pnpm":
        return sub in ("install", "i", "add", "update", "up")
    if name == "bun":
        return sub in ("install", "i", "add")
    return False


def _pip_install(name: str, words: tuple[str, ...]) -> bool:
    if name in ("pip", "pip3") or re.match(r"^pip[0-9.]+$", name):
        return _subcommand(words) == "install"
    if _PYTHON.match(name):
        return words[1:4] == ("-m", "pip", "install")
    return name == "uv" and words[1:3] == ("pip", "install")


def _venv_install(command: SimpleCommand, cwd: str, target: str, env: _Env, entries: list[str]) -> bool:
    words = command.words
    name = command.name
    sub = _subcommand(words)
    if name == "uv" and sub == "sync":
        venv = env.get("UV_PROJECT_ENVIRONMENT") or ".venv"
        return paths.join(cwd, venv) == target
    if name == "uv" and sub == "venv":
        where = next((w for w in words[2:] if not w.startswith("-")), ".venv")
        return paths.join(cwd, where) == target
    if (_PYTHON.match(name) and words[1:3] == ("-m", "venv")) or name == "virtualenv":
        rest = words[3:] if name != "virtualenv" else words[1:]
        made = next((w for w in rest if not w.startswith("-")), None)
        return made is not None and paths.join(cwd, made) == target
    if name == "poetry" and sub in ("install", "sync"):
        in_project = (env.get("POETRY_VIRTUALENVS_IN_PROJECT") or "").lower() in ("1", "true")
        return in_project and paths.join(cwd, ".venv") == target
    if name == "pipenv" and sub in ("install", "sync"):
        in_project = (env.get("PIPENV_VENV_IN_PROJECT") or "").lower() in ("1", "true")
        return in_project and paths.join(cwd, ".venv") == target
    if _pip_install(name, words):
        program = paths.join(cwd, words[0]) if "/" in words[0] else None
        if program is not None and paths.is_within(program, target):
            return True
        active = env.get("VIRTUAL_ENV")
        if active is not None and paths.join(cwd, active) == target:
            return True
        return paths.join(target, "bin") in entries
    return False


def _user_local(run: Step, env: _Env) -> str | None:
    userbase = env.get("PYTHONUSERBASE")
    if userbase is not None:
        return userbase if userbase.startswith("/") else None
    return _home_path(run, env, ".local")


def _home_path(run: Step, env: _Env, rel: str) -> str | None:
    home = env.get("HOME")
    if home is None:
        known, _ = run.scope.lookup("HOME")
        if known or "HOME" in run.scope.values or not runs_as_root(run):
            return None
        home = "/root"
    return paths.join(home, rel) if home.startswith("/") else None


def _yarn_berry(run: Step, words: tuple[str, ...], env: _Env) -> bool:
    if "--immutable" in words or "--immutable-cache" in words:
        return True
    chain = run.stage.chain()
    words_before = [w for s in chain[: chain.index(run) + 1] for c in effects_of(s).commands for w in c.words]
    return "corepack" in words_before or any(w.startswith("yarn@") for w in words_before)


def _named_tools(words: tuple[str, ...]) -> frozenset[str]:
    return frozenset(re.split(r"[=<>\[@]", w, maxsplit=1)[0] for w in words if not w.startswith("-") and w)


def _go_tools(words: tuple[str, ...]) -> frozenset[str]:
    tools: set[str] = set()
    for word in words:
        if word.startswith("-"):
            continue
        module = word.split("@", 1)[0].rstrip("/")
        parts = [p for p in module.split("/") if p]
        if not parts or parts[-1] in (".", "...") or module.startswith("."):
            continue
        name = parts[-1]
        if re.fullmatch(r"v[0-9]+", name) and len(parts) > 1:
            name = parts[-2]
        tools.add(name)
    return frozenset(tools)


def _cargo_tools(words: tuple[str, ...]) -> frozenset[str]:
    bins = [words[i + 1] for i, w in enumerate(words[:-1]) if w == "--bin"]
    if bins:
        return frozenset(bins)
    tools: set[str] = set()
    skip = False
    for word in words:
        if skip:
            skip = False
            continue
        if word in _CARGO_INSTALL_VALUES:
            skip = True
            continue
        if word.startswith("-"):
            continue
        tools.add(word.split("@", 1)[0])
    return frozenset(tools)


def _tool_list(tools: frozenset[str]) -> str:
    return ", ".join(f"`{t}`" for t in sorted(tools)) if tools else "its binaries"


# -- who uses a tree --------------------------------------------------------------------------------


def _node_user(project: str) -> Callable[[SimpleCommand, str, list[str]], bool]:
    def uses(command: SimpleCommand, cwd: str, entries: list[str]) -> bool:
        if not paths.is_within(cwd, project):
            return False
        sub = _subcommand(command.words)
        return command.name in _NODE_TOOLS and not _node_installs_anything(command.name, sub)

    return uses


def _venv_user(venv: str, project: str) -> Callable[[SimpleCommand, str, list[str]], bool]:
    def uses(command: SimpleCommand, cwd: str, entries: list[str]) -> bool:
        name = command.name
        if name in ("uv", "poetry", "pipenv") and _subcommand(command.words) == "run":
            return paths.is_within(cwd, project)
        if _PYTHON.match(name) or name in _PYTHON_TOOLS:
            return paths.join(venv, "bin") in entries
        return False

    return uses


def _python_user(command: SimpleCommand, cwd: str, entries: list[str]) -> bool:
    if _pip_install(command.name, command.words):
        return False
    return bool(_PYTHON.match(command.name)) or command.name in _PYTHON_TOOLS


def _tool_user(tools: frozenset[str]) -> Callable[[SimpleCommand, str, list[str]], bool]:
    def uses(command: SimpleCommand, cwd: str, entries: list[str]) -> bool:
        if command.name in tools:
            return True
        sub = _subcommand(command.words)
        return command.name == "cargo" and f"cargo-{sub}" in tools

    return uses


def _php_user(project: str) -> Callable[[SimpleCommand, str, list[str]], bool]:
    def uses(command: SimpleCommand, cwd: str, entries: list[str]) -> bool:
        if not paths.is_within(cwd, project):
            return False
        if command.name == "composer":
            return _subcommand(command.words) not in ("install", "update", "require", "config", "")
        return command.name in _PHP_TOOLS or command.name.startswith("php")

    return uses


def _go_vendor_user(project: str) -> Callable[[SimpleCommand, str, list[str]], bool]:
    def uses(command: SimpleCommand, cwd: str, entries: list[str]) -> bool:
        return paths.is_within(cwd, project) and command.name == "go" and "-mod=vendor" in command.words

    return uses


def _ruby_user(project: str) -> Callable[[SimpleCommand, str, list[str]], bool]:
    def uses(command: SimpleCommand, cwd: str, entries: list[str]) -> bool:
        if not paths.is_within(cwd, project) or command.name not in _RUBY_TOOLS:
            return False
        return command.name != "bundle" or _subcommand(command.words) not in ("install", "config", "")

    return uses


def _r_user(project: str) -> Callable[[SimpleCommand, str, list[str]], bool]:
    def uses(command: SimpleCommand, cwd: str, entries: list[str]) -> bool:
        if not paths.is_within(cwd, project) or command.name not in _R_TOOLS:
            return False
        return not any("renv::restore" in w or "renv::install" in w for w in command.words)

    return uses


# -- evidence ---------------------------------------------------------------------------------------


class _Missing:
    """Whether the tree is still missing from the layer (no step after its RUN put it back), asked
    along stage chains: each chain is walked once per tree, as the positions asked of one stage
    never decrease and, once put back, the tree stays in the layer."""

    def __init__(self, tree: _Tree, dockerignore: DockerIgnore | None) -> None:
        self.tree = tree
        self.key = cache_key(tree.mount)
        self.dockerignore = dockerignore
        self._walks: dict[Stage, tuple[int, bool]] = {}  # stage -> (position reached, missing)

    def before(self, stage: Stage, position: int) -> bool:
        """Whether nothing in `stage.chain()[:position]` after the tree's RUN put the tree back."""
        chain, keywords, keys = _along(stage)
        reached, missing = self._walks.get(stage) or (chain.index(self.tree.run) + 1, True)
        while missing and reached < position:
            keyword = keywords[reached]
            if keyword == "RUN":
                same_cache = self.key is not None and self.key in keys[reached]
                missing = same_cache or not _run_writes_tree(chain[reached], self.tree.tree)
            elif keyword in ("COPY", "ADD"):
                missing = not _copy_writes_tree(chain[reached], self.tree.tree, self.dockerignore)
            reached += 1
        self._walks[stage] = (reached, missing)
        return missing

    def at_end(self, stage: Stage) -> bool:
        return self.before(stage, len(_along(stage)[0]))


def _along(stage: Stage) -> tuple[list[Step], list[str], list[tuple[CacheKey | None, ...]]]:
    """The stage's chain with each step's keyword and mount cache keys, for the walks above: they
    visit a chain once per tree, so a step's facts are read from lists, not looked up."""

    def along() -> tuple[list[Step], list[str], list[tuple[CacheKey | None, ...]]]:
        chain = stage.chain()
        return chain, [s.keyword for s in chain], [mount_keys(s) for s in chain]

    return memo(stage, "bkm003_along", along)


def _run_writes_tree(step: Step, tree: str) -> bool:
    effects = effects_of(step)
    written = [*effects.writes, *(c.dest for c in effects.copy_outs), *(o.path for o in effects.outputs)]
    for path in written:
        if paths.is_within(path, tree) or (
            paths.is_within(tree, path) and path in (c.dest for c in effects.copy_outs)
        ):
            mount = step.covering_mount(path)
            if mount is None or not mount.mount.ephemeral:
                return True
    return False


def _copy_writes_tree(step: Step, tree: str, dockerignore: DockerIgnore | None) -> bool:
    spec = step.copy
    if spec is None or spec.dest.value is None:
        return False
    dest = step.resolve(spec.dest.value)
    if paths.is_within(dest, tree):
        return True
    if not paths.is_within(tree, dest):
        return False
    if spec.from_stage is not None:
        return True  # another stage's tree may land there
    rel = paths.relative_to(tree, dest) or "."
    first = rel.split("/", 1)[0]
    for source in spec.sources:
        value = source.value
        if value is None:
            return True
        if value.rstrip("/") in (".", ""):
            # The build context: its own copy of the tree lands there unless .dockerignore drops it.
            # An unknown .dockerignore is taken to drop it: the Dockerfile installs the tree itself.
            if dockerignore is not None and not dockerignore.excludes(rel):
                return True
        elif posixpath.basename(value.rstrip("/")) == first:
            return True
    return False


def _evidence(analysis: Analysis, tree: _Tree) -> list[_Evidence]:
    df = analysis.dockerfile
    found: list[_Evidence] = []
    run = tree.run
    # Later RUNs on top of this layer, in this stage and the stages built on it. Whether the
    # tree is still missing before each is followed along the chains (`_Missing`), and the PATH
    # comes from `_entries_before`: each chain is walked once per tree.
    missing = _Missing(tree, analysis.dockerignore)
    key = missing.key if tree.in_mount else None
    for stage, start in _later_stages(df, run):
        chain, keywords, keys = _along(stage)
        for position in range(start, len(chain)):
            if keywords[position] != "RUN" or (key is not None and key in keys[position]):
                continue
            step = chain[position]
            if tree.in_mount and step.covering_mount(tree.tree) is not None:
                continue
            if not missing.before(stage, position):
                continue
            evidence = _run_evidence(df, tree, step)
            if evidence is not None:
                found.append(evidence)
    # COPY --from and --mount=from= of the tree or of the project directory holding it.
    users = descendants(df, run.stage)
    for stage, step, source_stage, path in _all_stage_reads(df):
        if source_stage not in users or source_stage is stage:
            continue
        if not (paths.is_within(path, tree.tree) or _holds(path, tree)):
            continue
        if missing.at_end(source_stage):
            found.append(_Evidence(step.line, f"line {step.line} copies {path} out of that stage"))
    # The final image.
    final = df.final_stage
    if final is not None and final in users and missing.at_end(final):
        found.extend(_runtime_evidence(df, final, tree))
    return found


def _later_stages(df: Dockerfile, run: Step) -> Iterator[tuple[Stage, int]]:
    """`later_positions` by stage: each stage on top of `run`'s layer, and where its later steps
    start in its chain."""
    for stage in descendants(df, run.stage):
        chain = _along(stage)[0]
        own_start = len(chain) - len(stage.steps)
        start = chain.index(run) + 1 if stage is run.stage else own_start
        yield stage, max(start, own_start)


def _run_evidence(df: Dockerfile, tree: _Tree, step: Step) -> _Evidence | None:
    """How a later RUN (with the tree missing) uses the tree, if it does."""
    entries = _entries_before(step, df.escape)
    read = next((r for r in run_reads(step) if paths.is_within(r.path, tree.tree)), None)
    if read is not None:
        return _Evidence(step.line, f"the RUN on line {step.line} reads {read.path}")
    for command in effects_of(step).commands:
        cwd = command_cwd(step, command)
        if cwd is not None and tree.uses(command, cwd, entries):
            return _Evidence(step.line, f"the RUN on line {step.line} runs `{command.name}`", False)
    return None


def _all_stage_reads(df: Dockerfile) -> list[tuple[Stage, Step, Stage, str]]:
    """`_stage_reads` of every step, in order, with the step's stage: the same for every tree."""
    return memo(
        df,
        "bkm003_stage_reads",
        lambda: [
            (stage, step, source, path)
            for stage in df.stages
            for step in stage.steps
            for source, path in _stage_reads(df, step)
        ],
    )


def _holds(path: str, tree: _Tree) -> bool:
    """`path` is the project directory (or the tree's parent) that contains the tree."""
    return (
        path != "/"
        and paths.is_within(tree.tree, path)
        and (paths.is_within(path, tree.project) or path == posixpath.dirname(tree.tree))
    )


def _stage_reads(df: Dockerfile, step: Step) -> Iterator[tuple[Stage, str]]:
    spec = step.copy
    if spec is not None and spec.from_stage is not None:
        source = df.stage_for(spec.from_stage)
        if source is not None:
            for word in spec.sources:
                if word.value is not None:
                    yield source, paths.join("/", word.value)
    for item in step.mounts:
        if item.mount.from_ is not None and item.mount.type == "bind":
            source = df.stage_for(item.mount.from_)
            if source is not None:
                yield source, paths.join("/", item.mount.source or "/")


def _runtime_evidence(df: Dockerfile, final: Stage, tree: _Tree) -> list[_Evidence]:
    found: list[_Evidence] = []
    entries, reads, commands = memo(  # the same for every tree
        final,
        "bkm003_runtime",
        lambda: (
            [p for _, p in path_entries(final.chain(), df.escape)],
            runtime_reads(df, final),
            runtime_commands(df, final),
        ),
    )
    for read in reads:
        if paths.is_within(read.path, tree.tree):
            found.append(_Evidence(read.step.line, f"{read.how} (line {read.step.line}) uses {read.path}"))
    for command in commands:
        words = tuple(w.value or "" for w in command.words)
        simple = SimpleCommand(words)
        if tree.uses(simple, command.cwd, entries):
            started = " ".join(words[:2])
            found.append(
                _Evidence(
                    command.step.line, f"the image starts `{started}` (line {command.step.line})", False
                )
            )
    return found


def _used_in_same_run(df: Dockerfile, tree: _Tree) -> bool:
    """The RUN itself uses the tree after installing it (install + build, keep only the result),
    or copies it (or part of it) out of the mount."""
    run = tree.run
    commands = effects_of(run).commands
    start = next((i for i, c in enumerate(commands) if c is tree.installer), len(commands))
    entries = _entries_before(run, df.escape)
    later = commands[start + 1 :]
    for command in later:
        cwd = command_cwd(run, command)
        if cwd is not None and tree.uses(command, cwd, entries):
            return True
    if any(read.command in later and paths.is_within(read.path, tree.tree) for read in run_reads(run)):
        return True
    return any(
        any(paths.is_within(source, tree.tree) for source in copy_out.sources)
        and run.covering_mount(copy_out.dest) is None
        for copy_out in effects_of(run).copy_outs
    )


def _message(df: Dockerfile, tree: _Tree, evidence: list[_Evidence]) -> str:
    written = tree.mount.mount.options.get("target", "")
    if tree.in_mount:
        head = (
            f"{tree.label}, but `target={written}` is a cache mount: the installed files stay in the "
            "cache and never reach the image layer."
        )
    else:
        head = (
            f"{tree.label}; `target={written}` is a cache mount, so what the install left in the layer "
            "points at files the image does not have."
        )
    if evidence:
        needs = "; ".join(e.text for e in evidence[:3])
        tail = f" It is needed later: {needs}."
    elif tree.kind in ("yarn", "renv"):
        tail = " Whether this breaks depends on settings the Dockerfile does not show."
    elif any(
        chain[p].keyword == "RUN" and equivalent_mount(chain[p], tree.mount)
        for chain, p in later_positions(df, tree.run)
    ):
        tail = (
            " Only RUNs that mount the same cache again use it, which works only while that cache "
            "survives: cache contents are not part of any cache key."
        )
    else:
        tail = " Nothing later in this Dockerfile uses it yet; any later use would find it missing."
    return head + tail + _advice(tree)


def _advice(tree: _Tree) -> str:
    name = tree.installer.name
    if tree.kind == "node_modules":
        caches = {"npm": "npm's cache (/root/.npm)", "yarn": "Yarn's cache", "pnpm": "pnpm's store"}
        return f" Mount {caches.get(name, 'the package manager cache')} instead."
    if tree.kind == "prisma":
        return " Let `prisma generate` write into the layer: drop this mount."
    if tree.kind in ("venv", "site-packages", "user-site"):
        return " Mount pip's or uv's cache (/root/.cache/pip, /root/.cache/uv) instead."
    if tree.kind == "bin":
        return (
            " Install outside the mount (GOBIN=/usr/local/bin, `cargo install --root /usr/local`) and mount "
            "only the download caches."
        )
    if tree.kind == "uv-symlink":
        return " Use UV_LINK_MODE=copy."
    if tree.kind == "yarn":
        return " Set YARN_ENABLE_GLOBAL_CACHE=false (or `nodeLinker: node-modules`)."
    if tree.kind == "renv":
        return " Set RENV_CONFIG_CACHE_SYMLINKS=FALSE so renv copies packages out of its cache."
    return " Mount only the tool's download cache instead."


# -- fixes ------------------------------------------------------------------------------------------


def _fix(df: Dockerfile, tree: _Tree) -> tuple[Fix | None, str | None]:
    try:
        if tree.kind == "node_modules" and tree.installer.name == "npm":
            return _npm_fix(df, tree), None
        if tree.kind == "uv-symlink":
            return _uv_fix(df, tree), None
    except NoFix as exc:
        return None, str(exc)
    return None, (
        "which cache directory the tool really uses (and where the installed tree should go) depends on "
        "settings the Dockerfile does not show"
    )


def _npm_fix(df: Dockerfile, tree: _Tree) -> Fix:
    run = tree.run
    sub = _subcommand(tree.installer.words)
    if sub not in ("ci", "install", "i"):
        raise NoFix(f"`npm {sub}` changes the package set; install it into the layer by hand")
    if explicit_non_root(run) or not runs_as_root(run):
        raise NoFix("the RUN does not run as root, so npm's cache is not /root/.npm")
    env = _Env(run, tree.installer)
    if _home_path(run, env, ".npm") != "/root/.npm":
        raise NoFix("HOME is changed, so npm's cache is not /root/.npm")
    for name in ("npm_config_cache", "NPM_CONFIG_CACHE"):
        if name in tree.installer.assignments or name in run.scope.values:
            raise NoFix(f"{name} points npm's cache elsewhere")
    for other in run.mounts:
        if other is not tree.mount and other.target is not None and paths.is_within(tree.tree, other.target):
            raise NoFix(f"another mount of this RUN ({other.target}) covers {tree.tree}")
    for chain, position in later_positions(df, run):
        step = chain[position]
        if step.keyword == "RUN" and any(_overlaps(m.target, tree.tree) for m in step.mounts):
            raise NoFix(f"the RUN on line {step.line} mounts over {tree.tree} too; fix both together")
    flag = _mount_flag(run, tree.mount)
    if flag is None:
        raise NoFix("the --mount flag could not be located")
    has_npm_cache = any(m.target == "/root/.npm" and m.mount.type == "cache" for m in run.mounts)
    line, col, end = _flag_span(df, run, flag)
    text = df.lines[line - 1]
    if has_npm_cache:
        new = text[:col] + text[end:].lstrip(" \t")
        drop = "Drop the cache mount on node_modules (npm's cache is already mounted)"
        if text[end:].strip() == df.escape and line == run.line:
            # `RUN --mount=... \` followed by the next flag: pull the next line up.
            pieces = [p.line for p in run.instruction.raw.pieces]
            if line + 1 not in pieces:
                raise NoFix("the RUN continues after a comment or blank line")
            return Fix(drop, (Edit(line, line + 1, text[:col] + df.lines[line].lstrip(" \t")),))
        if new.strip() in ("", df.escape):
            return Fix(drop, (Edit(line, line, ""),))
        return Fix(drop, (Edit(line, line, new),))
    new = text[:col] + "--mount=type=cache,target=/root/.npm" + text[end:]
    return Fix("Mount npm's cache (/root/.npm) instead of node_modules", (Edit(line, line, new),))


def _overlaps(target: str | None, tree: str) -> bool:
    return target is not None and (paths.is_within(target, tree) or paths.is_within(tree, target))


def _mount_flag(step: Step, item: ResolvedMount) -> Flag | None:
    """The `--mount=` flag that `item` was parsed from."""
    flags = [f for f in step.instruction.flags if f.name == "mount" and f.value is not None]
    index = next((i for i, m in enumerate(step.mounts) if m is item), None)
    return flags[index] if index is not None and index < len(flags) else None


def _flag_span(df: Dockerfile, step: Step, flag: Flag) -> tuple[int, int, int]:
    """Physical line, start and end column of a flag written on one line without quotes."""
    raw = step.instruction.raw
    line, col = raw.position(flag.start)
    end_line, end_col = raw.position(flag.end - 1)
    if end_line != line:
        raise NoFix("the --mount flag is split over several lines")
    if df.lines[line - 1][col : end_col + 1] != flag.raw:
        raise NoFix("the --mount flag uses quotes or escapes; it is left for you to edit")
    return line, col, end_col + 1


def _uv_fix(df: Dockerfile, tree: _Tree) -> Fix:
    run = tree.run
    pattern = re.compile(r"(UV_LINK_MODE=[\"']?|--link-mode[= ][\"']?)symlink\b")
    if "UV_LINK_MODE" in tree.installer.assignments or "--link-mode" in " ".join(tree.installer.words):
        steps = [run]
    else:
        chain = run.stage.chain()
        before = chain[: chain.index(run)]
        setters = [s for s in before if s.keyword in ("ENV", "ARG") and "UV_LINK_MODE" in s.instruction.args]
        if not setters:
            raise NoFix("UV_LINK_MODE comes from outside this Dockerfile")
        steps = [setters[-1]]
    edits: list[Edit] = []
    for step in steps:
        for number in range(step.line, step.instruction.end_line + 1):
            text = df.lines[number - 1]
            new, count = pattern.subn(r"\1copy", text)
            if count:
                edits.append(Edit(number, number, new))
    if len(edits) != 1:
        raise NoFix("the symlink link mode could not be located on one line")
    return Fix("Let uv copy from its cache (UV_LINK_MODE=copy)", tuple(edits))


RULE = Rule(
    code="BKM003",
    name="install-destination-is-cache",
    summary="A cache mount holds the tree a package manager installs, or links it into the cache",
    severity=Severity.ERROR,
    fix=FixAvailability.SOMETIMES,
    check=check,
    doc=__doc__ or "",
    needs_mounts=True,
)
