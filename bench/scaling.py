"""How the engine's time grows with the size of a Dockerfile: it must grow linearly.

    python -m bench.scaling [PNG] [--quick] [--check] [--no-gc]     (default PNG: deploy/scaling.png)

Times Mountie's whole engine (`bot.engine.lint_text`: the model, all 15 rules and their fixes) on
generated Dockerfiles made of realistic pieces: multi-stage builds whose RUNs use cache, bind,
secret and tmpfs mounts, `RUN <<EOF` and `COPY <<EOF` heredocs, apt-get installs with long
`\\`-continued package lists, ARG/ENV chains, WORKDIR changes and `COPY --from` between stages
(every third stage builds `FROM` the one before). Four series, each point the best of several runs:

* size: 1 KB to 1 MiB (doubling): one stage per 16 KB (up to 64) of up to 20 instructions, whose
  package lists and scripts grow once the instructions fill the stage;
* instructions: 16 to 1,980 ordinary instructions in 4 stages (each stage's chain grows: the
  shape whose pairwise checks used to cost quadratic time);
* stages: 1 to 200 stages of 8 instructions each;
* one RUN: a single RUN whose `&& \\` continuation chain grows from 1 KB to 1 MiB.

Times are CPU time of this process (`time.process_time`), which other processes on a shared
machine disturb less than wall-clock time. Everything stays within the engine's limits (1 MiB,
2,000 instructions, FROM chains of 50 stages). Prints a table (instructions, time, microseconds
per KB, findings) and writes a two-panel plot. Linear growth is a flat microseconds-per-KB line;
the script reports each series' slope of log(time) against log(size) over the upper half of its
points (1.00 is linear) and, with `--check`, exits 1 when one is over 1.15 (with `--no-gc`: see
below).

The largest files cost up to a third more per KB with CPython's cyclic garbage collector on:
each full collection walks the whole live model, which is larger. `--no-gc` times the engine
alone, whose cost per KB is then flat. `--quick` stops the byte series at 256 KB, the instruction
series at 512 and the stages at 50. Needs matplotlib (`pip install -e '.[bench]'`).
"""

from __future__ import annotations

import argparse
import gc
import math
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bot.dockerfile.model import parse_dockerfile
from bot.engine import MAX_INSTRUCTIONS, lint_text

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PNG = ROOT / "deploy" / "scaling.png"
KB = 1024
SIZES = [KB * 2**k for k in range(11)]  # 1 KB .. 1 MB
STAGES = [1, 2, 5, 10, 20, 50, 100, 200]
INSTRUCTIONS = [16 * 2**k for k in range(7)] + [MAX_INSTRUCTIONS - 20]  # 16 .. 1,024, then the cap
INSTRUCTION_SERIES_STAGES = 4
MAX_STAGES = 200
SIZE_SERIES_MAX_STAGES = 64
SIZE_SERIES_STAGE_INSTRUCTIONS = 20
_TWO_INSTRUCTIONS = (3, 4, 9)  # `_instruction` kinds that are two instructions (ARG+ENV, ...)
MAX_SLOPE = 1.15
MIN_RUNS = 3
TIME_BUDGET = 0.5  # seconds per point, beyond the first MIN_RUNS runs

_SYNTAX = "# syntax=docker/dockerfile:1"
_IMAGES = ("rust:1.79", "golang:1.22", "node:20-bookworm", "python:3.12-slim", "maven:3.9-eclipse-temurin-21")
_PACKAGES = (
    "build-essential", "ca-certificates", "curl", "git", "libssl-dev", "pkg-config", "cmake", "clang",
    "libpq-dev", "zlib1g-dev", "unzip", "xz-utils", "jq", "openssh-client", "gnupg", "tzdata",
)  # fmt: skip


def _apt_install(rng: random.Random, packages: int) -> str:
    names = [rng.choice(_PACKAGES) + (f"={rng.randint(1, 9)}.{rng.randint(0, 20)}") for _ in range(packages)]
    chain = " \\\n        ".join(names)
    return (
        "RUN --mount=type=cache,target=/var/cache/apt,sharing=locked \\\n"
        "    --mount=type=cache,target=/var/lib/apt/lists,sharing=locked \\\n"
        "    rm -f /etc/apt/apt.conf.d/docker-clean && \\\n"
        "    apt-get update && \\\n"
        f"    apt-get install -y --no-install-recommends \\\n        {chain} && \\\n"
        "    echo installed"
    )


def _heredoc_run(rng: random.Random, index: int, lines: int) -> str:
    body = "\n".join(
        f"echo step {index}.{n} && ls -la /app/src/{rng.randint(0, 99)} >> /tmp/build-{index}.log"
        for n in range(lines)
    )
    return f"RUN --mount=type=tmpfs,target=/tmp/scratch <<EOF\nset -eux\n{body}\nEOF"


def _instruction(rng: random.Random, stage: int, index: int, scale: float = 1.0) -> str:
    """One realistic instruction (sometimes two) for stage `stage`; `scale` lengthens the long ones
    (package lists, heredoc scripts, `&& \\` chains), as larger real Dockerfiles have longer RUNs."""
    kind = index % 10
    more = max(0, round(3 * (scale - 1)))
    if kind == 0:
        copies = "".join(
            f" && \\\n    cp target/release/tool{n} /usr/local/bin/tool{index}-{n}" for n in range(more)
        )
        return (
            f"RUN --mount=type=cache,target=/root/.cargo/registry \\\n"
            f"    --mount=type=cache,target=/app/target,id=target-{stage} \\\n"
            f"    --mount=type=bind,source=src,target=/app/src \\\n"
            f"    cargo build --release --bin app{index} && \\\n"
            f"    cp target/release/app{index} /usr/local/bin/app{index}{copies}"
        )
    if kind == 1:
        return _apt_install(rng, round(rng.randint(6, 14) * scale))
    if kind == 2:
        return _heredoc_run(rng, index, round(rng.randint(4, 10) * scale))
    if kind == 3:
        return (
            f"ARG VERSION_{index}={rng.randint(1, 9)}.{rng.randint(0, 30)}\n"
            f"ENV APP_{index}_VERSION=${{VERSION_{index}:-0.0}} PATH=/opt/app{index}/bin:$PATH"
        )
    if kind == 4:
        module = f"module{index % 7}"
        return f"WORKDIR /app/{module}\nCOPY {module}/package.json {module}/package-lock.json ./"
    if kind == 5:
        builds = "".join(f" && npm run build --workspace=pkg{index}-{n}" for n in range(more))
        return (
            "RUN --mount=type=cache,target=/root/.npm \\\n"
            "    --mount=type=secret,id=npmrc,target=/root/.npmrc \\\n"
            f"    npm ci --omit=dev && npm run build --workspace=pkg{index}{builds}"
        )
    if kind == 6:
        settings = "".join(f"option_{n} = {rng.randint(0, 999)}\n" for n in range(2 * more))
        return (
            f"COPY <<EOF /etc/app/config-{index}.toml\n"
            f"[server]\nport = {8000 + index}\nworkers = {rng.randint(1, 16)}\n{settings}EOF"
        )
    if kind == 7:
        return (
            "RUN --mount=type=cache,target=/root/.cache/go-build \\\n"
            "    --mount=type=cache,target=/go/pkg/mod \\\n"
            f"    go build -trimpath -o /out/svc{index} ./cmd/svc{index}"
        )
    if kind == 8:
        return (
            "RUN --mount=type=cache,target=/root/.cache/pip \\\n"
            f"    pip install --prefix=/install -r requirements-{index % 5}.txt"
        )
    return f'LABEL org.opencontainers.image.version="{stage}.{index}"\nUSER {1000 + stage % 3}'


def _stage_header(rng: random.Random, stage: int) -> str:
    if stage > 0 and stage % 3 == 0:
        return f"FROM stage{stage - 1} AS stage{stage}"
    return f"FROM {rng.choice(_IMAGES)} AS stage{stage}\nWORKDIR /app"


def _stage_footer(stage: int) -> str:
    if stage == 0:
        return ""
    return (
        f"COPY --from=stage{stage - 1} /usr/local/bin/ /usr/local/bin/\n"
        f"COPY --from=stage{stage - 1} /app/target/release/app0 /srv/app"
    )


def _file(stages: int, fits: Callable[[int, int, int], bool], scale: float, seed: int) -> str:
    """Stages filled round-robin with instructions while `fits(bytes so far, instructions so far,
    the next piece's bytes)` allows (instructions: the ones the pieces add, headers aside)."""
    rng = random.Random(seed)
    bodies: list[list[str]] = [[_stage_header(rng, s)] for s in range(stages)]
    footers = [_stage_footer(s) for s in range(stages)]
    total = len(_SYNTAX) + 1 + sum(len(b[0]) + 1 for b in bodies) + sum(len(f) + 1 for f in footers if f)
    index = instructions = 0
    while True:
        piece = _instruction(rng, index % stages, index, scale)
        if not fits(total, instructions, len(piece) + 1):
            break
        bodies[index % stages].append(piece)
        total += len(piece) + 1
        instructions += 2 if index % 10 in _TWO_INSTRUCTIONS else 1
        index += 1
    parts = [_SYNTAX]
    for body, footer in zip(bodies, footers, strict=True):
        parts.extend(body + ([footer] if footer else []))
    return "\n".join(parts) + "\n"


def size_series_file(size: int, seed: int = 1) -> str:
    """At most `size` bytes: one stage per 16 KB (1 to 64) of up to 20 instructions each; once
    those fill a stage's share, its long instructions (package lists, scripts) grow instead, as
    larger real Dockerfiles have longer RUNs rather than thousands of instructions."""
    stages = min(SIZE_SERIES_MAX_STAGES, max(1, size // (16 * KB)))
    most = SIZE_SERIES_STAGE_INSTRUCTIONS * stages

    def make(scale: float) -> str:
        return _file(stages, lambda total, done, piece: total + piece <= size and done < most, scale, seed)

    low, high = 1.0, 64.0
    if _pieces(make(low)) < most:
        return make(low)  # small files: ordinary instructions fill them
    for _ in range(12):  # the largest scale whose file still holds every instruction
        middle = (low + high) / 2
        if _pieces(make(middle)) >= most:
            low = middle
        else:
            high = middle
    return make(low)


def _pieces(text: str) -> int:
    """Instructions `_file` added (the model's count, less the stage headers and footers)."""
    df = parse_dockerfile(text)
    return len(df.instructions) - sum(1 + (s.parent is None) for s in df.stages) - 2 * (len(df.stages) - 1)


def instructions_series_file(count: int, seed: int = 3) -> str:
    """About `count` ordinary instructions in 4 stages (each stage's chain grows with the file)."""
    return _file(INSTRUCTION_SERIES_STAGES, lambda _, done, __: done < count, 1.0, seed)


def stages_series_file(stages: int, seed: int = 2) -> str:
    """`stages` stages of about 1.7 KB, 8 instructions, each."""
    return _file(stages, lambda _, done, __: done < 4 * stages, 1.5, seed)


def one_run_file(size: int) -> str:
    """At most `size` bytes: one RUN whose `&& \\` chain fills the file."""
    head = (
        "FROM debian:bookworm-slim AS build\nWORKDIR /src\n"
        "RUN --mount=type=cache,target=/var/cache/apt,sharing=locked \\\n    set -eux"
    )
    tail = "\nFROM scratch\nCOPY --from=build /out/ /\n"
    step = " && \\\n    echo building module-{0} && make -C module-{0} install DESTDIR=/out"
    parts = [head]
    total = len(head) + len(tail)
    n = 0
    while total + len(step.format(n)) <= size:
        piece = step.format(n)
        parts.append(piece)
        total += len(piece)
        n += 1
    return "".join(parts) + tail


@dataclass(frozen=True)
class Point:
    series: str
    x: int  # the series' variable: bytes, instructions or stages
    size: int  # bytes of the file
    instructions: int
    seconds: float  # best of the runs
    runs: int
    findings: int


def _time(text: str) -> tuple[float, int, int, int]:
    best = math.inf
    runs = 0
    spent = 0.0
    findings = instructions = 0
    while runs < MIN_RUNS or (spent < TIME_BUDGET and runs < 50):
        start = time.process_time()
        result = lint_text(text)
        elapsed = time.process_time() - start
        if result.fatal or result.dockerfile is None:
            raise SystemExit(f"the engine did not analyse a generated file: {result.problems}")
        findings = len(result.findings)
        instructions = len(result.dockerfile.instructions)
        best = min(best, elapsed)
        spent += elapsed
        runs += 1
    return best, runs, findings, instructions


def measure(series: str, xs: list[int], make: Callable[[int], str]) -> list[Point]:
    points = []
    for x in xs:
        text = make(x)
        size = len(text.encode())
        seconds, runs, findings, instructions = _time(text)
        points.append(Point(series, x, size, instructions, seconds, runs, findings))
        print(
            f"{series:<12} {x:>9,} {size:>11,} B {instructions:>6,} {seconds * 1000:>10.2f} ms "
            f"{seconds * 1e6 / (size / KB):>9.1f} us/KB {findings:>6} findings ({runs} runs)",
            flush=True,
        )
    return points


def slope(points: list[Point]) -> float:
    """Least-squares slope of log(time) on log(bytes) over the upper half of the points."""
    upper = points[len(points) // 2 :]
    xs = [math.log(p.size) for p in upper]
    ys = [math.log(p.seconds) for p in upper]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    num = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True))
    den = sum((x - mean_x) ** 2 for x in xs)
    return num / den


def plot(series: dict[str, list[Point]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 5), dpi=110)
    styles = {
        "size": ("tab:blue", "o"),
        "instructions": ("tab:red", "D"),
        "stages": ("tab:orange", "s"),
        "one RUN": ("tab:green", "^"),
    }
    labels = {
        "size": f"realistic mix, 1 KB - {series['size'][-1].size / KB / KB:.0f} MB",
        "instructions": f"{series['instructions'][0].x} - {series['instructions'][-1].x:,} instructions",
        "stages": f"{series['stages'][0].x} - {series['stages'][-1].x} stages of 8 instructions",
        "one RUN": "one RUN, growing && \\ chain",
    }
    for name, points in series.items():
        color, marker = styles[name]
        sizes_kb = [p.size / KB for p in points]
        left.loglog(
            sizes_kb,
            [p.seconds * 1000 for p in points],
            marker=marker,
            color=color,
            label=f"{labels[name]} (slope {slope(points):.2f})",
        )
        right.semilogx(
            sizes_kb, [p.seconds * 1e6 / (p.size / KB) for p in points], marker=marker, color=color
        )
    # A slope-1 guide through the size series' largest point.
    last = series["size"][-1]
    guide_x = [0.5, last.size / KB * 1.5]
    guide_y = [last.seconds * 1000 * x / (last.size / KB) for x in guide_x]
    left.loglog(guide_x, guide_y, "--", color="grey", linewidth=1, label="linear (time ∝ size)")
    left.set_xlabel("Dockerfile size (KB)")
    left.set_ylabel("engine CPU time, best of runs (ms)")
    left.set_title("Whole engine (model, 15 rules, fixes): time by size")
    left.legend(fontsize=8, loc="upper left")
    left.grid(True, which="both", alpha=0.3)
    right.set_xlabel("Dockerfile size (KB)")
    right.set_ylabel("microseconds per KB")
    right.set_ylim(bottom=0)
    right.set_title("Cost per KB: flat means linear")
    right.grid(True, which="both", alpha=0.3)
    collector = "off" if not gc.isenabled() else "on"
    fig.suptitle(f"Mountie engine scaling (python -m bench.scaling; cyclic GC {collector})", fontsize=11)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scaling", description=__doc__.splitlines()[0])
    parser.add_argument("png", nargs="?", type=Path, default=DEFAULT_PNG, help=f"default {DEFAULT_PNG}")
    parser.add_argument("--quick", action="store_true", help="up to 256 KB, 512 instructions, 50 stages")
    parser.add_argument("--check", action="store_true", help=f"exit 1 when a slope is over {MAX_SLOPE}")
    parser.add_argument("--no-gc", action="store_true", help="time with the cyclic garbage collector off")
    args = parser.parse_args(argv)
    if args.no_gc:
        gc.disable()

    sizes = [s for s in SIZES if not args.quick or s <= 256 * KB]
    counts = [n for n in INSTRUCTIONS if not args.quick or n <= 512]
    stages = [s for s in STAGES if not args.quick or s <= 50]
    collector = "off" if args.no_gc else "on"
    print(f"python {sys.version.split()[0]}; best of >= {MIN_RUNS} runs per point; cyclic GC {collector}")
    print(f"{'series':<12} {'x':>9} {'size':>13} {'instr':>6} {'time':>13} {'per KB':>15} {'findings':>15}")
    series = {
        "size": measure("size", sizes, size_series_file),
        "instructions": measure("instructions", counts, instructions_series_file),
        "stages": measure("stages", stages, stages_series_file),
        "one RUN": measure("one RUN", sizes, one_run_file),
    }
    worst = 0.0
    for name, points in series.items():
        value = slope(points)
        worst = max(worst, value)
        print(f"{name}: log-log slope over the upper half {value:.2f} (1.00 = linear)")
    plot(series, args.png)
    print(f"plot written to {args.png}")
    if args.check and worst > MAX_SLOPE:
        print(f"super-linear: a slope is over {MAX_SLOPE}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
