"""`mountie fix`: in place and `--diff`, atomically, only changed files, overlapping fixes in passes,
and the exit-status policy."""

from __future__ import annotations

import functools
import io
import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import bot.cli
from bot.analysis import Analysis
from bot.cli import fix_text
from bot.engine import LintOptions
from bot.rules.base import Edit, Finding, Fix, FixAvailability, Rule, Severity
from tests.cli.conftest import CLEAN, MOTIVATING, MOTIVATING_FIXED, UNFIXABLE, run_process, write


def test_fix_in_place_as_a_process(tmp_path: Path) -> None:
    path = write(tmp_path, "Dockerfile", MOTIVATING)
    path.chmod(0o640)
    done = run_process("fix", "Dockerfile", cwd=tmp_path)
    assert (done.code, done.err) == (0, "")
    assert done.out.splitlines() == [
        "Dockerfile:6: fixed BKM001: Move the artifact out of the mount in the same RUN",
        "Fixed 1 finding in 1 file.",
    ]
    assert path.read_text() == MOTIVATING_FIXED
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["Dockerfile"]  # no temporary file left
    again = run_process("check", "Dockerfile", cwd=tmp_path)
    assert again.code == 0


def test_fix_diff_does_not_write(cli, tmp_path: Path) -> None:
    path = write(tmp_path, "svc/Dockerfile", MOTIVATING)
    done = cli("fix", "--diff", "svc")
    assert done.code == 0
    assert path.read_text() == MOTIVATING
    assert done.out == (
        "--- a/svc/Dockerfile\n"
        "+++ b/svc/Dockerfile\n"
        "@@ -1,6 +1,6 @@\n"
        " FROM rust:1.79 AS builder\n"
        " WORKDIR /app\n"
        " COPY . .\n"
        "-RUN --mount=type=cache,target=/app/target cargo build --release\n"
        "+RUN --mount=type=cache,target=/app/target cargo build --release && mv target/release/app /tmp/app\n"
        " FROM debian:bookworm-slim\n"
        "-COPY --from=builder /app/target/release/app /usr/local/bin/app\n"
        "+COPY --from=builder /tmp/app /usr/local/bin/app\n"
    )
    assert done.err.splitlines() == [
        "svc/Dockerfile:6: fixed BKM001: Move the artifact out of the mount in the same RUN",
        "Would fix 1 finding in 1 file.",
    ]


def test_fix_diff_applies_with_patch(tmp_path: Path) -> None:
    import shutil
    import subprocess

    if shutil.which("patch") is None:
        pytest.skip("no patch(1)")
    write(tmp_path, "svc/Dockerfile", MOTIVATING.rstrip("\n"))
    diff = run_process("fix", "--diff", cwd=tmp_path).out
    assert "\\ No newline at end of file" in diff
    subprocess.run(["patch", "-p1", "--quiet"], input=diff.encode(), cwd=tmp_path, check=True)
    assert (tmp_path / "svc/Dockerfile").read_text() == MOTIVATING_FIXED.rstrip("\n")


def test_unchanged_files_are_not_written(cli, tmp_path: Path) -> None:
    clean = write(tmp_path, "a/Dockerfile", CLEAN)
    fixable = write(tmp_path, "b/Dockerfile", MOTIVATING)
    before = clean.stat()
    done = cli("fix", ".")
    assert done.code == 0
    after = clean.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert fixable.read_text() == MOTIVATING_FIXED
    nothing = cli("fix", ".")
    assert (nothing.code, nothing.out) == (0, "Nothing to fix.\n")


def test_unfixable_findings_remain_and_exit_1(cli, tmp_path: Path) -> None:
    path = write(tmp_path, "Dockerfile", UNFIXABLE)
    done = cli("fix")
    assert done.code == 1
    assert path.read_text() == UNFIXABLE
    lines = done.out.splitlines()
    assert lines[0].startswith("Dockerfile:7:1: BKM001 [warning]")
    assert lines[1] == "    no fix: the path uses $BIN, whose value is not known from the Dockerfile"
    assert lines[-1] == "Nothing to fix; 1 finding remains."
    assert cli("fix", "--fail-level", "error").code == 0  # only a warning remains


def test_fix_keeps_bom_and_crlf(cli, tmp_path: Path) -> None:
    path = write(tmp_path, "Dockerfile", b"\xef\xbb\xbf" + MOTIVATING.replace("\n", "\r\n").encode())
    assert cli("fix").code == 0
    assert path.read_bytes() == b"\xef\xbb\xbf" + MOTIVATING_FIXED.replace("\n", "\r\n").encode()


def test_fix_through_a_symlink_keeps_the_link(cli, tmp_path: Path) -> None:
    target = write(tmp_path, "real/Dockerfile", MOTIVATING)
    (tmp_path / "Dockerfile").symlink_to(target)
    assert cli("fix", "Dockerfile").code == 0
    assert (tmp_path / "Dockerfile").is_symlink()
    assert target.read_text() == MOTIVATING_FIXED


def test_fix_stdin_prints_the_fixed_text(cli, monkeypatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(MOTIVATING.encode()), encoding="utf-8"))
    done = cli("fix", "-")
    assert (done.code, done.out) == (0, MOTIVATING_FIXED)
    assert done.err.splitlines()[-1] == "Fixed 1 finding in 1 file."


def test_bad_file_among_good_ones(cli, tmp_path: Path) -> None:
    good = write(tmp_path, "good/Dockerfile", MOTIVATING)
    write(tmp_path, "bad/Dockerfile", b"\xff\xfe")
    done = cli("fix", "bad", "good", "missing")
    assert done.code == 2
    assert good.read_text() == MOTIVATING_FIXED
    assert done.err.splitlines() == [
        "missing: error: no such file or directory",
        "bad/Dockerfile: error: not UTF-8 text (byte 0xff at offset 0)",
    ]


def test_write_failure_is_reported(cli, tmp_path: Path, monkeypatch) -> None:
    def read_only(path: str, data: bytes) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(bot.cli, "write_atomic", read_only)
    write(tmp_path, "Dockerfile", MOTIVATING)
    done = cli("fix")
    assert done.code == 2
    assert done.err == "Dockerfile: error: cannot write the fixed file: permission denied\n"


def test_atomic_write_cleans_up_on_failure(tmp_path: Path, monkeypatch) -> None:
    path = write(tmp_path, "Dockerfile", "old\n")

    def fail(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="No space"):
        bot.cli.write_atomic(str(path), b"new\n")
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["Dockerfile"]


# --- overlapping fixes, with stand-in rules -------------------------------------------------------


def _rule(code: str, severity: Severity, check) -> Rule:
    return Rule(code, f"test-{code.lower()}", "a stand-in rule", severity, FixAvailability.ALWAYS, check, "")


def _lines(analysis: Analysis) -> list[str]:
    return analysis.dockerfile.text.split("\n")


def _rewrite_x(analysis: Analysis) -> Iterator[Finding]:
    """Fires on `RUN x`; replaces that line."""
    for number, line in enumerate(_lines(analysis), start=1):
        if line == "RUN x":
            fix = Fix("rewrite x", (Edit(number, number, "RUN x-fixed"),))
            yield RULE_X.finding(number, "x is bad", fix=fix)


def _rewrite_y(analysis: Analysis) -> Iterator[Finding]:
    """Fires on `RUN y`; its fix rewrites the line before it too, so it overlaps `_rewrite_x`."""
    lines = _lines(analysis)
    for number, line in enumerate(lines, start=1):
        if line == "RUN y":
            fix = Fix("rewrite y", (Edit(number - 1, number, f"{lines[number - 2]}\nRUN y-fixed"),))
            yield RULE_Y.finding(number, "y is bad", fix=fix)


def _always(analysis: Analysis) -> Iterator[Finding]:
    """Always fires, and its fix never makes it go away."""
    first = _lines(analysis)[0]
    yield RULE_Z.finding(1, "never satisfied", fix=Fix("append", (Edit(1, 1, first + "\nRUN true"),)))


def _breaks(analysis: Analysis) -> Iterator[Finding]:
    for number, line in enumerate(_lines(analysis), start=1):
        if line == "RUN x":
            yield RULE_B.finding(
                number, "fix breaks the file", fix=Fix("break", (Edit(number, number, "RUN <<EOF"),))
            )


RULE_X = _rule("BKM901", Severity.ERROR, _rewrite_x)
RULE_Y = _rule("BKM902", Severity.WARNING, _rewrite_y)
RULE_Z = _rule("BKM903", Severity.WARNING, _always)
RULE_B = _rule("BKM904", Severity.WARNING, _breaks)


def test_overlapping_fixes_are_applied_in_passes() -> None:
    outcome = fix_text("FROM alpine\nRUN x\nRUN y\n", "Dockerfile", LintOptions(rules=(RULE_X, RULE_Y)))
    assert outcome.text == "FROM alpine\nRUN x-fixed\nRUN y-fixed\n"
    assert [f.code for f in outcome.applied] == ["BKM901", "BKM902"]  # the error first
    assert outcome.result.findings == ()


def test_a_fix_that_never_converges_is_applied_once() -> None:
    outcome = fix_text("FROM alpine\n", "Dockerfile", LintOptions(rules=(RULE_Z,)))
    assert outcome.text == "FROM alpine\nRUN true\n"
    assert len(outcome.result.findings) == 1


def test_a_fix_that_breaks_the_file_is_dropped(cli, tmp_path: Path, monkeypatch) -> None:
    outcome = fix_text("FROM alpine\nRUN x\n", "Dockerfile", LintOptions(rules=(RULE_B,)))
    assert outcome.unparsable
    assert outcome.text == "FROM alpine\nRUN x\n"
    monkeypatch.setattr(bot.cli, "LintOptions", functools.partial(LintOptions, rules=(RULE_B,)))
    write(tmp_path, "Dockerfile", "FROM alpine\nRUN x\n")
    done = cli("fix")
    assert done.code == 1
    assert "    fix not applied: the fixed file would not parse (please report it)" in done.out
    assert (tmp_path / "Dockerfile").read_text() == "FROM alpine\nRUN x\n"


def test_overlapping_fixes_through_the_command(cli, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(bot.cli, "LintOptions", functools.partial(LintOptions, rules=(RULE_X, RULE_Y)))
    write(tmp_path, "Dockerfile", "FROM alpine\nRUN x\nRUN y\n")
    done = cli("fix")
    assert done.code == 0
    assert done.out.splitlines() == [
        "Dockerfile:2: fixed BKM901: rewrite x",
        "Dockerfile:3: fixed BKM902: rewrite y",
        "Fixed 2 findings in 1 file.",
    ]
    assert (tmp_path / "Dockerfile").read_text() == "FROM alpine\nRUN x-fixed\nRUN y-fixed\n"


def test_fix_passes_are_bounded(monkeypatch) -> None:
    monkeypatch.setattr(bot.cli, "MAX_FIX_PASSES", 1)
    outcome = fix_text("FROM alpine\nRUN x\nRUN y\n", "Dockerfile", LintOptions(rules=(RULE_X, RULE_Y)))
    assert outcome.text == "FROM alpine\nRUN x-fixed\nRUN y\n"
    assert [f.code for f in outcome.result.findings] == ["BKM902"]
