"""A benchmark corpus of 1,200 Dockerfiles shaped like real repositories' files.

    python -m bench.corpus [DIR] [--count N] [--seed S] [--no-real]   (default DIR: bench/.corpus/)

The directory (git-ignored) is written from scratch, deterministically: the same script, seed and
sources give byte-identical files. `SOURCES.tsv` in it records where every file came from and
`STATS.txt` its size distribution. Four sources, in this order:

* `fixtures/`: every Dockerfile under `tests/fixtures/rules/*/` and `tests/fixtures/parser/`
  (the annotated rule fixtures and their `.fixed` goldens, parser probes; a few are deliberately
  invalid), copied as they are.
* `real/`: real Dockerfiles that registry packages ship, fetched with the ordinary clients into
  `bench/.corpus-cache/` (git-ignored) and skipped, with a note, when the registry is unreachable
  (or with `--no-real`):
  - Debian `golang-github-openshift-imagebuilder-dev` 1.2.3+ds1-2 (bookworm; Apache-2.0,
    `apt-get download`): openshift/imagebuilder's test data, 99 files. It includes Docker's
    parser test files, which are real projects' Dockerfiles (`docker`, `cpuguy83-nagios`,
    `brimstone-consuldock`, `influxdb`, `tf2`, ...) and edge cases (escapes, JSON forms);
  - npm `dockerfilelint@1.8.0` (MIT, `npm pack`): `test/examples/Dockerfile.*`, 19 files
    (mongo, mysql, redis, nginx, node, ubuntu, ...).
* `synthetic/`: the rest, generated from a seeded `random.Random` out of the shapes that real
  repositories show (see /work/shared/research/perf-anchors.md §1, a survey of 1,165 Dockerfiles
  from 21 public repositories): docker-library style images (a long `set -eux; ...` RUN that
  downloads, verifies and builds a release; `ENV` versions; apt-get/apk installs with many
  `\\`-continued package lines), and multi-stage application builds (Rust, Go, Node, Python, Java,
  .NET) whose RUNs use BuildKit cache, bind, secret and tmpfs mounts, heredocs (`RUN <<EOF`,
  `COPY <<EOF`), `ARG`/`ENV` chains, `# syntax=` directives, comments, JSON and shell forms. About
  a fifth of the files use `--mount` (the survey: 6.4 % of all files, but they are the ones
  Mountie is for) and about one in ten a heredoc; some also embed a rule fixture as one of their
  stages, so the hazards the rules look for appear among ordinary instructions.

Target size distribution for the whole corpus (the survey's): median about 840 B, p90 about 5 KB,
max about 25 KB; lines per synthetic file 5 to about 600. Synthetic sizes are drawn from a
log-normal distribution fitted to those figures.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import random
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DIR = ROOT / "bench" / ".corpus"
CACHE_DIR = ROOT / "bench" / ".corpus-cache"
DEFAULT_COUNT = 1200
DEFAULT_SEED = 20261128
# Bumped whenever the generator changes, so `bench.engine` regenerates a stale corpus.
VERSION = "1"

DEBIAN_PACKAGE = "golang-github-openshift-imagebuilder-dev"
DEBIAN_VERSION = "1.2.3+ds1-2"
NPM_PACKAGE = "dockerfilelint@1.8.0"


@dataclass(frozen=True, slots=True)
class Entry:
    name: str  # path inside the corpus directory
    text: str
    source: str  # where it came from (fixture path, package and path, or generator recipe)


# -- sources that already exist ------------------------------------------------------------------


def fixture_entries() -> list[Entry]:
    fixtures = ROOT / "tests" / "fixtures"
    paths = sorted((fixtures / "rules").glob("*/*.Dockerfile")) + sorted(
        (fixtures / "parser").glob("*.Dockerfile")
    )
    return [
        Entry(
            f"fixtures/{path.parent.name}__{path.name}",
            path.read_bytes().decode("utf-8", "surrogateescape"),
            f"repo:{path.relative_to(ROOT)}",
        )
        for path in paths
    ]


def _is_dockerfile(name: str) -> bool:
    return name.startswith("Dockerfile") or name.endswith(".Dockerfile")


def _flat(relative: str) -> str:
    name = relative.replace("/", "__")
    return name if name.endswith(".Dockerfile") else name + ".Dockerfile"


def _debian_entries(cache: Path) -> list[Entry]:
    target = cache / "debian"
    debs = sorted(target.glob(f"{DEBIAN_PACKAGE}_*.deb"))
    if not debs:
        target.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["apt-get", "download", f"{DEBIAN_PACKAGE}={DEBIAN_VERSION}"],
            cwd=target,
            check=True,
            capture_output=True,
            timeout=120,
        )
        debs = sorted(target.glob(f"{DEBIAN_PACKAGE}_*.deb"))
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["dpkg-deb", "-x", str(debs[0]), tmp], check=True, timeout=120)
        base = Path(tmp) / "usr/share/gocode/src/github.com/openshift/imagebuilder"
        entries = []
        for path in sorted(p for p in base.rglob("*") if p.is_file() and _is_dockerfile(p.name)):
            relative = str(path.relative_to(base))
            entries.append(
                Entry(
                    f"real/imagebuilder__{_flat(relative)}",
                    path.read_bytes().decode("utf-8", "surrogateescape"),
                    f"debian:{DEBIAN_PACKAGE}={DEBIAN_VERSION}:{relative}",
                )
            )
    return entries


def _npm_entries(cache: Path) -> list[Entry]:
    target = cache / "npm"
    tarballs = sorted(target.glob("dockerfilelint-*.tgz"))
    if not tarballs:
        target.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["npm", "pack", NPM_PACKAGE, "--silent"], cwd=target, check=True, capture_output=True, timeout=120
        )
        tarballs = sorted(target.glob("dockerfilelint-*.tgz"))
    entries = []
    with tarfile.open(tarballs[0]) as archive:
        for member in sorted(archive.getmembers(), key=lambda m: m.name):
            relative = member.name.removeprefix("package/")
            if member.isfile() and relative.startswith("test/examples/Dockerfile"):
                handle = archive.extractfile(member)
                assert handle is not None
                entries.append(
                    Entry(
                        f"real/dockerfilelint__{_flat(relative)}",
                        handle.read().decode("utf-8", "surrogateescape"),
                        f"npm:{NPM_PACKAGE}:{relative}",
                    )
                )
    return entries


def real_entries(cache: Path = CACHE_DIR) -> tuple[list[Entry], list[str]]:
    """Real Dockerfiles from registry packages, and a note per source that could not be had."""
    entries: list[Entry] = []
    notes: list[str] = []
    for label, fetch in (("Debian " + DEBIAN_PACKAGE, _debian_entries), ("npm " + NPM_PACKAGE, _npm_entries)):
        try:
            entries += fetch(cache)
        except (OSError, subprocess.SubprocessError, tarfile.TarError, IndexError) as exc:
            notes.append(f"{label}: not available ({type(exc).__name__}: {exc}); left out")
    return entries, notes


# -- the synthetic generator ---------------------------------------------------------------------

APT_PACKAGES = [
    "ca-certificates",
    "curl",
    "wget",
    "git",
    "gnupg",
    "dirmngr",
    "xz-utils",
    "bzip2",
    "unzip",
    "zip",
    "tar",
    "gzip",
    "make",
    "cmake",
    "gcc",
    "g++",
    "build-essential",
    "pkg-config",
    "autoconf",
    "automake",
    "libtool",
    "bison",
    "flex",
    "patch",
    "file",
    "libssl-dev",
    "libffi-dev",
    "zlib1g-dev",
    "libbz2-dev",
    "libreadline-dev",
    "libsqlite3-dev",
    "libncurses5-dev",
    "libxml2-dev",
    "libxslt1-dev",
    "libyaml-dev",
    "libpq-dev",
    "libmariadb-dev",
    "libcurl4-openssl-dev",
    "libgdbm-dev",
    "liblzma-dev",
    "uuid-dev",
    "tk-dev",
    "libgmp-dev",
    "libedit-dev",
    "libjpeg-dev",
    "libpng-dev",
    "libwebp-dev",
    "libfreetype6-dev",
    "libzip-dev",
    "libonig-dev",
    "libicu-dev",
    "locales",
    "tzdata",
    "procps",
    "less",
    "vim-tiny",
    "openssh-client",
    "rsync",
    "jq",
    "gettext-base",
    "netbase",
    "iproute2",
    "dnsutils",
    "sudo",
    "tini",
    "dumb-init",
    "python3",
    "python3-pip",
    "python3-venv",
    "python3-dev",
    "openjdk-17-jdk-headless",
    "maven",
    "nodejs",
    "npm",
    "postgresql-client",
    "default-mysql-client",
    "redis-tools",
    "nginx",
    "supervisor",
    "cron",
    "gosu",
]
APK_PACKAGES = [
    "ca-certificates",
    "curl",
    "wget",
    "git",
    "bash",
    "tzdata",
    "openssl",
    "openssl-dev",
    "musl-dev",
    "gcc",
    "g++",
    "make",
    "cmake",
    "linux-headers",
    "libffi-dev",
    "zlib-dev",
    "bzip2-dev",
    "xz-dev",
    "readline-dev",
    "sqlite-dev",
    "postgresql-dev",
    "mariadb-dev",
    "libxml2-dev",
    "libxslt-dev",
    "jpeg-dev",
    "libpng-dev",
    "freetype-dev",
    "pkgconf",
    "autoconf",
    "automake",
    "libtool",
    "su-exec",
    "tini",
    "shadow",
    "coreutils",
    "findutils",
    "grep",
    "sed",
    "gnupg",
    "openssh-client",
    "rsync",
    "jq",
]
PIP_PACKAGES = [
    "django",
    "flask",
    "gunicorn",
    "uvicorn",
    "celery",
    "psycopg2-binary",
    "requests",
    "numpy",
    "pandas",
    "boto3",
]
NPM_PACKAGES = [
    "typescript",
    "pm2",
    "nodemon",
    "@nestjs/cli",
    "yarn",
    "pnpm",
    "serve",
    "http-server",
    "prisma",
]

DEBIAN_BASES = (
    "debian:bookworm",
    "debian:bookworm-slim",
    "debian:bullseye-slim",
    "ubuntu:22.04",
    "ubuntu:24.04",
    "buildpack-deps:bookworm",
)
ALPINE_BASES = ("alpine:3.19", "alpine:3.20", "alpine:latest")
RUNTIME_BASES = (
    "debian:bookworm-slim",
    "gcr.io/distroless/static-debian12",
    "gcr.io/distroless/cc-debian12",
    "alpine:3.20",
    "scratch",
    "ubuntu:24.04",
)
PROJECTS = [
    "api",
    "server",
    "worker",
    "web",
    "gateway",
    "agent",
    "proxy",
    "indexer",
    "scheduler",
    "exporter",
    "cli",
    "app",
    "bot",
    "relay",
]
SOFTWARE = (
    ("redis", "7.2.4", "https://download.redis.io/releases/redis-{v}.tar.gz"),
    ("nginx", "1.25.4", "https://nginx.org/download/nginx-{v}.tar.gz"),
    ("python", "3.12.2", "https://www.python.org/ftp/python/{v}/Python-{v}.tar.xz"),
    ("php", "8.3.3", "https://www.php.net/distributions/php-{v}.tar.xz"),
    ("ruby", "3.3.0", "https://cache.ruby-lang.org/pub/ruby/3.3/ruby-{v}.tar.xz"),
    ("node", "20.11.1", "https://nodejs.org/dist/v{v}/node-v{v}-linux-x64.tar.xz"),
    ("haproxy", "2.9.6", "https://www.haproxy.org/download/2.9/src/haproxy-{v}.tar.gz"),
    ("postgres", "16.2", "https://ftp.postgresql.org/pub/source/v{v}/postgresql-{v}.tar.bz2"),
    ("memcached", "1.6.24", "https://memcached.org/files/memcached-{v}.tar.gz"),
    ("git", "2.44.0", "https://www.kernel.org/pub/software/scm/git/git-{v}.tar.xz"),
)


class Gen:
    """Builds one Dockerfile's text out of stages and instructions, with one seeded random source."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.lines: list[str] = []
        self.stage_names: list[str] = []
        self.recipes: list[str] = []
        self.small = False  # small files: fewer packages, no release build
        self.cache_apt = False  # this file's apt/apk installs use cache mounts

    # small helpers

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def pick(self, items: tuple[str, ...] | list[str]) -> str:
        return self.rng.choice(items)

    def sample(self, items: list[str], low: int, high: int) -> list[str]:
        return self.rng.sample(items, min(len(items), self.rng.randint(low, high)))

    def sha(self) -> str:
        return hashlib.sha256(str(self.rng.random()).encode()).hexdigest()

    def emit(self, *lines: str) -> None:
        self.lines.extend(lines)

    def blank(self) -> None:
        if self.lines and self.lines[-1]:
            self.lines.append("")

    def comment(self, p: float = 0.3) -> None:
        if self.chance(p):
            self.emit(
                self.pick(
                    (
                        "# Install build dependencies",
                        "# hadolint ignore=DL3008",
                        "# Keep the image small: no recommends, clean lists",
                        "# Cache dependencies separately from the source",
                        "# see https://github.com/docker-library/official-images#multiple-architectures",
                        "# Build the release binary",
                        "# Runtime configuration",
                        "# TODO: pin this version",
                    )
                )
            )

    def chain(self, head: str, commands: list[str], indent: str = "    ") -> None:
        """One RUN whose commands are joined by `&& \\` on their own lines."""
        text = [f"{head} {commands[0]}" + (" \\" if len(commands) > 1 else "")]
        for i, command in enumerate(commands[1:], 1):
            text.append(f"{indent}&& {command}" + (" \\" if i < len(commands) - 1 else ""))
        self.emit(*text)

    def package_lines(self, head: str, packages: list[str], tail: list[str]) -> None:
        lines = [f"{head} \\"]
        for package in sorted(packages):
            lines.append(f"        {package} \\")
        lines[-1] = lines[-1].removesuffix(" \\")
        if tail:
            lines[-1] += " \\"
            for i, t in enumerate(tail):
                lines.append(f"    && {t}" + (" \\" if i < len(tail) - 1 else ""))
        self.emit(*lines)

    # instructions and blocks

    def header(self) -> None:
        if self.chance(0.3):
            self.emit(f"# syntax=docker/dockerfile:{self.pick(('1', '1.4', '1.6', '1.7', 'labs'))}")
        if self.chance(0.2):
            self.emit("# Generated by a template; edit the template, not this file.")
        if self.chance(0.25):
            self.emit(f"ARG BASE_IMAGE={self.pick(DEBIAN_BASES)}")
        self.blank()

    def from_(self, image: str, name: str | None = None) -> None:
        self.blank()
        self.emit(f"FROM {image}" + (f" AS {name}" if name else ""))
        if name:
            self.stage_names.append(name)

    def apt_install(self, cached: bool) -> None:
        self.comment()
        packages = self.sample(APT_PACKAGES, 1, 5 if self.small else 28)
        if cached:
            sharing = ",sharing=locked" if self.chance(0.7) else ""
            head = (
                f"RUN --mount=type=cache,target=/var/cache/apt{sharing} \\\n"
                f"    --mount=type=cache,target=/var/lib/apt{sharing} \\\n"
            )
            pre = "rm -f /etc/apt/apt.conf.d/docker-clean && " if self.chance(0.5) else ""
            self.package_lines(
                f"{head}    {pre}apt-get update && apt-get install -y --no-install-recommends", packages, []
            )
            return
        tail = ["rm -rf /var/lib/apt/lists/*"]
        if self.chance(0.3):
            tail.insert(0, "apt-get clean")
        self.package_lines("RUN apt-get update && apt-get install -y --no-install-recommends", packages, tail)

    def apk_add(self, cached: bool) -> None:
        packages = self.sample(APK_PACKAGES, 1, 4 if self.small else 18)
        if cached:
            self.package_lines("RUN --mount=type=cache,target=/var/cache/apk apk add", packages, [])
        elif self.chance(0.3):
            self.package_lines("RUN apk add --no-cache --virtual .build-deps", packages, [])
        else:
            self.package_lines("RUN apk add --no-cache", packages, [])

    def env_block(self) -> None:
        n = self.rng.randint(1, 5)
        names = ("APP", "LANG", "PATH_PREFIX", "TZ", "PORT", "LOG_LEVEL", "HOME_DIR")
        pairs = []
        for i in range(n):
            name = self.pick(names)
            pairs.append(f"{name}_{i}={self.rng.randint(1, 999)}")
        if self.chance(0.5):
            self.emit("ENV " + " \\\n    ".join(pairs))
        else:
            for pair in pairs:
                key, value = pair.split("=")
                self.emit(f"ENV {key} {value}" if self.chance(0.3) else f"ENV {pair}")

    def release_build(self) -> None:
        """A docker-library style `set -eux` RUN: fetch, verify, build, install, clean up."""
        name, version, url = SOFTWARE[self.rng.randrange(len(SOFTWARE))]
        upper = name.upper()
        self.emit(f"ENV {upper}_VERSION {version}", f"ENV {upper}_SHA256 {self.sha()}")
        self.comment(0.5)
        deps = self.sample(APT_PACKAGES, 4, 20)
        body = ["set -eux", "", 'savedAptMark="$(apt-mark showmanual)"', "apt-get update"]
        body.append("apt-get install -y --no-install-recommends \\")
        body += [f"\t\t{d} \\" for d in sorted(deps)[:-1]] + [f"\t\t{sorted(deps)[-1]}"]
        body += [
            "rm -rf /var/lib/apt/lists/*",
            "",
            f'wget -O {name}.tar.gz "{url.format(v="${" + upper + "_VERSION}")}"',
            f'echo "${upper}_SHA256 *{name}.tar.gz" | sha256sum -c -',
            f"mkdir -p /usr/src/{name}",
            f"tar -xzf {name}.tar.gz -C /usr/src/{name} --strip-components=1",
            f"rm {name}.tar.gz",
            "",
            f"cd /usr/src/{name}",
            'gnuArch="$(dpkg-architecture --query DEB_BUILD_GNU_TYPE)"',
        ]
        flags = self.sample(
            [
                "--enable-shared",
                "--with-openssl",
                "--enable-optimizations",
                "--with-lto",
                "--without-ensurepip",
                "--enable-loadable-sqlite-extensions",
                "--with-system-expat",
                "--disable-static",
                "--with-zlib",
                "--enable-option-checking=fatal",
            ],
            1,
            7,
        )
        body.append('./configure --build="$gnuArch" \\')
        body += [f"\t\t{f} \\" for f in flags[:-1]] + [f"\t\t{flags[-1]}"]
        body += [
            'make -j "$(nproc)"',
            "make install",
            "",
            "cd /",
            f"rm -rf /usr/src/{name}",
            "",
            'apt-mark auto ".*" > /dev/null',
            '[ -z "$savedAptMark" ] || apt-mark manual $savedAptMark > /dev/null',
            "find /usr/local -type f -executable -not \\( -name '*tkinter*' \\) -exec ldd '{}' ';' \\",
            "\t| awk '/=>/ { so = $(NF-1); if (index(so, \"/usr/local/\") == 1) { next }; print so }' \\",
            "\t| sort -u \\",
            "\t| xargs -r dpkg-query --search \\",
            "\t| cut -d: -f1 \\",
            "\t| sort -u \\",
            "\t| xargs -r apt-mark manual",
            "apt-get purge -y --auto-remove -o APT::AutoRemove::RecommendsImportant=false",
            "",
            f"{name} --version",
        ]
        lines = ["RUN set -eux; \\"]
        for command in body[1:]:
            if not command:
                lines.append("\t\\")
            elif command.endswith("\\"):
                lines.append(f"\t{command}")
            else:
                lines.append(f"\t{command}; \\")
        lines[-1] = lines[-1].removesuffix("; \\")
        self.emit(*lines)

    def heredoc_run(self, mount: str = "") -> None:
        body = self.sample(
            [
                "set -eux",
                "apt-get update",
                "apt-get install -y --no-install-recommends curl ca-certificates",
                "mkdir -p /opt/app/bin /opt/app/etc",
                "useradd --system --create-home app",
                "curl -fsSL https://example.com/install.sh | sh",
                'echo "export PATH=/opt/app/bin:$PATH" >> /etc/profile',
                "chmod 0755 /opt/app/bin",
                "ln -s /opt/app/bin/app /usr/local/bin/app",
                "rm -rf /var/lib/apt/lists/*",
            ],
            3,
            9,
        )
        marker = self.pick(("EOF", "EOT", "SCRIPT"))
        dash = "-" if self.chance(0.2) else ""
        shell = " bash" if self.chance(0.2) else ""
        self.emit(f"RUN {mount}<<{dash}{marker}{shell}", *body, marker)
        self.after_heredoc()

    def after_heredoc(self) -> None:
        # Half the time a blank line follows the terminator, as about half of the survey's heredoc
        # files have (hadolint 2.15 fails to parse the others).
        if self.chance(0.5):
            self.blank()

    def heredoc_copy(self) -> None:
        path = self.pick(
            ("/etc/app/config.toml", "/etc/nginx/conf.d/default.conf", "/usr/local/bin/entrypoint.sh")
        )
        self.emit(
            f"COPY <<EOF {path}",
            "[server]",
            f"port = {self.rng.randint(1024, 9999)}",
            f'log_level = "{self.pick(("info", "debug", "warn"))}"',
            "EOF",
        )
        self.after_heredoc()

    def user_block(self) -> None:
        uid = self.rng.choice((1000, 1001, 10001, 65532))
        self.emit(
            f"RUN groupadd --gid {uid} app"
            f" && useradd --uid {uid} --gid app --shell /bin/sh --create-home app",
            "USER app" if self.chance(0.6) else f"USER {uid}:{uid}",
        )

    def runtime_tail(self, binary: str) -> None:
        self.comment()
        if self.chance(0.5):
            self.emit(f"EXPOSE {self.rng.choice((80, 443, 3000, 5000, 8000, 8080, 9090))}")
        if self.chance(0.3):
            self.emit(f'LABEL org.opencontainers.image.source="https://github.com/example/{binary}" \\')
            self.emit(f'      org.opencontainers.image.description="{binary} service"')
        if self.chance(0.25):
            self.emit(
                "HEALTHCHECK --interval=30s --timeout=3s --retries=3 \\",
                "  CMD wget -qO- http://localhost:8080/health || exit 1",
            )
        if self.chance(0.2):
            self.emit(f"VOLUME /var/lib/{binary}")
        if self.chance(0.6):
            self.emit(f'ENTRYPOINT ["/usr/local/bin/{binary}"]')
            if self.chance(0.5):
                self.emit('CMD ["--help"]')
        else:
            self.emit(f"CMD {binary} --config /etc/{binary}/config.yml")

    def long_chain(self) -> None:
        """A RUN of many `&&`-joined commands, one per line (the commonest large-RUN shape)."""
        name, version, url = SOFTWARE[self.rng.randrange(len(SOFTWARE))]
        pool = [
            f"mkdir -p /opt/{name} /var/log/{name} /etc/{name}",
            f'curl -fsSL -o /tmp/{name}.tar.gz "{url.format(v=version)}"',
            f'echo "{self.sha()}  /tmp/{name}.tar.gz" | sha256sum -c -',
            f"tar -xf /tmp/{name}.tar.gz -C /opt/{name} --strip-components=1",
            f"rm -f /tmp/{name}.tar.gz",
            f"cd /opt/{name}",
            "./configure --prefix=/usr/local",
            'make -j"$(nproc)"',
            "make install",
            "make clean",
            f"groupadd -r {name} && useradd -r -g {name} {name}",
            f"chown -R {name}:{name} /var/log/{name}",
            f"ln -sf /dev/stdout /var/log/{name}/access.log",
            f"ln -sf /dev/stderr /var/log/{name}/error.log",
            f"sed -i 's/^#listen.*/listen 0.0.0.0/' /etc/{name}/{name}.conf",
            "update-ca-certificates",
            f"pip install --no-cache-dir {' '.join(self.sample(PIP_PACKAGES, 1, 3))}",
            f"npm install -g {' '.join(self.sample(NPM_PACKAGES, 1, 2))}",
            "find /usr/local -name '*.a' -delete",
            "rm -rf /tmp/* /var/tmp/*",
            f"{name} --version",
            "locale-gen en_US.UTF-8",
            "echo 'Etc/UTC' > /etc/timezone",
        ]
        commands = self.sample(pool, 3, 8 if self.small else len(pool))
        self.chain("RUN", sorted(commands, key=pool.index))

    def more(self) -> None:
        """One more piece of the current stage."""
        choice = self.rng.randrange(10)
        if choice < 3:
            self.long_chain()
        elif choice < 5 and not self.small:
            self.release_build()
        elif choice < 7:
            self.apt_install(cached=self.cache_apt)
        elif choice < 8:
            self.env_block()
        elif choice < 9:
            self.emit(f"COPY {self.pick(('.', 'src/', 'config/', 'scripts/'))} /opt/app/")
            self.emit(f"RUN chmod +x /opt/app/{self.pick(PROJECTS)}.sh")
        else:
            self.comment(1.0)
            name = self.pick(PROJECTS).upper()
            self.emit(f"ARG {name}_VERSION={self.rng.randint(1, 9)}.{self.rng.randint(0, 30)}")

    # application stages

    def rust(self, app: str) -> None:
        version = f"1.{self.rng.randint(70, 82)}"
        self.from_(f"rust:{version}-{self.pick(('slim', 'bookworm', 'alpine'))}", "builder")
        self.emit("WORKDIR /usr/src/" + app)
        if self.chance(0.4):
            self.apt_install(cached=self.cache_apt)
        self.emit("COPY Cargo.toml Cargo.lock ./")
        if self.chance(0.4):
            self.emit(
                "RUN mkdir src && echo 'fn main() {}' > src/main.rs && cargo build --release && rm -rf src"
            )
        self.emit("COPY . .")
        target = self.pick(("target", f"/usr/src/{app}/target", "/app/target"))
        self.emit(
            "RUN --mount=type=cache,target=/usr/local/cargo/registry \\",
            "    --mount=type=cache,target=/usr/local/cargo/git \\",
            f"    --mount=type=cache,target={target} \\",
            "    cargo build --release --locked"
            + (f" && cp {target}/release/{app} /usr/local/bin/" if self.chance(0.7) else ""),
        )
        self.from_(self.pick(RUNTIME_BASES))
        self.emit(f"COPY --from=builder /usr/local/bin/{app} /usr/local/bin/{app}")
        self.runtime_tail(app)

    def go(self, app: str) -> None:
        self.from_(f"golang:1.{self.rng.randint(20, 23)}-{self.pick(('alpine', 'bookworm'))}", "build")
        self.emit("WORKDIR /src")
        if self.chance(0.3):
            self.emit("ARG TARGETOS", "ARG TARGETARCH")
        self.emit("ENV CGO_ENABLED=0")
        self.emit(
            "RUN --mount=type=cache,target=/go/pkg/mod \\",
            "    --mount=type=bind,source=go.sum,target=go.sum \\",
            "    --mount=type=bind,source=go.mod,target=go.mod \\",
            "    go mod download -x",
        )
        out = self.pick(("/out/", "/bin/", "/usr/local/bin/"))
        self.emit(
            "RUN --mount=type=cache,target=/go/pkg/mod \\",
            "    --mount=type=cache,target=/root/.cache/go-build \\",
            "    --mount=type=bind,target=. \\",
            '    GOOS=$TARGETOS GOARCH=$TARGETARCH go build -trimpath -ldflags="-s -w"'
            f" -o {out}{app} ./cmd/{app}",
        )
        if self.chance(0.3):
            self.from_("build", "test")
            self.emit("RUN --mount=type=cache,target=/root/.cache/go-build go test -v ./...")
        self.from_(self.pick(RUNTIME_BASES))
        self.emit(f"COPY --from=build {out}{app} /{app}")
        self.runtime_tail(app)

    def node(self, app: str) -> None:
        self.from_(
            f"node:{self.rng.choice((18, 20, 22))}-{self.pick(('alpine', 'bookworm-slim', 'slim'))}", "deps"
        )
        self.emit("WORKDIR /app")
        tool = self.pick(("npm", "yarn", "pnpm"))
        if tool == "npm":
            self.emit("COPY package.json package-lock.json ./")
            self.emit(
                "RUN --mount=type=cache,target=/root/.npm npm ci"
                if self.chance(0.6)
                else "RUN npm ci --omit=dev"
            )
        elif tool == "yarn":
            self.emit("COPY package.json yarn.lock ./")
            self.emit(
                "RUN --mount=type=cache,target=/usr/local/share/.cache/yarn yarn install --frozen-lockfile"
            )
        else:
            self.emit("RUN corepack enable", "COPY package.json pnpm-lock.yaml ./")
            self.emit("RUN --mount=type=cache,id=pnpm,target=/pnpm/store pnpm install --frozen-lockfile")
        self.from_("deps", "build")
        self.emit("COPY . .", f"RUN {tool} run build")
        if self.chance(0.3):
            self.emit(f"RUN {tool} prune --production" if tool != "pnpm" else "RUN pnpm prune --prod")
        self.from_(f"node:{self.rng.choice((18, 20, 22))}-alpine")
        self.emit("WORKDIR /app", "ENV NODE_ENV=production")
        self.emit("COPY --from=deps /app/node_modules ./node_modules", "COPY --from=build /app/dist ./dist")
        if self.chance(0.4):
            self.user_block()
        self.emit('CMD ["node", "dist/index.js"]')

    def python(self, app: str) -> None:
        version = f"3.{self.rng.randint(9, 13)}"
        self.from_(f"python:{version}-{self.pick(('slim', 'slim-bookworm', 'alpine'))}", "builder")
        self.emit("ENV PYTHONDONTWRITEBYTECODE=1 \\", "    PYTHONUNBUFFERED=1")
        self.emit("WORKDIR /app")
        if self.chance(0.4):
            self.apt_install(cached=self.cache_apt)
        style = self.rng.randrange(4)
        if style == 0:
            self.emit(
                "COPY requirements.txt .",
                "RUN --mount=type=cache,target=/root/.cache/pip pip install -r requirements.txt",
            )
        elif style == 1:
            self.emit(
                "RUN python -m venv /opt/venv",
                'ENV PATH="/opt/venv/bin:$PATH"',
                "COPY requirements.txt .",
                "RUN pip install --no-cache-dir -r requirements.txt",
            )
        elif style == 2:
            self.emit(
                "COPY --from=ghcr.io/astral-sh/uv:latest /uv /bin/uv",
                "ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy",
                "RUN --mount=type=cache,target=/root/.cache/uv \\",
                "    --mount=type=bind,source=uv.lock,target=uv.lock \\",
                "    --mount=type=bind,source=pyproject.toml,target=pyproject.toml \\",
                "    uv sync --frozen --no-install-project --no-dev",
            )
        else:
            self.emit(
                "RUN pip install --no-cache-dir poetry==1.8.3",
                "COPY pyproject.toml poetry.lock ./",
                "RUN poetry config virtualenvs.in-project true && poetry install --only main --no-root",
            )
        self.emit("COPY . .")
        if self.chance(0.3):
            self.emit(f"RUN pip install --no-cache-dir {' '.join(self.sample(PIP_PACKAGES, 1, 4))}")
        self.from_(f"python:{version}-slim")
        self.emit("WORKDIR /app", "COPY --from=builder /app /app")
        if self.chance(0.5):
            self.user_block()
        self.emit(f'CMD ["gunicorn", "--bind", "0.0.0.0:8000", "{app}.wsgi:application"]')

    def java(self, app: str) -> None:
        if self.chance(0.5):
            self.from_(f"maven:3.9-eclipse-temurin-{self.rng.choice((17, 21))}", "build")
            self.emit("WORKDIR /workspace", "COPY pom.xml .")
            self.emit("RUN --mount=type=cache,target=/root/.m2 mvn -B dependency:go-offline")
            self.emit("COPY src ./src", "RUN --mount=type=cache,target=/root/.m2 mvn -B package -DskipTests")
            jar = f"/workspace/target/{app}.jar"
        else:
            self.from_(f"gradle:8-jdk{self.rng.choice((17, 21))}", "build")
            self.emit("WORKDIR /home/gradle/project", "COPY --chown=gradle:gradle . .")
            self.emit("RUN --mount=type=cache,target=/home/gradle/.gradle gradle bootJar --no-daemon")
            jar = f"/home/gradle/project/build/libs/{app}.jar"
        self.from_(f"eclipse-temurin:{self.rng.choice((17, 21))}-jre")
        self.emit(f"COPY --from=build {jar} /app/app.jar")
        self.emit('ENTRYPOINT ["java", "-XX:MaxRAMPercentage=75", "-jar", "/app/app.jar"]')

    def dotnet(self, app: str) -> None:
        self.from_("mcr.microsoft.com/dotnet/sdk:8.0", "build")
        self.emit("WORKDIR /source", f"COPY *.csproj ./{app}/")
        self.emit(f"RUN --mount=type=cache,id=nuget,target=/root/.nuget/packages dotnet restore {app}/")
        self.emit("COPY . .")
        self.emit(
            "RUN --mount=type=cache,id=nuget,target=/root/.nuget/packages \\",
            f"    dotnet publish {app}/ -c Release --no-restore -o /app",
        )
        self.from_("mcr.microsoft.com/dotnet/aspnet:8.0")
        self.emit("WORKDIR /app", "COPY --from=build /app .")
        self.emit(f'ENTRYPOINT ["dotnet", "{app}.dll"]')

    def image(self) -> None:
        """A docker-library / tools style single-stage image."""
        alpine = self.chance(0.3)
        self.from_(
            "${BASE_IMAGE}"
            if self.lines and self.lines[0].startswith("ARG BASE")
            else self.pick(ALPINE_BASES if alpine else DEBIAN_BASES)
        )
        if self.chance(0.5):
            self.emit(f'LABEL maintainer="dev{self.rng.randint(1, 99)}@example.com"')
        if self.chance(0.4):
            self.env_block()
        (self.apk_add if alpine else self.apt_install)(cached=self.cache_apt)
        if not self.small and not alpine and self.chance(0.5):
            self.release_build()
        if self.chance(0.2):
            self.emit(f"RUN npm install -g {' '.join(self.sample(NPM_PACKAGES, 1, 3))}")
        if self.chance(0.3):
            self.emit("COPY docker-entrypoint.sh /usr/local/bin/", 'ENTRYPOINT ["docker-entrypoint.sh"]')
        if self.chance(0.3):
            self.emit("WORKDIR /data", "VOLUME /data")
        self.runtime_tail(self.pick(PROJECTS))


RECIPES: dict[str, Callable[[Gen, str], None]] = {
    "rust": Gen.rust,
    "go": Gen.go,
    "node": Gen.node,
    "python": Gen.python,
    "java": Gen.java,
    "dotnet": Gen.dotnet,
}


def _target_size(rng: random.Random) -> int:
    # Log-normal through (median 1.2 KB, p90 6 KB): with the smaller fixture and real files mixed
    # in, the whole corpus lands near the survey's median 840 B and p90 5 KB.
    mu, sigma = math.log(1200), (math.log(6000) - math.log(1200)) / 1.2816
    while True:  # truncated: redrawn above the survey's largest file
        size = rng.lognormvariate(mu, sigma)
        if size <= 25_000:
            return int(max(150, size))


def synthetic_text(rng: random.Random, fixtures: list[Entry]) -> tuple[str, str]:
    """One generated Dockerfile and the recipe that made it."""
    gen = Gen(rng)
    target = _target_size(rng)
    gen.small = target < 1500
    if not gen.small:
        gen.header()
    app = gen.pick(PROJECTS)
    mounts = rng.random() < 0.12
    gen.cache_apt = rng.random() < (0.5 if mounts else 0.04)
    embed = rng.random() < 0.08
    while True:
        size = sum(len(line) + 1 for line in gen.lines)
        if size >= target:
            break
        stages = sum(line.startswith("FROM ") for line in gen.lines)
        if stages >= 6 and gen.recipes:
            kind = "more"
            gen.more()
        elif mounts and (not gen.recipes or rng.random() < 0.6):
            kind = rng.choice(list(RECIPES))
            RECIPES[kind](gen, app)
        elif fixtures and embed and size > 200:
            embed = False
            fixture = rng.choice(fixtures)
            kind = f"embed({fixture.name})"
            gen.blank()
            gen.emit(*fixture.text.splitlines())
        elif gen.recipes and rng.random() < 0.85:
            kind = "more"
            gen.more()
        else:
            kind = "image"
            gen.image()
        if rng.random() < 0.04:
            (gen.heredoc_copy if rng.random() < 0.4 else gen.heredoc_run)()
            kind += "+heredoc"
        gen.recipes.append(kind)
        app = gen.pick(PROJECTS)
    if target < 250:
        # Tiny files: a FROM and a line or two, as real repositories have plenty of.
        gen.lines = [line for line in gen.lines if line][: rng.randint(1, 4)]
    text = "\n".join(gen.lines).strip("\n") + "\n"
    if rng.random() < 0.03:
        text = text.replace("\n", "\r\n")
    return text, "+".join(gen.recipes)


def build_entries(count: int, seed: int, real: bool) -> tuple[list[Entry], list[str]]:
    entries = fixture_entries()
    notes: list[str] = []
    if real:
        found, notes = real_entries()
        entries += found
    rng = random.Random(seed)
    # Only valid, rule-annotated fixtures are embedded in synthetic files.
    embeddable = [
        e
        for e in entries
        if e.name.startswith("fixtures/BKM") and ".fixed." not in e.name and "# escape=" not in e.text
    ]
    for i in range(max(0, count - len(entries))):
        text, recipe = synthetic_text(rng, embeddable)
        entries.append(Entry(f"synthetic/{i:04d}.Dockerfile", text, f"synthetic:seed={seed}:{i}:{recipe}"))
    return entries, notes


def stats(sizes: list[int]) -> str:
    ordered = sorted(sizes)

    def at(fraction: float) -> int:
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]

    return (
        f"{len(sizes)} files, {sum(sizes):,} bytes; size median {statistics.median(sizes):,.0f} B, "
        f"p10 {at(0.1):,} B, p90 {at(0.9):,} B, p99 {at(0.99):,} B, max {max(sizes):,} B"
    )


def stamp(count: int, seed: int, real: bool) -> str:
    return f"version={VERSION} count={count} seed={seed} real={real}"


def write_corpus(
    directory: Path = DEFAULT_DIR, count: int = DEFAULT_COUNT, seed: int = DEFAULT_SEED, real: bool = True
) -> list[str]:
    """(Re)write the corpus; returns notes (sources left out)."""
    entries, notes = build_entries(count, seed, real)
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    rows = ["file\tbytes\tlines\tsource"]
    for entry in entries:
        path = directory / entry.name
        path.parent.mkdir(parents=True, exist_ok=True)
        data = entry.text.encode("utf-8", "surrogateescape")
        path.write_bytes(data)
        rows.append(f"{entry.name}\t{len(data)}\t{entry.text.count(chr(10))}\t{entry.source}")
    (directory / "SOURCES.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    summary = [stats([len(e.text.encode("utf-8", "surrogateescape")) for e in entries])]
    for prefix in ("fixtures/", "real/", "synthetic/"):
        group = [len(e.text.encode("utf-8", "surrogateescape")) for e in entries if e.name.startswith(prefix)]
        if group:
            summary.append(f"{prefix:<11} {stats(group)}")
    with_mount = sum("--mount" in e.text for e in entries)
    heredoc = sum("<<" in e.text for e in entries)
    summary.append(f"files with --mount: {with_mount}, with a heredoc (`<<`): {heredoc}")
    summary += notes
    (directory / "STATS.txt").write_text("\n".join(summary) + "\n", encoding="utf-8")
    (directory / "STAMP").write_text(stamp(count, seed, real) + "\n", encoding="utf-8")
    return notes


def ensure_corpus(directory: Path = DEFAULT_DIR) -> Path:
    """The default corpus, generated when missing or made by another version of this script."""
    stamp_file = directory / "STAMP"
    wanted = stamp(DEFAULT_COUNT, DEFAULT_SEED, True)
    if not stamp_file.exists() or stamp_file.read_text(encoding="utf-8").strip() != wanted:
        for note in write_corpus(directory):
            print(f"corpus: {note}", file=sys.stderr)
    return directory


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.corpus", description=__doc__.splitlines()[0])
    parser.add_argument("directory", nargs="?", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--count", type=int, default=DEFAULT_COUNT)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--no-real", action="store_true", help="leave out the registry packages' files")
    args = parser.parse_args(argv)
    for note in write_corpus(args.directory, args.count, args.seed, not args.no_real):
        print(note, file=sys.stderr)
    print((args.directory / "STATS.txt").read_text(encoding="utf-8"), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
