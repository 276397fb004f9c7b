"""Grouping overlapping fixes, and where each item can go in the diff."""

from __future__ import annotations

from bot.review.items import file_items
from bot.review.model import Placement
from bot.rules.base import Edit, Severity
from tests.review.builders import TEXT, finding, replace_line, report, window_patch


def test_a_fix_inside_one_hunk_is_a_suggestion_over_its_whole_range() -> None:
    edits = (replace_line(3, "RUN echo three && mv a /tmp/a"), replace_line(6, "COPY /tmp/a b"))
    [item] = file_items(report([finding(6, edits=edits)]))
    assert (item.placement, item.anchor) == (Placement.INLINE, (3, 6))
    assert item.suggestion == "RUN echo three && mv a /tmp/a\nRUN echo 4\nRUN echo 5\nCOPY /tmp/a b"


def test_findings_whose_fixes_overlap_share_one_comment_and_one_suggestion() -> None:
    # The ranges 4..8 and 6..6 overlap; the edits themselves do not, so both apply together.
    a = finding(
        8, "BKM007", edits=(replace_line(4, "RUN echo four"), replace_line(8, "RUN echo eight")), title="A"
    )
    b = finding(6, "BKM008", severity=Severity.ERROR, edits=(Edit(6, 6, "RUN echo six"),), title="B")
    c = finding(20, "BKM005", edits=(replace_line(20, "RUN echo twenty"),))
    first, second = file_items(report([a, b, c]))
    assert [f.code for f in first.findings] == ["BKM008", "BKM007"]  # most severe first
    assert first.anchor == (4, 8)
    assert first.suggestion == "RUN echo four\nRUN echo 5\nRUN echo six\nRUN echo 7\nRUN echo eight"
    assert first.fix_title == "B; A"
    assert len(first.fingerprints) == 2
    assert (second.anchor, second.suggestion) == ((20, 20), "RUN echo twenty")


def test_conflicting_overlapping_fixes_suggest_the_most_severe_one() -> None:
    a = finding(5, "BKM007", edits=(Edit(4, 6, "RUN a"),), title="A")
    b = finding(5, "BKM009", severity=Severity.ERROR, edits=(replace_line(5, "RUN b"),), title="B")
    [item] = file_items(report([a, b]))
    assert (item.anchor, item.suggestion, item.fix_title) == ((5, 5), "RUN b", "B")
    assert [f.code for f in item.findings] == ["BKM009", "BKM007"]  # both named in the comment


def test_a_fix_crossing_hunks_is_anchored_on_the_finding_with_a_diff() -> None:
    patch = window_patch(TEXT, 1, 7) + "\n" + window_patch(TEXT, 18, 24).replace("-old\n", "")
    edits = (replace_line(5, "RUN echo five"), replace_line(20, "RUN echo twenty"))
    [item] = file_items(report([finding(20, edits=edits)], patch=patch))
    assert (item.placement, item.anchor, item.suggestion) == (Placement.INLINE, (20, 20), None)
    assert item.fix_diff is not None and item.fix_diff.startswith("@@ -5,16 +5,16 @@")


def test_a_multi_line_finding_half_in_the_diff_is_anchored_on_its_first_line() -> None:
    [item] = file_items(report([finding(7, end_line=9)], patch=window_patch(TEXT, 1, 7)))
    assert item.anchor == (7, 7)


def test_outside_the_diff_and_without_a_patch() -> None:
    edits = (replace_line(30, "RUN echo thirty"),)
    [outside] = file_items(report([finding(30, edits=edits)], patch=window_patch(TEXT, 1, 7)))
    assert (outside.placement, outside.anchor) == (Placement.OUTSIDE_DIFF, None)
    assert outside.fix_diff == "@@ -30,1 +30,1 @@\n-RUN echo 30\n+RUN echo thirty"
    [unpatched] = file_items(report([finding(3)], patch=None))
    assert (unpatched.placement, unpatched.anchor) == (Placement.NO_PATCH, None)


def test_a_fix_that_changes_nothing_is_never_suggested() -> None:
    [item] = file_items(report([finding(3, edits=(replace_line(3, "RUN echo 3"),))]))
    assert (item.anchor, item.suggestion, item.fix_diff) == ((3, 3), None, None)


def test_findings_without_a_fix_stand_alone() -> None:
    items = file_items(report([finding(3, no_fix_reason="pick an id"), finding(3, "BKM006")]))
    assert [(i.anchor, len(i.findings)) for i in items] == [((3, 3), 1), ((3, 3), 1)]
