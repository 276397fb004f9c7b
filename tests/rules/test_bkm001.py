"""BKM001 behaviour the annotated fixtures cannot express: fix options, messages, severities,
and findings whose fix leaves another finding in place."""

from __future__ import annotations

from bot.analysis import DockerIgnore, FixOptions
from bot.engine import LintOptions, lint_text
from bot.fixes.apply import apply_edits
from bot.rules.base import Finding, Severity

RUST = """\
FROM rust:1.79 AS builder
WORKDIR /app
COPY . .
RUN --mount=type=cache,target=/app/target cargo build --release
FROM debian:bookworm-slim
COPY --from=builder /app/target/release/app /usr/local/bin/app
"""


def _findings(text: str, **options: object) -> list[Finding]:
    result = lint_text(text, "Dockerfile", LintOptions(**options))  # type: ignore[arg-type]
    assert not result.problems, result.problems
    return [f for f in result.findings if f.code == "BKM001"]


def _fixed(text: str, **options: object) -> str:
    edits = [e for f in _findings(text, **options) if f.fix for e in f.fix.edits]
    return apply_edits(text, edits)


def test_cp_keeps_the_cache_warm() -> None:
    fixed = _fixed(RUST, fix_options=FixOptions(move_command="cp"))
    assert "cargo build --release && cp -a target/release/app /tmp/app\n" in fixed
    assert "COPY --from=builder /tmp/app /usr/local/bin/app" in fixed


def test_configured_destination_is_created() -> None:
    fixed = _fixed(RUST, fix_options=FixOptions(destination="/artifacts"))
    assert "&& mkdir -p /artifacts && mv target/release/app /artifacts/app\n" in fixed
    assert "COPY --from=builder /artifacts/app " in fixed


def test_destination_avoids_a_directory_a_later_run_clears() -> None:
    text = RUST.replace("cargo build --release\n", "cargo build --release\nRUN rm -rf /tmp/*\n")
    fixed = _fixed(text)
    assert "&& mkdir -p /out && mv target/release/app /out/app\n" in fixed
    assert "COPY --from=builder /out/app " in fixed


def test_destination_avoids_the_runs_own_mounts() -> None:
    text = RUST.replace(
        "--mount=type=cache,target=/app/target",
        "--mount=type=cache,target=/app/target --mount=type=tmpfs,target=/tmp",
    )
    assert "mkdir -p /out && mv target/release/app /out/app" in _fixed(text)


def test_paths_that_need_quoting() -> None:
    text = RUST.replace(
        "COPY --from=builder /app/target/release/app /usr/local/bin/app",
        'COPY --from=builder ["/app/target/release/my app", "/usr/local/bin/app"]',
    )
    fixed = _fixed(text)
    assert "mv 'target/release/my app' '/tmp/my app'" in fixed
    assert 'COPY --from=builder ["/tmp/my app", "/usr/local/bin/app"]' in fixed
    assert not _findings(fixed)


def test_child_stage_finding_stays_when_the_copy_is_fixed() -> None:
    text = RUST + "FROM builder AS bench\nRUN ./target/release/app --bench\n"
    findings = _findings(text)
    assert [(f.line, f.fix is not None) for f in findings] == [(6, True), (8, False)]
    assert findings[1].no_fix_reason
    after = _findings(_fixed(text))
    assert [f.line for f in after] == [8]  # the child stage's RUN


def test_severity_is_error_when_the_run_produces_the_path() -> None:
    (finding,) = _findings(RUST)
    assert finding.severity is Severity.ERROR
    assert finding.related_lines == (4,)


def test_severity_is_warning_when_nothing_says_the_run_wrote_it() -> None:
    text = RUST.replace("cargo build --release", "./build.sh")
    (finding,) = _findings(text, dockerignore=DockerIgnore.parse("target\n"))
    assert finding.severity is Severity.WARNING


def test_silent_when_an_unknown_context_may_hold_the_path_and_nothing_says_the_run_wrote_it() -> None:
    # `COPY . .` may have put target/ in the layer (no .dockerignore is known), and nothing says
    # ./build.sh writes it: the consumer may be reading that copy on purpose.
    assert _findings(RUST.replace("cargo build --release", "./build.sh")) == []


def test_severity_is_warning_on_an_unknown_workdir_with_a_relative_target() -> None:
    text = (
        RUST.replace("FROM rust:1.79 AS builder\nWORKDIR /app\n", "FROM acme/rust AS builder\n")
        .replace("target=/app/target", "target=target")
        .replace("/app/target/release/app", "/target/release/app")
    )
    (finding,) = _findings(text)
    assert finding.severity is Severity.WARNING


def test_message_names_the_stale_copy_when_dockerignore_does_not_exclude_it() -> None:
    (finding,) = _findings(RUST, dockerignore=DockerIgnore.parse(".git\n"))
    assert "copies your local `target/` into the layer" in finding.message
    assert "stale copy ships." in finding.message


def test_message_when_dockerignore_excludes_the_target() -> None:
    (finding,) = _findings(RUST, dockerignore=DockerIgnore.parse("target/\n"))
    assert 'nothing, so the build fails with "not found".' in finding.message


def test_message_when_dockerignore_is_unknown() -> None:
    (finding,) = _findings(RUST)
    assert "a local `target/` that .dockerignore does not exclude lands there" in finding.message


def test_named_sources_are_not_called_a_stale_copy() -> None:
    text = RUST.replace("COPY . .", "COPY Cargo.toml Cargo.lock ./\nCOPY src ./src")
    (finding,) = _findings(text)
    assert 'nothing, so the build fails with "not found".' in finding.message


def test_wildcard_message() -> None:
    text = RUST.replace(
        "/app/target/release/app /usr/local/bin/app", "/app/target/release/app-* /usr/local/bin/"
    )
    (finding,) = _findings(text)
    assert finding.message.endswith(
        "A wildcard source that matches nothing is not an error: it silently copies nothing."
    )
    assert '"not found". A wildcard' in finding.message


def test_read_only_bind_mount_is_not_a_lost_write() -> None:
    text = """\
FROM rust:1.79 AS builder
WORKDIR /src
RUN --mount=type=bind,target=. cargo build --release --target-dir /out
FROM debian:bookworm-slim
COPY --from=builder /src/Cargo.toml /etc/app.toml
COPY --from=builder /out/release/app /usr/local/bin/app
"""
    assert _findings(text) == []


def test_read_write_bind_mount_loses_writes() -> None:
    text = """\
FROM rust:1.79 AS builder
WORKDIR /src
RUN --mount=type=bind,target=.,rw cargo build --release
FROM debian:bookworm-slim
COPY --from=builder /src/target/release/app /usr/local/bin/app
"""
    (finding,) = _findings(text)
    assert "Writes to a bind mount never reach the image layer" in finding.message


def test_secret_and_ssh_mounts_are_not_ephemeral_outputs() -> None:
    text = """\
FROM rust:1.79 AS builder
WORKDIR /app
RUN --mount=type=secret,id=token,target=/app/token --mount=type=ssh cargo build --release
FROM debian:bookworm-slim
COPY --from=builder /app/target/release/app /usr/local/bin/app
"""
    assert _findings(text) == []


def test_copy_from_a_later_stage_name_or_itself_is_not_followed() -> None:
    text = RUST.replace("COPY --from=builder", "COPY --from=nowhere")
    assert _findings(text) == []
