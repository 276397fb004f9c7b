from __future__ import annotations

from pathlib import Path

from bot.engine import lint_text

MOTIVATING = (Path(__file__).parent / "data" / "motivating.Dockerfile").read_text()


def _codes(text: str) -> list[str]:
    return [f.code for f in lint_text(text).findings]


def test_motivating_dockerfile_fires_without_suppression() -> None:
    assert "BKM001" in _codes(MOTIVATING)


def test_ignore_comment_silences_the_next_instruction_only() -> None:
    marker = "COPY --from=builder /app/target/release/rest"
    text = MOTIVATING.replace(marker, "# mountie ignore=BKM001 we ship the stale copy on purpose\n" + marker)
    result = lint_text(text)
    assert "BKM001" not in [f.code for f in result.findings]
    assert not result.problems


def test_ignore_comment_on_another_instruction_does_not_silence() -> None:
    text = MOTIVATING.replace("CMD [", "# mountie ignore=BKM001\nCMD [")
    assert "BKM001" in _codes(text)


def test_global_ignore_silences_the_whole_file() -> None:
    text = "# mountie global ignore=BKM001 legacy image\n" + MOTIVATING
    assert "BKM001" not in _codes(text)


def test_codes_are_case_insensitive_and_comma_separated() -> None:
    text = "# mountie global ignore=bkm001, BKM001\n" + MOTIVATING
    result = lint_text(text)
    assert "BKM001" not in [f.code for f in result.findings]


def test_unknown_code_in_a_suppression_is_reported_not_ignored() -> None:
    text = "# mountie global ignore=BKM999\n" + MOTIVATING
    result = lint_text(text)
    assert "BKM001" in [f.code for f in result.findings]
    assert [(p.line, p.fatal) for p in result.problems] == [(1, False)]
    assert "unknown rule BKM999" in result.problems[0].message
