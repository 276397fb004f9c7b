"""A fix as the lines it replaces, and as a diff."""

from __future__ import annotations

from bot.review.suggestions import replacement, span, unified_diff
from bot.rules.base import Edit

TEXT = "FROM a\nRUN b\nRUN c\nCOPY d e\n"


def test_the_replaced_range_runs_from_the_first_to_the_last_edit() -> None:
    edits = (Edit(4, 4, "COPY /tmp/d e"), Edit(2, 2, "RUN b && \\\n    mv d /tmp/d"))
    assert span(edits) == (2, 4)
    change = replacement(TEXT, edits)
    assert change is not None
    assert (change.start, change.end) == (2, 4)
    assert change.text == "RUN b && \\\n    mv d /tmp/d\nRUN c\nCOPY /tmp/d e"
    assert change.changes_something


def test_deleting_lines_and_noop_fixes() -> None:
    deletion = replacement(TEXT, (Edit(3, 3, ""),))
    assert deletion is not None and deletion.text == "" and deletion.changes_something
    noop = replacement(TEXT, (Edit(3, 3, "RUN c"),))
    assert noop is not None and not noop.changes_something


def test_conflicting_or_out_of_range_edits_give_nothing() -> None:
    assert replacement(TEXT, (Edit(2, 3, "x"), Edit(3, 4, "y"))) is None
    assert replacement(TEXT, (Edit(9, 9, "x"),)) is None
    assert replacement(TEXT, ()) is None


def test_crlf_files() -> None:
    change = replacement("FROM a\r\nRUN b\r\n", (Edit(2, 2, "RUN c"),))
    assert change is not None and change.old == ("RUN b",) and change.new == ("RUN c",)


def test_unified_diff_is_numbered_like_the_file() -> None:
    change = replacement(TEXT, (Edit(2, 2, "RUN B"), Edit(4, 4, "COPY D E")))
    assert change is not None
    assert unified_diff(change) == "@@ -2,3 +2,3 @@\n-RUN b\n+RUN B\n RUN c\n-COPY d e\n+COPY D E"
