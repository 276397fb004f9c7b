"""GitHub-style patches (checked against `git diff` where git is installed) and diff bookkeeping."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from bot.testing.github_emulator.diff import (
    NO_NEWLINE,
    blob_sha,
    compare_trees,
    count_changes,
    diff_hunk,
    locate,
    locate_position,
    make_patch,
    parse_patch,
)
from tests.emulator.support import BASE_DOCKERFILE, HEAD_DOCKERFILE

CASES = {
    "two hunks": (BASE_DOCKERFILE, HEAD_DOCKERFILE),
    "append": ("FROM a\nRUN b\n", "FROM a\nRUN b\nRUN c\n"),
    "no newline at end": ("FROM a\nRUN b", "FROM a\nRUN c"),
    "newline added at end": ("FROM a\nRUN b", "FROM a\nRUN b\n"),
    "new file": ("", "FROM a\n"),
    "deleted file": ("FROM a\nRUN b\n", ""),
    "crlf": ("FROM a\r\nRUN b\r\n", "FROM a\r\nRUN c\r\n"),
}


def git_patch(tmp_path: Path, old: str, new: str) -> str:
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_bytes(old.encode())
    b.write_bytes(new.encode())
    result = subprocess.run(
        ["git", "diff", "--no-index", "--no-color", "-U3", "--diff-algorithm=myers", str(a), str(b)],
        capture_output=True,
        check=False,
    )
    lines = result.stdout.decode().split("\n")
    first_hunk = next(i for i, line in enumerate(lines) if line.startswith("@@"))
    return "\n".join(lines[first_hunk:]).removesuffix("\n")


@pytest.mark.skipif(shutil.which("git") is None, reason="git is the oracle for patch text")
@pytest.mark.parametrize("case", sorted(CASES))
def test_patch_matches_git(tmp_path: Path, case: str) -> None:
    old, new = CASES[case]
    assert make_patch(old, new) == git_patch(tmp_path, old, new)


def test_hunk_heading_is_nearest_preceding_line_starting_with_a_letter() -> None:
    patch = make_patch(BASE_DOCKERFILE, HEAD_DOCKERFILE)
    headers = [line for line in patch.split("\n") if line.startswith("@@")]
    assert headers == ["@@ -1,7 +1,7 @@", "@@ -17,6 +17,5 @@ ENV APP_VERSION=$VERSION"]


def test_parse_patch_numbers_lines_per_side_and_positions_across_hunks() -> None:
    hunks = parse_patch(make_patch(BASE_DOCKERFILE, HEAD_DOCKERFILE))
    assert len(hunks) == 2
    assert locate(hunks, "RIGHT", 4) is not None
    assert locate(hunks, "RIGHT", 10) is None  # between the hunks
    removed = locate(hunks, "LEFT", 20)
    assert removed is not None and removed[1].kind == "-"
    assert locate(hunks, "RIGHT", 20) is not None  # new line 20 is the HEALTHCHECK context line
    # The first hunk has 8 lines (positions 1-8); the second @@ line takes position 9.
    assert hunks[1].header_position == 9
    found = locate_position(hunks, 10)
    assert found is not None and found[1].new_line == 17
    assert locate_position(hunks, 9) is None


def test_diff_hunk_runs_from_header_to_the_commented_line() -> None:
    hunks = parse_patch(make_patch(BASE_DOCKERFILE, HEAD_DOCKERFILE))
    located = locate(hunks, "RIGHT", 4)
    assert located is not None
    assert diff_hunk(hunks[0], located[1]).split("\n") == [
        "@@ -1,7 +1,7 @@",
        " FROM python:3.12-slim AS build",
        " WORKDIR /src",
        " COPY requirements.txt .",
        "-RUN pip install -r requirements.txt",
        "+RUN --mount=type=cache,target=/root/.cache/pip pip install -r requirements.txt",
    ]


def test_no_newline_marker_is_not_a_line() -> None:
    patch = make_patch("a\nb", "a\nc")
    assert NO_NEWLINE in patch
    assert count_changes(patch) == (1, 1)
    hunks = parse_patch(patch)
    assert locate(hunks, "RIGHT", 2) is not None and locate(hunks, "RIGHT", 3) is None


def test_compare_trees_statuses_renames_and_binaries() -> None:
    base = {
        "Dockerfile": b"FROM a\nRUN b\n",
        "old/Dockerfile.dev": b"FROM a\nRUN b\nRUN c\nRUN d\n",
        "gone.txt": b"bye\n",
        "logo.png": b"\x89PNG\x00\x01",
        "same.txt": b"same\n",
    }
    head = {
        "Dockerfile": b"FROM a\nRUN z\n",
        "new/Dockerfile.dev": b"FROM a\nRUN b\nRUN c\nRUN e\n",
        "added.txt": b"hi\n",
        "logo.png": b"\x89PNG\x00\x02",
        "same.txt": b"same\n",
    }
    changes = {c.filename: c for c in compare_trees(base, head)}
    assert sorted(changes) == ["Dockerfile", "added.txt", "gone.txt", "logo.png", "new/Dockerfile.dev"]
    assert changes["Dockerfile"].status == "modified"
    assert (changes["Dockerfile"].additions, changes["Dockerfile"].deletions) == (1, 1)
    renamed = changes["new/Dockerfile.dev"]
    assert (renamed.status, renamed.previous_filename) == ("renamed", "old/Dockerfile.dev")
    assert renamed.patch is not None and "+RUN e" in renamed.patch
    assert changes["gone.txt"].status == "removed"
    assert changes["added.txt"].sha == blob_sha(b"hi\n")
    assert changes["logo.png"].patch is None  # GitHub omits `patch` for binary files


def test_pure_rename_has_no_patch() -> None:
    changes = compare_trees({"a/Dockerfile": b"FROM a\n"}, {"b/Dockerfile": b"FROM a\n"})
    assert [(c.status, c.previous_filename, c.patch) for c in changes] == [("renamed", "a/Dockerfile", None)]


def test_blob_sha_is_gits_object_id() -> None:
    # `printf 'hello\n' | git hash-object --stdin`
    assert blob_sha(b"hello\n") == "ce013625030ba8dba906f756967f9e9ca394464a"
