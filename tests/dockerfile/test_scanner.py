"""The scanner splits text into instructions exactly as BuildKit's parser does (parser.go)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.dockerfile.errors import DockerfileSyntaxError
from bot.dockerfile.instructions import KEYWORDS, build_instruction
from bot.dockerfile.jsonargs import GO_SPACE
from bot.dockerfile.model import parse_dockerfile
from bot.dockerfile.scanner import scan, split_lines
from tests.oracle import oracle_accepts


def _spans(text: str) -> list[tuple[str, int, int]]:
    return [
        (raw.logical.split(None, 1)[0].upper(), raw.start_line, raw.end_line)
        for raw in scan(text).instructions
    ]


# -- parser directives ------------------------------------------------------------------------------


def test_directives_are_read_only_at_the_top() -> None:
    result = scan("# syntax=docker/dockerfile:1\n# escape=`\nFROM a\n# escape=\\\nRUN x `\n  y\n")
    assert result.directives == {"syntax": "docker/dockerfile:1", "escape": "`"}
    assert result.directive_lines == {"syntax": 1, "escape": 2}
    assert result.escape == "`"
    # The later `# escape=\` is a plain comment, so the backtick still continues the RUN.
    assert _spans("# escape=`\nFROM a\n# escape=\\\nRUN x `\n  y\n") == [("FROM", 2, 2), ("RUN", 4, 5)]


def test_backtick_escape_keeps_backslashes_literal() -> None:
    text = "# escape=`\nFROM a\nRUN dir C:\\\nRUN echo done\n"
    assert _spans(text) == [("FROM", 2, 2), ("RUN", 3, 3), ("RUN", 4, 4)]


def test_escape_after_check_directive_is_honoured() -> None:
    # `check` is a directive since Dockerfile 1.8, so an escape after it still counts.
    result = scan("# check=skip=JSONArgsRecommended\n# escape=`\nFROM a\nRUN x `\n  y\n")
    assert result.escape == "`"
    assert [(i.start_line, i.end_line) for i in result.instructions] == [(3, 3), (4, 5)]


@pytest.mark.parametrize(
    "head",
    [
        "\n# escape=`\n",  # a blank line ends the directives
        "# a comment\n# escape=`\n",  # so does any other comment
        "# unknown=value\n# escape=`\n",  # and an unknown directive
    ],
)
def test_directives_end_at_the_first_other_line(head: str) -> None:
    assert scan(head + "FROM a\n").escape == "\\"


def test_directive_names_are_case_insensitive_and_spacing_is_free() -> None:
    assert scan("#   ESCAPE   =   `  \nFROM a\n").escape == "`"


def test_repeated_directive_is_an_error() -> None:
    with pytest.raises(DockerfileSyntaxError, match="only one escape"):
        scan("# escape=`\n# escape=`\nFROM a\n")


def test_invalid_escape_token_is_an_error() -> None:
    df = parse_dockerfile("# escape=x\nFROM a\n")
    assert not df.ok
    assert df.problems[0].line == 1
    assert "escape" in df.problems[0].message


# -- encoding and line endings ----------------------------------------------------------------------


def test_bom_is_stripped_before_directives() -> None:
    result = scan("\ufeff# escape=`\nFROM a\nRUN x `\n y\n")
    assert result.escape == "`"
    assert [(i.start_line, i.end_line) for i in result.instructions] == [(2, 2), (3, 4)]


def test_crlf_line_endings() -> None:
    text = "FROM a\r\nRUN one \\\r\n    two\r\nRUN <<EOF\r\nbody\r\nEOF\r\n"
    result = scan(text)
    assert [(i.start_line, i.end_line) for i in result.instructions] == [(1, 1), (2, 3), (4, 6)]
    assert result.instructions[1].logical == "RUN one     two"
    # Heredoc bodies keep the bytes BuildKit read, line terminators included.
    assert result.instructions[2].heredocs[0].body == "body\r\n"
    assert split_lines(text)[1] == "RUN one \\"


def test_only_newline_splits_lines() -> None:
    # A lone carriage return is not a line break for Go's scanner.
    assert _spans("FROM a\rRUN x\n") == [("FROM", 1, 1)]


def test_file_without_trailing_newline() -> None:
    assert _spans("FROM a\nRUN x") == [("FROM", 1, 1), ("RUN", 2, 2)]


# -- continuations --------------------------------------------------------------------------------


def test_continuation_skips_comment_and_blank_lines() -> None:
    text = "FROM a\nRUN apt-get update && \\\n    # the packages\n\n    apt-get install -y curl\nRUN next\n"
    result = scan(text)
    assert [(i.start_line, i.end_line) for i in result.instructions] == [(1, 1), (2, 5), (6, 6)]
    assert result.instructions[1].logical == "RUN apt-get update &&     apt-get install -y curl"
    assert [c.line for c in result.comments] == [3]


def test_continuation_keeps_indentation_and_positions() -> None:
    raw = scan("FROM a\n  RUN a \\\n\tb\n").instructions[1]
    assert raw.logical == "RUN a \tb"
    assert raw.position(0) == (2, 2)  # after the two leading spaces
    assert raw.position(raw.logical.index("b")) == (3, 1)


def test_escape_with_trailing_whitespace_continues() -> None:
    assert _spans("FROM a\nRUN a \\  \t\n b\n") == [("FROM", 1, 1), ("RUN", 2, 3)]


def test_escaped_escape_at_end_of_line_does_not_continue() -> None:
    assert _spans("FROM a\nRUN echo foo\\\\\nRUN x\n") == [("FROM", 1, 1), ("RUN", 2, 2), ("RUN", 3, 3)]


def test_lone_escape_line_starts_a_continuation() -> None:
    assert _spans("FROM a\n\\\nRUN x\n") == [("FROM", 1, 1), ("RUN", 2, 3)]


def test_continuation_at_end_of_file() -> None:
    assert _spans("FROM a\nRUN x \\\n") == [("FROM", 1, 1), ("RUN", 2, 2)]


def test_comments_before_an_instruction_reset_at_empty_hash() -> None:
    result = scan("FROM a\n# one\n#\n# two\n# three\nRUN x\n")
    assert result.instructions[1].comments_before == ("two", "three")


def test_indented_comment_is_a_comment() -> None:
    assert _spans("FROM a\n   # RUN nothing\nRUN x\n") == [("FROM", 1, 1), ("RUN", 3, 3)]


# -- heredocs -------------------------------------------------------------------------------------


def test_heredoc_run() -> None:
    raw = scan("FROM a\nRUN <<EOF\nset -e\necho $HOME\nEOF\nRUN next\n").instructions[1]
    assert (raw.start_line, raw.end_line) == (2, 5)
    (doc,) = raw.heredocs
    assert (doc.name, doc.chomp, doc.expand, doc.fd) == ("EOF", False, True, None)
    assert doc.body == "set -e\necho $HOME\n"
    assert (doc.body_start_line, doc.terminator_line) == (3, 5)


def test_chomped_heredoc_terminator_may_be_tab_indented() -> None:
    raw = scan("FROM a\nRUN <<-EOT\n\techo hi\n\tEOT\n").instructions[1]
    assert raw.heredocs[0].chomp
    assert raw.heredocs[0].body == "\techo hi\n"  # BuildKit strips the tabs later
    assert raw.end_line == 4


def test_unchomped_heredoc_needs_an_exact_terminator() -> None:
    raw = scan("FROM a\nRUN <<EOF\n\tEOF\n EOF\nEOF\n").instructions[1]
    assert raw.heredocs[0].body == "\tEOF\n EOF\n"


@pytest.mark.parametrize(("word", "name"), [("<<'EOF'", "EOF"), ('<<"EOF"', "EOF"), ("<<'E O F'", "E O F")])
def test_quoted_terminators_do_not_expand(word: str, name: str) -> None:
    raw = scan(f"FROM a\nRUN {word} cat\nx $Y\n{name}\n").instructions[1]
    assert raw.heredocs[0].name == name
    assert not raw.heredocs[0].expand
    assert raw.heredocs[0].body == "x $Y\n"


def test_heredoc_with_file_descriptor() -> None:
    raw = scan("FROM a\nRUN 3<<EOF cat /dev/fd/3\nx\nEOF\n").instructions[1]
    assert raw.heredocs[0].fd == 3


def test_multiple_heredocs_are_read_in_order() -> None:
    raw = scan("FROM a\nRUN <<A cat && cat <<-B\none\nA\n\ttwo\n\tB\nRUN x\n").instructions[1]
    assert [(d.name, d.body, d.body_start_line, d.terminator_line) for d in raw.heredocs] == [
        ("A", "one\n", 3, 4),
        ("B", "\ttwo\n", 5, 6),
    ]
    assert raw.end_line == 6


def test_copy_heredoc_sources() -> None:
    df = parse_dockerfile("FROM a\nCOPY <<app.conf <<-run.sh /etc/app/\nport=1\napp.conf\n\techo\n\trun.sh\n")
    step = df.stages[0].steps[0]
    assert step.copy is not None
    assert step.copy.heredoc_sources == ("app.conf", "run.sh")
    assert step.copy.dest.value == "/etc/app/"
    assert step.instruction.end_line == 6


def test_heredoc_after_flags_and_in_onbuild() -> None:
    result = scan("FROM a\nONBUILD RUN --mount=type=cache,target=/c <<EOF\necho\nEOF\n")
    assert result.instructions[1].heredocs[0].body == "echo\n"


@pytest.mark.parametrize(
    "line",
    [
        'RUN ["sh", "-c", "cat <<EOF"]',  # exec form has no heredocs
        "ENV X=<<EOF",  # only RUN, COPY and ADD read heredocs
        'RUN echo "<<EOF"',  # quoted: not a heredoc word
        "RUN echo a<<EOF",  # not at the start of a word
        "RUN cat <<",  # no name
    ],
)
def test_no_heredoc(line: str) -> None:
    result = scan(f"FROM a\n{line}\nRUN next\n")
    assert [(i.start_line, i.end_line, i.heredocs) for i in result.instructions[1:]] == [
        (2, 2, ()),
        (3, 3, ()),
    ]


def test_unterminated_heredoc_is_a_problem() -> None:
    df = parse_dockerfile("FROM a\nRUN <<EOF\necho never ends\n")
    assert not df.ok
    (problem,) = df.problems
    assert problem.line == 2
    assert problem.fatal
    assert "unterminated heredoc" in problem.message


def test_heredoc_terminator_tolerates_carriage_returns() -> None:
    raw = scan("FROM a\nRUN <<EOF\nx\nEOF\r\r\n").instructions[1]
    assert raw.end_line == 4


# -- keyword splitting ----------------------------------------------------------------------------


_KEYWORD_ALPHABET = st.sampled_from(
    ["RUN", "run", "ONBUILD", "FROM", "x", "echo", " ", "\t", "\v", "\u3000", "\u00a0", "\x85", "--a", "="]
)


@settings(max_examples=1000, deadline=None)
@given(st.lists(_KEYWORD_ALPHABET, max_size=8).map("".join))
def test_keyword_is_the_first_ascii_blank_separated_word_of_the_stripped_line(text: str) -> None:
    """BuildKit's splitCommand: Go's spaces (Unicode ones included) are trimmed from the line, then
    the keyword is split off on ASCII blanks only; what follows (after those blanks) is the rest."""
    body = text.strip(GO_SPACE)
    expected_word, *rest = re.split("[\t\v\f\r ]+", body, maxsplit=1)
    raw = scan("FROM a\n").instructions[0]
    try:
        instruction = build_instruction(raw, "\\", text, 0)
    except DockerfileSyntaxError as error:
        if not expected_word:
            assert error.message == "empty instruction"
        elif expected_word.upper() not in KEYWORDS:
            assert error.message == f"unknown instruction: {expected_word}"
        else:  # a known keyword with bad flags or a bad ONBUILD trigger
            assert expected_word.upper() == "ONBUILD" or (rest and "--" in rest[0])
        return
    assert instruction.written_keyword == expected_word
    expected_args = rest[0].strip(GO_SPACE) if rest else ""
    if instruction.keyword != "ONBUILD" and "--" not in expected_args:
        assert instruction.args == expected_args
        assert text[instruction.args_offset :].rstrip(GO_SPACE) == instruction.args


# -- BuildKit's longest line --------------------------------------------------------------------


@pytest.mark.parametrize("ending", ["\n", "\r\n", ""])
@pytest.mark.parametrize("size", [65534, 65535, 65536])
def test_lines_over_65535_bytes_are_refused_as_buildkit_refuses_them(size: int, ending: str) -> None:
    """Go's bufio.Scanner gives up on a token of 64 KiB: the line's bytes, with a `\r` before its
    newline, may be 65,535 at most (the oracle, BuildKit's own parser, agrees at each size)."""
    text = "FROM a\nRUN echo " + "é" * ((size - 9) // 2) + "x" * ((size - 9) % 2) + ending
    line_bytes = len(text.split("\n")[1].encode())  # a `\r` before the newline counts
    assert line_bytes == size + (1 if ending == "\r\n" else 0)
    accepted = line_bytes <= 65535
    assert oracle_accepts(text) == accepted
    model = parse_dockerfile(text)
    assert model.ok == accepted
    if not accepted:
        assert model.problems[0].line == 2
        assert "greater than max allowed size of 65535" in model.problems[0].message
