"""Fix building blocks: applying line-range edits, and appending a command to every RUN shape."""

from __future__ import annotations

import pytest

from bot.dockerfile.model import parse_dockerfile
from bot.fixes.apply import EditConflict, apply_edits, merge_compatible
from bot.fixes.text_edit import NoFix, append_to_run, replace_words
from bot.rules.base import Edit
from tests.oracle import oracle_parse

# -- apply_edits ----------------------------------------------------------------------------------


def test_apply_replaces_line_ranges() -> None:
    text = "a\nb\nc\nd\n"
    assert apply_edits(text, [Edit(2, 3, "X\nY\nZ")]) == "a\nX\nY\nZ\nd\n"
    assert apply_edits(text, [Edit(1, 1, "first"), Edit(4, 4, "last")]) == "first\nb\nc\nlast\n"


def test_apply_preserves_crlf() -> None:
    text = "FROM a\r\nRUN b\r\nCOPY c d\r\n"
    assert (
        apply_edits(text, [Edit(2, 2, "RUN b &&\nRUN-ish")])
        == "FROM a\r\nRUN b &&\r\nRUN-ish\r\nCOPY c d\r\n"
    )


@pytest.mark.parametrize("ending", ["", "\n"])
def test_apply_preserves_the_trailing_newline_or_its_absence(ending: str) -> None:
    assert apply_edits("a\nb" + ending, [Edit(2, 2, "B")]) == "a\nB" + ending


def test_identical_edits_apply_once() -> None:
    edit = Edit(1, 1, "X")
    assert apply_edits("a\nb\n", [edit, edit]) == "X\nb\n"


@pytest.mark.parametrize(
    "edits",
    [
        [Edit(1, 2, "X"), Edit(2, 3, "Y")],
        [Edit(2, 2, "X"), Edit(2, 2, "Y")],
        [Edit(1, 4, "X"), Edit(2, 2, "Y")],
    ],
)
def test_overlapping_edits_conflict(edits: list[Edit]) -> None:
    with pytest.raises(EditConflict):
        apply_edits("a\nb\nc\nd\n", edits)


def test_merge_compatible_splits_conflicts() -> None:
    first, clash, other = Edit(1, 2, "X"), Edit(2, 2, "Y"), Edit(4, 4, "Z")
    assert merge_compatible([first, clash, other, first]) == ([first, other], [clash])


# -- append_to_run --------------------------------------------------------------------------------

MOVE = "mv target/release/app /tmp/app"


def _append(text: str, command: str = MOVE, line: int | None = None) -> str:
    df = parse_dockerfile(text)
    assert df.ok, df.problems
    step = [s for s in df.steps() if s.keyword == "RUN" and (line is None or s.line == line)][-1]
    edit = append_to_run(df, step, command)
    result = apply_edits(text, [edit])
    # The result is still the same instructions for BuildKit, and still valid for the model.
    assert [i.keyword for i in oracle_parse(result)] == [i.keyword for i in oracle_parse(text)]
    assert parse_dockerfile(result).ok
    return result


def test_single_line() -> None:
    text = "FROM rust\nRUN --mount=type=cache,target=/t cargo build\n"
    assert _append(text) == f"FROM rust\nRUN --mount=type=cache,target=/t cargo build && {MOVE}\n"


def test_trailing_operator_style() -> None:
    text = "FROM rust\nRUN --mount=type=cache,target=/t \\\n    apt-get update && \\\n    cargo build\n"
    assert _append(text) == (
        "FROM rust\nRUN --mount=type=cache,target=/t \\\n    apt-get update && \\\n    cargo build && \\\n"
        f"    {MOVE}\n"
    )


def test_leading_operator_style() -> None:
    text = "FROM rust\nRUN apt-get update \\\n    && apt-get install -y x \\\n    && cargo build\n"
    assert _append(text) == (
        "FROM rust\nRUN apt-get update \\\n    && apt-get install -y x \\\n    && cargo build \\\n"
        f"    && {MOVE}\n"
    )


def test_backtick_escape_continuation() -> None:
    text = "# escape=`\nFROM rust\nRUN a && `\n    cargo build\n"
    assert _append(text) == f"# escape=`\nFROM rust\nRUN a && `\n    cargo build && `\n    {MOVE}\n"


def test_trailing_shell_comment() -> None:
    text = "FROM rust\nRUN cargo build --release # the slow part\n"
    assert _append(text) == f"FROM rust\nRUN cargo build --release && {MOVE} # the slow part\n"


def test_trailing_comment_on_the_last_continuation_line() -> None:
    text = "FROM rust\nRUN a && \\\n    cargo build  # release\n"
    assert _append(text) == f"FROM rust\nRUN a && \\\n    cargo build && \\\n    {MOVE}  # release\n"


def test_hash_inside_a_word_is_not_a_comment() -> None:
    text = "FROM rust\nRUN cargo build --features a#b\n"
    assert _append(text) == f"FROM rust\nRUN cargo build --features a#b && {MOVE}\n"


def test_trailing_semicolon_is_replaced() -> None:
    text = "FROM rust\nRUN set -e; cargo build;\n"
    assert _append(text) == f"FROM rust\nRUN set -e; cargo build && {MOVE}\n"


def test_crlf_file() -> None:
    text = "FROM rust\r\nRUN a && \\\r\n    cargo build\r\nCOPY x y\r\n"
    assert _append(text) == f"FROM rust\r\nRUN a && \\\r\n    cargo build && \\\r\n    {MOVE}\r\nCOPY x y\r\n"


def test_heredoc_argument_is_not_the_script() -> None:
    text = "FROM rust\nRUN cat <<EOF > /etc/conf && cargo build\nkey=value\nEOF\n"
    assert _append(text) == f"FROM rust\nRUN cat <<EOF > /etc/conf && cargo build && {MOVE}\nkey=value\nEOF\n"


def test_heredoc_script_gets_set_e() -> None:
    text = "FROM rust\nRUN <<EOF\ncargo fetch\ncargo build\nEOF\n"
    assert _append(text) == f"FROM rust\nRUN <<EOF\nset -e\ncargo fetch\ncargo build\n{MOVE}\nEOF\n"


@pytest.mark.parametrize("errexit", ["set -e", "set -eux", "set -o errexit", "  set -xe"])
def test_heredoc_script_with_errexit_keeps_it(errexit: str) -> None:
    text = f"FROM rust\nRUN <<EOF\n{errexit}\ncargo build\nEOF\n"
    assert _append(text) == f"FROM rust\nRUN <<EOF\n{errexit}\ncargo build\n{MOVE}\nEOF\n"


def test_chomped_heredoc_keeps_tab_indentation() -> None:
    text = "FROM rust\nRUN <<-EOF\n\tcargo build\n\tEOF\n"
    assert _append(text) == f"FROM rust\nRUN <<-EOF\n\tset -e\n\tcargo build\n\t{MOVE}\n\tEOF\n"


def test_heredoc_with_shell_shebang() -> None:
    text = "FROM rust\nRUN <<EOF\n#!/bin/bash\ncargo build\nEOF\n"
    assert _append(text) == f"FROM rust\nRUN <<EOF\n#!/bin/bash\nset -e\ncargo build\n{MOVE}\nEOF\n"


def test_heredoc_in_crlf_file() -> None:
    text = "FROM rust\r\nRUN <<EOF\r\ncargo build\r\nEOF\r\n"
    assert _append(text) == f"FROM rust\r\nRUN <<EOF\r\nset -e\r\ncargo build\r\n{MOVE}\r\nEOF\r\n"


def test_heredoc_followed_by_more_instructions() -> None:
    text = "FROM rust\nRUN <<EOF bash\nset -e\ncargo build\nEOF\nRUN true\n"
    assert _append(text, line=2) == f"FROM rust\nRUN <<EOF bash\nset -e\ncargo build\n{MOVE}\nEOF\nRUN true\n"


def test_exec_form_is_wrapped_in_sh() -> None:
    text = 'FROM rust\nRUN --mount=type=cache,target=/t ["cargo", "build", "--release"]\n'
    assert _append(text) == (
        f'FROM rust\nRUN --mount=type=cache,target=/t ["/bin/sh", "-c", "cargo build --release && {MOVE}"]\n'
    )


def test_exec_form_quotes_arguments() -> None:
    text = 'FROM rust\nRUN ["cargo", "build", "--features", "a b"]\n'
    assert _append(text) == f'FROM rust\nRUN ["/bin/sh", "-c", "cargo build --features \'a b\' && {MOVE}"]\n'


def test_exec_form_sh_c_is_extended() -> None:
    text = 'FROM rust\nRUN ["sh", "-c", "cargo build"]\n'
    assert _append(text) == f'FROM rust\nRUN ["sh", "-c", "cargo build && {MOVE}"]\n'


def test_exec_form_over_several_lines() -> None:
    text = 'FROM rust\nRUN ["cargo", \\\n     "build"]\nCMD ["x"]\n'
    assert _append(text) == f'FROM rust\nRUN ["/bin/sh", "-c", "cargo build && {MOVE}"]\nCMD ["x"]\n'


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('FROM rust\nSHELL ["pwsh", "-Command"]\nRUN cargo build\n', "not a POSIX shell"),
        ("FROM rust\nRUN cargo build &\n", "background"),
        ("FROM rust\nRUN cargo build &&\n", "dangling operator"),
        ("FROM rust\nRUN <<EOF\n#!/usr/bin/env python3\nprint(1)\nEOF\n", "not a POSIX shell"),
        ("FROM rust\nRUN cargo build \\\n    \\\n", "before its last continuation line"),
    ],
)
def test_shapes_without_a_fix(text: str, reason: str) -> None:
    df = parse_dockerfile(text)
    step = next(s for s in df.steps() if s.keyword == "RUN")
    with pytest.raises(NoFix, match=reason):
        append_to_run(df, step, MOVE)


# -- replace_words ----------------------------------------------------------------------------------


def test_replace_words_keeps_the_rest_of_the_line() -> None:
    text = "FROM a AS b\nFROM c\nCOPY --from=b --chown=1:1 /x/y  /z/w /dest/\n"
    df = parse_dockerfile(text)
    step = df.stages[1].steps[0]
    assert step.copy is not None
    first, second = step.copy.sources
    edit = replace_words(df, step, [(first, "/tmp/y"), (second, "/tmp/w")])
    assert apply_edits(text, [edit]).splitlines()[2] == "COPY --from=b --chown=1:1 /tmp/y  /tmp/w /dest/"


def test_replace_words_in_json_form() -> None:
    text = 'FROM a AS b\nFROM c\nCOPY --from=b ["/x y", "/dest"]\n'
    df = parse_dockerfile(text)
    step = df.stages[1].steps[0]
    assert step.copy is not None
    edit = replace_words(df, step, [(step.copy.sources[0], "/tmp/x y")])
    assert apply_edits(text, [edit]).splitlines()[2] == 'COPY --from=b ["/tmp/x y", "/dest"]'
