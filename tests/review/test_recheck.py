"""Who may recheck, the cooldown, and finding an earlier refusal."""

from __future__ import annotations

from collections.abc import Callable

from bot.github.types import CheckRun, IssueComment
from bot.review.recheck import already_refused, cooling_down, is_bot, may_recheck, refusal


def run(run_id: int, started_at: float | None, conclusion: str | None = "success") -> CheckRun:
    status = "in_progress" if conclusion is None else "completed"
    return CheckRun(run_id, "Mountie", "sha", status, conclusion, "7", started_at, "mountie")


def test_authors_and_writers_may_recheck() -> None:
    looked_up: list[str] = []

    def permission(level: str) -> Callable[[], str]:
        def lookup() -> str:
            looked_up.append(level)
            return level

        return lookup

    assert may_recheck("Alice", "alice", permission("none"))
    assert looked_up == []  # the author needs no lookup
    assert may_recheck("bob", "alice", permission("write"))
    assert may_recheck("bob", "alice", permission("admin"))
    assert not may_recheck("bob", "alice", permission("read"))
    assert not may_recheck("bob", "alice", permission("none"))


def test_bots_are_recognised_by_their_login() -> None:
    assert is_bot("dependabot[bot]") and not is_bot("bot-fan")


def test_cooldown_looks_at_the_newest_run() -> None:
    assert cooling_down([run(1, 100.0), run(2, 980.0)], now=1000.0)
    assert not cooling_down([run(1, 990.0), run(2, 900.0)], now=1000.0)
    assert not cooling_down([], now=1000.0)
    assert not cooling_down([run(3, None)], now=1000.0)
    assert cooling_down([run(4, 990.0, conclusion=None)], now=1000.0)  # still running


def test_runs_without_a_verdict_do_not_hold_a_recheck_back() -> None:
    # Superseded, skipped, or could not finish: a recheck (or the job's retry) must run.
    assert not cooling_down([run(1, 900.0), run(2, 995.0, conclusion="neutral")], now=1000.0)


def test_a_refusal_is_found_again_by_its_marker() -> None:
    text = refusal("Bob")
    assert text.startswith("@Bob only the author of this pull request and people with write access")
    assert already_refused([IssueComment(1, "mountie[bot]", text)], "mountie[bot]", "bob")
    assert not already_refused([IssueComment(1, "bob", text)], "mountie[bot]", "bob")
    assert not already_refused([IssueComment(1, "mountie[bot]", refusal("carol"))], "mountie[bot]", "bob")
