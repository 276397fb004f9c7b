"""`mountie check`: text output, exit statuses, standard input, discovery, .dockerignore pickup
and every kind of bad input."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from tests.cli.conftest import CLEAN, MOTIVATING, UNFIXABLE, run_process, write

# --- the real process ---------------------------------------------------------------------------


def test_motivating_dockerfile_as_a_process(tmp_path: Path) -> None:
    write(tmp_path, "Dockerfile", MOTIVATING)
    done = run_process("check", "Dockerfile", cwd=tmp_path)
    assert done.code == 1, done.err
    assert done.err == ""
    lines = done.out.splitlines()
    assert lines[0].startswith(
        "Dockerfile:6:1: BKM001 [error] COPY --from=builder reads /app/target/release/app"
    )
    assert lines[1] == "    fix: Move the artifact out of the mount in the same RUN"
    assert "    --- a/Dockerfile" in lines
    assert "    +++ b/Dockerfile" in lines
    assert "    -RUN --mount=type=cache,target=/app/target cargo build --release" in lines
    fixed_run = (
        "RUN --mount=type=cache,target=/app/target cargo build --release && mv target/release/app /tmp/app"
    )
    assert f"    +{fixed_run}" in lines
    assert "    +COPY --from=builder /tmp/app /usr/local/bin/app" in lines
    assert lines[-1] == "Checked 1 file: 1 finding (1 error), 1 fixable with `mountie fix`."


def test_clean_file_as_a_process_exits_0(tmp_path: Path) -> None:
    write(tmp_path, "Dockerfile", CLEAN)
    done = run_process("check", cwd=tmp_path)  # no path: the current directory
    assert (done.code, done.err) == (0, "")
    assert done.out == "Checked 1 file: no findings.\n"


def test_stdin_as_a_process(tmp_path: Path) -> None:
    done = run_process("check", "-", cwd=tmp_path, stdin=MOTIVATING.encode())
    assert done.code == 1
    assert done.out.startswith("<stdin>:6:1: BKM001 [error]")
    named = run_process(
        "check", "--stdin-filename", "build/Dockerfile", "-", cwd=tmp_path, stdin=MOTIVATING.encode()
    )
    assert named.out.startswith("build/Dockerfile:6:1: BKM001")


def test_bad_inputs_as_a_process_keep_going_and_exit_2(tmp_path: Path) -> None:
    write(tmp_path, "good/Dockerfile", MOTIVATING)
    write(tmp_path, "bad/Dockerfile", "FROM alpine\nRUN <<EOF\necho hi\n")
    done = run_process("check", "good", "bad", "missing.Dockerfile", cwd=tmp_path)
    assert done.code == 2
    assert "good/Dockerfile:6:1: BKM001 [error]" in done.out
    assert done.err.splitlines() == [
        "missing.Dockerfile: error: no such file or directory",
        "bad/Dockerfile:2: error: unterminated heredoc: no line 'EOF' ends the body",
    ]
    assert "Traceback" not in done.err


# --- exit statuses and options ------------------------------------------------------------------


def test_fail_level(cli, tmp_path: Path) -> None:
    write(tmp_path, "Dockerfile", MOTIVATING)  # one error-level finding
    assert cli("check", "--fail-level", "error").code == 1
    assert cli("check", "--fail-level", "warning").code == 1
    assert cli("check", "--fail-level", "info").code == 1
    severity = json.loads(cli("check", "--format", "json").out)["files"][0]["findings"][0]["severity"]
    assert severity == "error"


def test_fail_level_above_every_finding_exits_0(cli, tmp_path: Path) -> None:
    # A command not known to write the path makes the finding a warning.
    write(
        tmp_path,
        "Dockerfile",
        "FROM alpine AS builder\nWORKDIR /app\nRUN --mount=type=cache,target=/app/out ./build.sh\n"
        "FROM alpine\nCOPY --from=builder /app/out/bin /usr/local/bin/bin\n",
    )
    findings = json.loads(cli("check", "-f", "json").out)["files"][0]["findings"]
    assert [f["severity"] for f in findings] == ["warning"]
    assert cli("check", "--fail-level", "error").code == 0
    assert cli("check").code == 1  # the default fail level is warning


def test_usage_errors_exit_2(cli) -> None:
    for argv in (["check", "--format", "xml"], ["check", "--fail-level", "fatal"], ["nonsense"], ["--bogus"]):
        done = cli(*argv)
        assert done.code == 2, argv
        assert "usage:" in done.err
    assert cli().code == 2  # no subcommand: help on standard error


def test_no_fix_diff(cli, tmp_path: Path) -> None:
    write(tmp_path, "Dockerfile", MOTIVATING)
    out = cli("check", "--no-fix-diff").out
    assert "    fix: Move the artifact out of the mount in the same RUN" in out
    assert "+++" not in out


def test_output_file(cli, tmp_path: Path) -> None:
    write(tmp_path, "Dockerfile", MOTIVATING)
    done = cli("check", "-f", "json", "-o", "report.json")
    assert (done.code, done.out) == (1, "")
    assert json.loads((tmp_path / "report.json").read_text())["summary"]["findings"] == 1
    bad = cli("check", "-o", str(tmp_path / "no-such-dir" / "report.txt"))
    assert bad.code == 2
    assert "cannot write the report" in bad.err


def test_no_fix_reason_is_shown(cli, tmp_path: Path) -> None:
    write(tmp_path, "Dockerfile", UNFIXABLE)
    done = cli("check")
    assert done.code == 1
    assert "    no fix: the path uses $BIN, whose value is not known from the Dockerfile" in done.out


# --- standard input -----------------------------------------------------------------------------


def _stdin(monkeypatch: pytest.MonkeyPatch, data: bytes) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))


def test_stdin_in_process(cli, monkeypatch: pytest.MonkeyPatch) -> None:
    _stdin(monkeypatch, CLEAN.encode())
    done = cli("check", "-")
    assert (done.code, done.out) == (0, "Checked 1 file: no findings.\n")


def test_stdin_filename_picks_up_that_directorys_dockerignore(cli, tmp_path, monkeypatch) -> None:
    write(tmp_path, "svc/.dockerignore", "target\n")
    _stdin(monkeypatch, MOTIVATING.encode())
    out = cli("check", "--stdin-filename", "svc/Dockerfile", "-").out
    assert out.startswith("svc/Dockerfile:6:1: BKM001")
    assert "nothing, so the build fails" in out


def test_stdin_not_utf8(cli, monkeypatch) -> None:
    _stdin(monkeypatch, b"FROM alpine\nRUN echo \xe9t\xe9\n")
    done = cli("check", "-")
    assert done.code == 2
    assert done.err == "<stdin>: error: not UTF-8 text (byte 0xe9 at offset 21)\n"


# --- discovery ----------------------------------------------------------------------------------


def test_directories_are_searched_recursively(cli, tmp_path: Path) -> None:
    for name in (
        "Dockerfile",
        "svc/Dockerfile.prod",
        "svc/api.Dockerfile",
        "svc/worker.dockerfile",
        "deep/er/Containerfile",
        ".devcontainer/Dockerfile",
    ):
        write(tmp_path, name, MOTIVATING)
    for name in (
        "Dockerfile.dockerignore",
        "svc/api.Dockerfile.dockerignore",
        "Dockerfile.orig",
        "Dockerfile~",
        "README.md",
        ".git/Dockerfile",
        "node_modules/pkg/Dockerfile",
    ):
        write(tmp_path, name, "not a Dockerfile {\n")
    done = cli("check", "-f", "json", ".")
    assert done.code == 1, done.err
    paths = [f["path"] for f in json.loads(done.out)["files"]]
    assert paths == [
        "Dockerfile",
        ".devcontainer/Dockerfile",
        "deep/er/Containerfile",
        "svc/Dockerfile.prod",
        "svc/api.Dockerfile",
        "svc/worker.dockerfile",
    ]


def test_a_named_file_is_linted_whatever_its_name(cli, tmp_path: Path) -> None:
    write(tmp_path, "build.txt", MOTIVATING)
    out = cli("check", "./build.txt", "build.txt").out
    assert out.count("BKM001") == 1  # the same file once
    assert out.startswith("build.txt:6:1: BKM001")


def test_dockerignore_beside_the_dockerfile(cli, tmp_path: Path) -> None:
    write(tmp_path, "a/Dockerfile", MOTIVATING)
    write(tmp_path, "b/Dockerfile", MOTIVATING)
    write(tmp_path, "b/.dockerignore", "# build output\ntarget/\n")
    write(tmp_path, "c/api.Dockerfile", MOTIVATING)
    write(tmp_path, "c/.dockerignore", "target\n")
    write(tmp_path, "c/api.Dockerfile.dockerignore", "*.md\n")  # this one wins for api.Dockerfile
    report = json.loads(cli("check", "-f", "json", "a", "b", "c").out)
    messages = {f["path"]: f["findings"][0]["message"] for f in report["files"]}
    assert "a local `target/` that .dockerignore does not exclude lands there" in messages["a/Dockerfile"]
    assert "nothing, so the build fails" in messages["b/Dockerfile"]
    assert "c/api.Dockerfile.dockerignore does not exclude `target/`" in messages["c/api.Dockerfile"]


# --- bad input ----------------------------------------------------------------------------------

BAD_INPUTS = [
    ("missing", None, "missing: error: no such file or directory"),
    ("empty-dir", "DIR", "empty-dir: error: no Dockerfiles found in this directory"),
    (
        "binary.Dockerfile",
        b"\x89PNG\r\n\x1a\n\x00\x00\xff",
        "binary.Dockerfile: error: not UTF-8 text (byte 0x89 at offset 0)",
    ),
    (
        "latin1.Dockerfile",
        "FROM alpine\nLABEL a=café\n".encode("latin-1"),
        "latin1.Dockerfile: error: not UTF-8 text",
    ),
    (
        "nul.Dockerfile",
        b"FROM alpine\x00\n",
        "nul.Dockerfile:1: error: file contains NUL bytes: not a Dockerfile",
    ),
    ("empty.Dockerfile", b"", "empty.Dockerfile:1: error: the file has no instructions"),
    (
        "comments.Dockerfile",
        b"# only a comment\n\n",
        "comments.Dockerfile:1: error: the file has no instructions",
    ),
    (
        "huge.Dockerfile",
        b"# " + b"x" * 10_000_000 + b"\nFROM alpine\n",
        "huge.Dockerfile:1: error: file is 10,000,015 bytes; files over 1 MiB are not analysed",
    ),
    (
        "big.Dockerfile",
        b"FROM alpine\n" + b"# padding\n" * 150_000,
        "big.Dockerfile:1: error: file is 1,500,012 bytes; files over 1 MiB are not analysed",
    ),
    (
        "heredoc.Dockerfile",
        b"FROM alpine\nRUN <<EOF\necho hi\n",
        "heredoc.Dockerfile:2: error: unterminated heredoc: no line 'EOF' ends the body",
    ),
    (
        "unknown.Dockerfile",
        b"FROM alpine\nFROBNICATE now\n",
        "unknown.Dockerfile:2: error: unknown instruction: FROBNICATE",
    ),
    ("nofrom.Dockerfile", b'RUN ["a"\n', "nofrom.Dockerfile:1: error: RUN appears before the first FROM"),
]


@pytest.mark.parametrize(("name", "content", "error"), BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_is_one_clear_line_and_exit_2(
    cli, tmp_path: Path, name: str, content: bytes | str | None, error: str
) -> None:
    if content == "DIR":
        (tmp_path / name).mkdir()
        write(tmp_path, f"{name}/notes.txt", "FROM alpine\n")
    elif isinstance(content, bytes):
        write(tmp_path, name, content)
    write(tmp_path, "good/Dockerfile", MOTIVATING)
    for fmt in ("text", "json", "sarif", "github"):
        done = cli("check", "-f", fmt, name, "good")
        assert done.code == 2, (fmt, done)
        assert done.err.startswith(error), (fmt, done.err)
        assert len(done.err.splitlines()) == 1
        assert "BKM001" in done.out  # the good file is still checked


def test_unterminated_json_is_a_shown_non_fatal_problem(cli, tmp_path: Path) -> None:
    write(tmp_path, "Dockerfile", 'FROM alpine\nRUN ["echo", "hi"\n')
    done = cli("check")
    assert (done.code, done.err) == (0, "")
    assert done.out.splitlines() == [
        "Dockerfile:2: warning: RUN arguments start with '[' but are not a valid JSON array of strings; "
        "BuildKit runs them as a shell command",
        "Checked 1 file: no findings.",
    ]
    problems = json.loads(cli("check", "-f", "json").out)["files"][0]["problems"]
    assert problems == [
        {
            "line": 2,
            "message": "RUN arguments start with '[' but are not a valid JSON array of strings; "
            "BuildKit runs them as a shell command",
            "fatal": False,
        }
    ]
    assert cli("check", "-f", "github").out.startswith(
        "::warning file=Dockerfile,line=2,title=mountie::RUN arguments"
    )


def test_unreadable_file(cli, tmp_path: Path, monkeypatch) -> None:
    import bot.cli

    def denied(target: object) -> bytes:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(bot.cli, "_read_bytes", denied)  # (chmod 0 does not stop root)
    write(tmp_path, "Dockerfile", MOTIVATING)
    done = cli("check", "Dockerfile")
    assert done.code == 2
    assert done.err == "Dockerfile: error: permission denied\n"


def test_internal_error_in_a_rule_is_reported_not_raised(cli, tmp_path: Path, monkeypatch) -> None:
    import bot.cli

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(bot.cli, "lint_text", broken)
    write(tmp_path, "Dockerfile", MOTIVATING)
    done = cli("check")
    assert done.code == 2
    assert (
        done.err
        == "Dockerfile: error: internal error while checking (RuntimeError: boom); please report it\n"
    )
