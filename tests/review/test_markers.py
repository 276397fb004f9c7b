"""Fingerprints survive moves, change with the instruction, and count repeats; markers round-trip."""

from __future__ import annotations

from bot.review.markers import (
    fingerprint_marker,
    fingerprints,
    fingerprints_in,
    normalized_lines,
    recheck_refusal_marker,
    review_marker,
)
from tests.review.builders import finding

DOCKERFILE = """\
FROM alpine
RUN --mount=type=cache,target=.cache \\
    make build
COPY . .
"""


def test_fingerprints_are_stable_when_lines_move() -> None:
    moved = "# a comment\n\nARG X=1\n" + DOCKERFILE
    before = fingerprints("Dockerfile", DOCKERFILE, [finding(2, end_line=3)])
    after = fingerprints("Dockerfile", moved, [finding(5, end_line=6)])
    assert before == after


def test_fingerprints_change_with_the_text_the_rule_or_the_path() -> None:
    [base] = fingerprints("Dockerfile", DOCKERFILE, [finding(2, end_line=3)])
    edited = DOCKERFILE.replace("make build", "make all")
    assert fingerprints("Dockerfile", edited, [finding(2, end_line=3)]) != [base]
    assert fingerprints("Dockerfile", DOCKERFILE, [finding(2, "BKM006", end_line=3)]) != [base]
    assert fingerprints("api/Dockerfile", DOCKERFILE, [finding(2, end_line=3)]) != [base]


def test_whitespace_and_continuations_do_not_matter() -> None:
    reflowed = DOCKERFILE.replace("target=.cache \\\n    make build", "target=.cache    make   build")
    assert fingerprints("Dockerfile", reflowed, [finding(2)]) == fingerprints(
        "Dockerfile", DOCKERFILE, [finding(2, end_line=3)]
    )
    assert normalized_lines(DOCKERFILE, 2, 3) == "RUN --mount=type=cache,target=.cache make build"


def test_repeated_identical_findings_are_numbered() -> None:
    text = "RUN a\nRUN a\nRUN a\n"
    first, second, third = fingerprints("Dockerfile", text, [finding(1), finding(2), finding(3)])
    assert len({first, second, third}) == 3
    # Deleting the first of three identical lines keeps two fingerprints, not the moved ones' lines.
    assert fingerprints("Dockerfile", "RUN a\nRUN a\n", [finding(1), finding(2)]) == [first, second]


def test_markers_round_trip_and_are_html_comments() -> None:
    [fp] = fingerprints("Dockerfile", DOCKERFILE, [finding(2)])
    body = f"text\n{fingerprint_marker(fp)}\n<!-- mountie:fingerprint=nothex -->"
    assert fingerprints_in(body) == {fp}
    assert review_marker("abc", "guid-1") == "<!-- mountie:review=abc/guid-1 -->"
    hostile = review_marker("abc", "x --> <b>")
    assert hostile.count("-->") == 1 and hostile.endswith("-->")
    assert recheck_refusal_marker("Bob") == "<!-- mountie:recheck-refused=bob -->"
