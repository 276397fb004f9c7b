"""Helpers for the `mountie` command tests: small Dockerfiles, and running the command both as a
real process and in-process through `main(argv)`."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.cli import main

ROOT = Path(__file__).resolve().parents[2]

# The motivating case: the binary is built into a cache mount and copied from where it never was.
MOTIVATING = """\
FROM rust:1.79 AS builder
WORKDIR /app
COPY . .
RUN --mount=type=cache,target=/app/target cargo build --release
FROM debian:bookworm-slim
COPY --from=builder /app/target/release/app /usr/local/bin/app
"""

MOTIVATING_FIXED = """\
FROM rust:1.79 AS builder
WORKDIR /app
COPY . .
RUN --mount=type=cache,target=/app/target cargo build --release && mv target/release/app /tmp/app
FROM debian:bookworm-slim
COPY --from=builder /tmp/app /usr/local/bin/app
"""

# The path depends on an ARG with no value: a finding without a fix.
UNFIXABLE = (
    "FROM rust:1.79 AS builder\nWORKDIR /app\nCOPY . .\n"
    "RUN --mount=type=cache,target=/app/target cargo build --release\n"
    "FROM debian:bookworm-slim\nARG BIN\nCOPY --from=builder /app/target/release/$BIN /usr/local/bin/app\n"
)

CLEAN = """\
FROM python:3.12-slim
RUN --mount=type=cache,target=/root/.cache/pip pip install requests
COPY app.py /app/
"""


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str


def run_process(*args: str, cwd: Path, stdin: bytes | None = None) -> Run:
    """`python -m bot ARGS` as a separate process."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("MOUNTIE_DEBUG", None)
    done = subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        input=stdin if stdin is not None else b"",
        capture_output=True,
        env=env,
        timeout=60,
        check=False,
    )
    return Run(done.returncode, done.stdout.decode("utf-8"), done.stderr.decode("utf-8"))


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """Run `main(argv)` in-process, in tmp_path; returns a Run."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MOUNTIE_DEBUG", raising=False)

    def invoke(*args: str) -> Run:
        capsys.readouterr()
        code = main(list(args))
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return invoke


def write(directory: Path, name: str, text: str | bytes) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_bytes(text.encode("utf-8"))
    return path
