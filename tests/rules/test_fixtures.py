"""Every annotated fixture: the findings fire exactly where marked, and every fix is proven:
applied, it matches the golden file, removes the finding, adds no other, and BuildKit's parser
reads the fixed file as the same instructions plus the intended edit."""

from __future__ import annotations

import pytest

from bot.analysis import DockerIgnore
from bot.engine import LintOptions, lint_text
from bot.fixes.apply import apply_edits
from bot.rules.base import Edit
from tests.fixture_cases import FixtureCase, all_cases
from tests.oracle import oracle_parse

CASES = all_cases()


def _options(case: FixtureCase) -> LintOptions:
    ignore = DockerIgnore.parse(case.dockerignore) if case.dockerignore is not None else None
    return LintOptions(dockerignore=ignore)


def _fix_edits(case: FixtureCase) -> list[Edit]:
    result = lint_text(case.text, str(case.path), _options(case))
    return [edit for f in result.findings if f.code == case.code and f.fix for edit in f.fix.edits]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_findings_fire_exactly_where_annotated(case: FixtureCase) -> None:
    result = lint_text(case.text, str(case.path), _options(case))
    assert not result.problems, result.problems
    fired = {f.line for f in result.findings if f.code == case.code}
    assert case.expected or case.near_misses, "a fixture must annotate something"
    assert fired == set(case.expected)
    assert not fired & case.near_misses


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_fix_matches_golden_and_is_proven(case: FixtureCase) -> None:
    edits = _fix_edits(case)
    if case.fixed is None:
        assert not edits, "no golden file, so the case must offer no fix"
        return
    assert edits, "a golden file exists, so the case must offer a fix"
    fixed = apply_edits(case.text, edits)
    assert fixed == case.fixed
    before = lint_text(case.text, str(case.path), _options(case))
    after = lint_text(fixed, str(case.path), _options(case))
    assert not after.problems
    assert not [f for f in after.findings if f.code == case.code]
    # No new finding of any other rule appears.
    assert {(f.code) for f in after.findings} <= {f.code for f in before.findings}
    # BuildKit's parser reads every instruction the edits did not touch exactly as before (at its
    # shifted line), and the file still parses.
    _assert_untouched_instructions_survive(case.text, fixed, edits)


def _assert_untouched_instructions_survive(original_text: str, fixed_text: str, edits: list[Edit]) -> None:
    unique = sorted(set(edits), key=lambda e: e.start_line)
    original = oracle_parse(original_text)
    rewritten = {i.start_line: i for i in oracle_parse(fixed_text)}
    for old in original:
        span = set(range(old.start_line, old.end_line + 1))
        if any(span & set(range(e.start_line, e.end_line + 1)) for e in unique):
            continue
        delta = sum(
            (len(e.new_text.split("\n")) if e.new_text else 0) - (e.end_line - e.start_line + 1)
            for e in unique
            if e.end_line < old.start_line
        )
        new = rewritten.get(old.start_line + delta)
        assert new is not None, f"instruction on line {old.start_line} is gone after the fix"
        assert (new.keyword, new.flags, new.heredocs, new.end_line - new.start_line) == (
            old.keyword,
            old.flags,
            old.heredocs,
            old.end_line - old.start_line,
        )
