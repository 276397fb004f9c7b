"""Properties of the model and of the fixes, on arbitrary and on generated Dockerfiles.

Hypothesis settings are bounded so the whole file runs in a few seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.dockerfile.model import Dockerfile, parse_dockerfile
from bot.engine import LintOptions, lint_text
from bot.fixes.apply import apply_edits
from bot.rules import bkm001_artifact_in_cache_mount
from tests.oracle import oracle_accepts, oracle_parse

BOUNDED = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# -- the model never raises, and its line numbers are consistent ---------------------------------

_TRICKY_LINES = (
    "FROM alpine AS b", "FROM b", "RUN x", "RUN <<EOF", "EOF", "\tEOF", "RUN <<-EOF", "COPY <<A /a", "A",
    "# escape=`", "# escape=\\", "# check=skip=all", "# syntax=x", "#", "# c", "", " ", "\\", "`", "RUN a \\",
    "RUN a `", "RUN --mount=type=cache,target=/x cargo build", "RUN --mount=type=cache,target=. x",
    "RUN --mount=type=bind,target=/ x", "RUN --mount=bogus x", "RUN --mount type=cache x", "RUN --x=1 y",
    "COPY --from=b /x/* /y/", "COPY --from=0 a b", "WORKDIR $UNSET", "ARG A=${B:-c}", "ENV X", "ENV =y",
    'RUN ["a", 1]', 'RUN ["a"', "ONBUILD RUN --mount=type=tmpfs,target=/t x", "ONBUILD", "SHELL x",
    "FROM", "FROM a AS", "FROM a AS 9x", "USER", "\x00", "RUN \x00", "\ufeffFROM a", "RUN echo foo\\\\",
)  # fmt: skip


def _tricky_text() -> st.SearchStrategy[str]:
    ending = st.sampled_from(["\n", "\r\n", "\r", "\r\r\n", ""])
    line = st.one_of(st.sampled_from(_TRICKY_LINES), st.text(max_size=20))
    return st.lists(st.tuples(line, ending), max_size=25).map(lambda parts: "".join(a + b for a, b in parts))


def _huge_continuation() -> st.SearchStrategy[str]:
    return st.integers(min_value=1, max_value=3000).map(
        lambda n: "FROM alpine\nRUN true" + " && \\\n    echo x" * n + "\n"
    )


def _check_lines(df: Dockerfile) -> None:
    total = len(df.lines)
    previous_end = 0
    for ins in df.instructions:
        assert 1 <= ins.start_line <= ins.end_line <= total
        assert ins.start_line > previous_end  # in order and never overlapping
        previous_end = ins.end_line
    for problem in df.problems:
        assert 1 <= problem.line <= max(total, 1)


@BOUNDED
@given(st.one_of(st.text(), _tricky_text(), _huge_continuation()))
def test_model_never_raises_and_lines_are_consistent(text: str) -> None:
    df = parse_dockerfile(text)
    _check_lines(df)
    result = lint_text(text)
    total = len(df.lines)
    for finding in result.findings:
        assert 1 <= finding.line <= finding.end_line <= total
        for edit in finding.fix.edits if finding.fix else ():
            assert 1 <= edit.start_line <= edit.end_line <= total


@settings(max_examples=5, deadline=None)
@given(st.integers(min_value=20000, max_value=40000))
def test_huge_files_stay_cheap(n: int) -> None:
    text = "FROM alpine\nRUN true" + " \\\n  && echo x" * n + "\n"
    df = parse_dockerfile(text)
    assert df.ok
    assert (df.instructions[1].start_line, df.instructions[1].end_line) == (2, n + 2)


# -- generated Dockerfiles: every fix applies, re-parses and removes its finding --------------------


@dataclass(frozen=True)
class _Build:
    image: str
    command: str  # the build command, run in the WORKDIR
    output: str  # where its artifact lands, relative to the WORKDIR
    extra_mount: str


_BUILDS = (
    _Build("rust:1.79", "cargo build --release", "target/release/app", "/usr/local/cargo/registry"),
    _Build("maven:3.9-eclipse-temurin-21", "mvn -B package", "target/*.jar", "/root/.m2"),
    _Build("gradle:8.8-jdk21", "gradle bootJar --no-daemon", "build/libs/*.jar", "/home/gradle/.gradle"),
    _Build("node:20", "npm ci", "node_modules", "/root/.npm"),
    _Build("node:20", "npm run build", "dist", "/root/.npm"),
    _Build("golang:1.22", "go build -o out/server ./cmd/server", "out/server", "/root/.cache/go-build"),
)


def _cache_dir(build: _Build) -> str:
    return build.output.split("/", 1)[0]


def _run_instruction(build: _Build, workdir: str, shape: str, relative: bool, copy_out: bool) -> str:
    target = _cache_dir(build) if relative else f"{workdir}/{_cache_dir(build)}"
    mounts = [f"--mount=type=cache,target={target}", f"--mount=type=cache,target={build.extra_mount}"]
    steps = ["echo start", build.command]
    if copy_out:
        steps.append(f"cp -r {build.output} /opt/")
    if shape == "single":
        return f"RUN {' '.join(mounts)} {' && '.join(steps)}"
    if shape == "comment":
        return f"RUN {' '.join(mounts)} {' && '.join(steps)} # build"
    if shape == "trailing":
        body = " && \\\n    ".join(steps)
        return "RUN " + " \\\n    ".join(mounts) + " \\\n    " + body
    if shape == "leading":
        body = " \\\n    && ".join(steps)
        return "RUN " + " \\\n    ".join(mounts) + " \\\n    " + body
    if shape == "heredoc":
        return "RUN " + " ".join(mounts) + " <<EOF\n" + "\n".join(steps) + "\nEOF"
    if shape == "heredoc-set-e":
        return "RUN " + " ".join(mounts) + " <<EOF\nset -e\n" + "\n".join(steps) + "\nEOF"
    if shape == "exec":
        argv = ", ".join(f'"{w}"' for w in build.command.split())
        return f"RUN {' '.join(mounts)} [{argv}]"
    raise AssertionError(shape)


@st.composite
def _dockerfiles(draw: st.DrawFn) -> str:
    build = draw(st.sampled_from(_BUILDS))
    workdir = draw(st.sampled_from(["/app", "/usr/src/app", "/build"]))
    shape = draw(
        st.sampled_from(["single", "comment", "trailing", "leading", "heredoc", "heredoc-set-e", "exec"])
    )
    relative = draw(st.booleans())
    copy_out = draw(st.booleans()) and shape != "exec"
    name = draw(st.sampled_from(["builder", "Build", "compile"]))
    lines = [f"FROM {build.image} AS {name}", f"WORKDIR {workdir}", "COPY . ."]
    lines.append(_run_instruction(build, workdir, shape, relative, copy_out))
    if draw(st.booleans()):
        lines.append("RUN echo done")
    lines += ["", "FROM debian:bookworm-slim"]
    refs = draw(st.lists(st.sampled_from([name, name.upper(), "0"]), min_size=1, max_size=3))
    for index, ref in enumerate(refs):
        source = draw(
            st.sampled_from(
                [f"{workdir}/{build.output}", f"{workdir}/{_cache_dir(build)}", f"{workdir}/README.md"]
            )
        )
        lines.append(f"COPY --from={ref} {source} /srv/artifact{index}")
    lines.append('CMD ["/srv/artifact0"]')
    return "\n".join(lines) + "\n"


# The core rule only: other rules' fixes may legitimately touch the same lines (the output layer
# merges compatible edits), and each rule proves its own fixes on its fixtures.
CORE = LintOptions(rules=(bkm001_artifact_in_cache_mount.RULE,))


def _instruction_index(text: str, line: int) -> int:
    df = parse_dockerfile(text)
    return next(i for i, ins in enumerate(df.instructions) if ins.start_line <= line <= ins.end_line)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_dockerfiles())
def test_every_fix_applies_reparses_and_removes_its_finding(text: str) -> None:
    before = lint_text(text, options=CORE)
    assert not before.problems, before.problems
    assert oracle_accepts(text)
    keywords = [i.keyword for i in oracle_parse(text)]
    for finding in before.findings:
        if finding.fix is None:
            continue
        fixed = apply_edits(text, finding.fix.edits)
        # It re-parses, for the model and for BuildKit, as the same instructions.
        assert parse_dockerfile(fixed).ok
        assert [i.keyword for i in oracle_parse(fixed)] == keywords
        after = lint_text(fixed, options=CORE)
        assert not after.problems
        # Its finding is gone: no finding of that rule on the same consumer instruction.
        consumer = _instruction_index(text, finding.line)
        remaining = {_instruction_index(fixed, f.line) for f in after.findings if f.code == finding.code}
        assert consumer not in remaining
        # And nothing new appears.
        assert {f.code for f in after.findings} <= {f.code for f in before.findings}
        assert len([f for f in after.findings if f.code == finding.code]) < len(
            [f for f in before.findings if f.code == finding.code]
        )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_dockerfiles())
def test_all_fixes_together_leave_no_fixable_finding(text: str) -> None:
    before = lint_text(text, options=CORE)
    edits = {edit for f in before.findings if f.fix for edit in f.fix.edits}
    if not edits:
        return
    fixed = apply_edits(text, edits)
    after = lint_text(fixed, options=CORE)
    assert not after.problems
    assert not [f for f in after.findings if f.fix is not None]
    fixed_consumers = {_instruction_index(text, f.line) for f in before.findings if f.fix}
    assert not fixed_consumers & {_instruction_index(fixed, f.line) for f in after.findings}
