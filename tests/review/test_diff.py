"""Reading GitHub `patch` text into commentable RIGHT-side line ranges."""

from __future__ import annotations

from bot.review.diff import Hunk, parse_patch

TWO_HUNKS = """\
@@ -1,7 +1,7 @@
 FROM python:3.12-slim AS build
 WORKDIR /src
 COPY requirements.txt .
-RUN pip install -r requirements.txt
+RUN --mount=type=cache,target=/root/.cache/pip pip install -r requirements.txt
 COPY . .
 RUN python -m compileall .
 RUN python -m pytest -q
@@ -17,6 +17,5 @@ FROM python:3.12-slim
 COPY --from=build /src /app
 WORKDIR /app
 EXPOSE 8080
-USER nobody
 HEALTHCHECK CMD python -c "import app"
 ENTRYPOINT ["python", "/app/main.py"]"""


def test_hunks_are_right_side_ranges_with_their_added_lines() -> None:
    diff = parse_patch(TWO_HUNKS)
    assert diff.hunks == (Hunk(1, 7, frozenset({4})), Hunk(17, 21, frozenset()))
    assert diff.added == frozenset({4})


def test_lines_and_ranges_inside_and_outside_the_diff() -> None:
    diff = parse_patch(TWO_HUNKS)
    assert diff.hunk_of(7) == diff.hunks[0] and diff.hunk_of(17) == diff.hunks[1]
    assert diff.hunk_of(10) is None and diff.hunk_of(22) is None
    assert diff.same_hunk(2, 6)
    assert not diff.same_hunk(5, 18)  # GitHub: start line must be part of the same hunk
    assert not diff.same_hunk(8, 9)


def test_no_newline_markers_take_no_line() -> None:
    patch = """\
@@ -1,2 +1,3 @@
 FROM alpine
-RUN echo a
\\ No newline at end of file
+RUN echo a
+RUN echo b
\\ No newline at end of file"""
    assert parse_patch(patch).hunks == (Hunk(1, 3, frozenset({2, 3})),)


def test_a_new_file_is_one_hunk_and_a_deleted_file_has_no_right_side() -> None:
    added = parse_patch("@@ -0,0 +1,3 @@\n+FROM alpine\n+RUN a\n+RUN b")
    assert added.hunks == (Hunk(1, 3, frozenset({1, 2, 3})),)
    removed = parse_patch("@@ -1,2 +0,0 @@\n-FROM alpine\n-RUN a")
    assert removed.hunks == (Hunk(1, 0, frozenset()),)
    assert removed.hunk_of(1) is None


def test_single_line_hunk_headers_and_stripped_blank_context() -> None:
    # "@@ -3 +3 @@" means one line; an empty context line may arrive without its leading space.
    patch = "@@ -3 +3 @@\n-RUN a\n+RUN b\n@@ -9,3 +9,3 @@\n FROM x\n\n-RUN c\n+RUN d"
    diff = parse_patch(patch)
    assert diff.hunks == (Hunk(3, 3, frozenset({3})), Hunk(9, 11, frozenset({11})))
