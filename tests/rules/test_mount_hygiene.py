"""The shared pieces behind BKM005-BKM009: the `--mount` flag editor, the command reader, and the
fix plan that keeps their suggestions from conflicting."""

from __future__ import annotations

import pytest

from bot.analysis.run_commands import run_commands
from bot.dockerfile.model import parse_dockerfile
from bot.engine import lint_text
from bot.fixes.apply import apply_edits
from bot.fixes.mount_edit import (
    extend_instruction,
    instruction_edits,
    prepend_to_script,
    script_cut,
    set_mount_options,
)
from bot.fixes.text_edit import NoFix
from tests.oracle import oracle_parse


def _edit(text: str, options: dict[str, str], step_index: int = 0, mount: int = 0) -> str:
    df = parse_dockerfile(text)
    step = [s for s in df.steps() if s.keyword == "RUN"][step_index]
    edits = instruction_edits(df, step, set_mount_options(df, step, mount, options))
    return apply_edits(text, edits)


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (
            "RUN --mount=type=cache,target=/var/cache/apt apt-get update\n",
            "RUN --mount=type=cache,target=/var/cache/apt,sharing=locked apt-get update\n",
        ),
        (
            "RUN --mount=type=cache,sharing=shared,target=/var/cache/apt apt-get update\n",
            "RUN --mount=type=cache,sharing=locked,target=/var/cache/apt apt-get update\n",
        ),
        (
            'RUN --mount="type=cache,target=/var/cache/apt" apt-get update\n',
            'RUN --mount="type=cache,target=/var/cache/apt,sharing=locked" apt-get update\n',
        ),
        (
            "RUN --mount=type=cache,\\\ntarget=/var/cache/apt apt-get update\n",
            "RUN --mount=type=cache,\\\ntarget=/var/cache/apt,sharing=locked apt-get update\n",
        ),
    ],
    ids=["append", "in-place", "inside-closing-quote", "continued-flag"],
)
def test_set_mount_options_keeps_the_layout(before: str, after: str) -> None:
    text = "FROM debian\n" + before
    fixed = _edit(text, {"sharing": "locked"})
    assert fixed == "FROM debian\n" + after
    flags = next(i.flags for i in oracle_parse(fixed) if i.keyword == "RUN")
    assert any("sharing=locked" in flag for flag in flags)


def test_an_option_in_a_quoted_flag_is_not_rewritten_in_place() -> None:
    text = 'FROM debian\nRUN --mount="type=cache,sharing=shared,target=/var/cache/apt" apt-get update\n'
    with pytest.raises(NoFix):
        _edit(text, {"sharing": "locked"})


def test_unsafe_values_are_refused() -> None:
    with pytest.raises(NoFix):
        _edit("FROM debian\nRUN --mount=type=cache,target=/x true\n", {"id": "a b"})


def test_a_cut_never_swallows_a_comment_inside_the_run() -> None:
    text = "FROM debian\nRUN apt-get update && \\\n    # note\n    apt-get clean\n"
    df = parse_dockerfile(text)
    step = next(s for s in df.steps() if s.keyword == "RUN")
    commands = run_commands(step)
    assert commands is not None
    clean = commands.commands[-1]
    with pytest.raises(NoFix):
        script_cut(df, step, clean.prev_end or 0, clean.end)


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("RUN apt-get update\n", "RUN rm -f x && apt-get update\n"),
        (
            "RUN --mount=type=cache,target=/a \\\n    apt-get update\n",
            "RUN --mount=type=cache,target=/a \\\n    rm -f x && \\\n    apt-get update\n",
        ),
        (
            "RUN <<EOF\n#!/bin/sh\nset -e\napt-get update\nEOF\n",
            "RUN <<EOF\n#!/bin/sh\nrm -f x\nset -e\napt-get update\nEOF\n",
        ),
    ],
    ids=["one-line", "own-line", "heredoc-after-shebang"],
)
def test_prepend_to_script(before: str, after: str) -> None:
    text = "FROM debian\n" + before
    df = parse_dockerfile(text)
    step = next(s for s in df.steps() if s.keyword == "RUN")
    fixed = apply_edits(text, instruction_edits(df, step, [prepend_to_script(df, step, "rm -f x")]))
    assert fixed == "FROM debian\n" + after


def test_prepend_refuses_the_exec_form() -> None:
    df = parse_dockerfile('FROM debian\nRUN ["apt-get", "update"]\n')
    step = next(s for s in df.steps() if s.keyword == "RUN")
    with pytest.raises(NoFix):
        prepend_to_script(df, step, "rm -f x")


def test_extend_instruction_adds_a_name_to_an_arg_line() -> None:
    text = "FROM debian\nARG TARGETARCH \\\n    VERSION=1\n"
    df = parse_dockerfile(text)
    step = next(s for s in df.steps() if s.keyword == "ARG")
    fixed = apply_edits(text, instruction_edits(df, step, [extend_instruction(step, "TARGETPLATFORM")]))
    assert fixed == "FROM debian\nARG TARGETARCH \\\n    VERSION=1 TARGETPLATFORM\n"


def test_run_commands_reads_operators_and_structure() -> None:
    df = parse_dockerfile("FROM debian\nRUN a && b; c || d | e && if x; then f; fi && (g) && h\n")
    step = next(s for s in df.steps() if s.keyword == "RUN")
    commands = run_commands(step)
    assert commands is not None
    by_name = {c.name: c for c in commands.commands}
    assert (by_name["b"].prev_op, by_name["b"].next_op) == ("&&", ";")
    assert not by_name["a"].in_structure
    assert by_name["e"].in_structure  # a pipeline stage
    assert by_name["f"].in_structure
    assert by_name["g"].in_structure
    assert not by_name["h"].in_structure


def test_heredoc_fed_to_another_interpreter_is_not_read_as_shell() -> None:
    df = parse_dockerfile("FROM debian\nRUN <<EOF python3\nprint(1)\nEOF\n")
    step = next(s for s in df.steps() if s.keyword == "RUN")
    assert run_commands(step) is None


def test_fixes_of_different_rules_on_one_run_are_one_edit() -> None:
    text = (
        "FROM debian:bookworm AS build\n"
        "RUN --mount=type=cache,target=/var/lib/apt/lists apt-get update && apt-get install -y gcc "
        "&& rm -rf /var/lib/apt/lists/*\n"
        "FROM debian:bookworm-slim\n"
    )
    findings = [f for f in lint_text(text).findings if f.code in ("BKM007", "BKM009")]
    assert {f.code for f in findings} == {"BKM007", "BKM009"}
    fixes = {f.code: f.fix for f in findings}
    assert all(fix is not None for fix in fixes.values())
    assert len({fix.edits for fix in fixes.values() if fix is not None}) == 1
    edits = [e for fix in fixes.values() if fix is not None for e in fix.edits]
    fixed = apply_edits(text, edits)
    assert "sharing=locked apt-get update && apt-get install -y gcc\n" in fixed
    assert not [f for f in lint_text(fixed).findings if f.code in ("BKM007", "BKM009")]


def test_a_hygiene_fix_waits_for_another_rules_fix_on_the_same_lines() -> None:
    text = (
        "FROM --platform=$BUILDPLATFORM node:20 AS deps\n"
        "ARG TARGETPLATFORM\n"
        "WORKDIR /app\n"
        "COPY package.json package-lock.json ./\n"
        "RUN --mount=type=cache,target=/app/node_modules npm ci\n"
        "COPY . .\n"
        'CMD ["node", "server.js"]\n'
    )
    findings = lint_text(text).findings
    other = [f for f in findings if f.code == "BKM003" and f.fix is not None]
    mine = [f for f in findings if f.code == "BKM006"]
    assert other and mine
    assert mine[0].fix is None
    assert mine[0].no_fix_reason is not None and mine[0].no_fix_reason.startswith("BKM003's fix")
