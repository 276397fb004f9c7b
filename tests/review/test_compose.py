"""What a run posts: dedupe, the inline cap, the review body, and threads to resolve."""

from __future__ import annotations

from bot.review.compose import MAX_INLINE, needs_review_bodies, plan_review, summary_only
from bot.review.items import file_items
from bot.review.markers import fingerprint_marker, fingerprints_in
from bot.review.model import ExistingComment, Item, Placement
from bot.review.render import BODY_LIMIT
from bot.rules.base import Severity
from tests.review.builders import TEXT, finding, replace_line, report, window_patch

BOT = "mountie[bot]"
MARKER = "<!-- mountie:review=sha/run -->"


def items_for(lines: list[int], **kwargs: object) -> list[Item]:
    findings = [finding(n, edits=(replace_line(n, f"RUN echo fixed {n}"),)) for n in lines]
    return file_items(report(findings, **kwargs))  # type: ignore[arg-type]


def posted(item: Item, *, comment_id: int = 1, line: int | None = 3, author: str = BOT) -> ExistingComment:
    return ExistingComment(
        comment_id, item.path, line, f"old text\n{fingerprint_marker(item.fingerprints[0])}", author, None
    )


def test_first_review_puts_everything_inline() -> None:
    items = items_for([3, 9])
    plan = plan_review(items, [], bot_login=BOT, marker=MARKER)
    assert [(c.path, c.start_line, c.line) for c in plan.comments] == [
        ("Dockerfile", None, 3),
        ("Dockerfile", None, 9),
    ]
    body = plan.comments[0].body
    assert body.startswith("**[BKM005 relative-target-implicit-id](https://")
    assert "· warning\n\nBKM005 on line 3" in body
    assert "```suggestion\nRUN echo fixed 3\n```" in body
    assert fingerprints_in(body) == set(items[0].fingerprints)
    assert plan.body == (
        "**Mountie** found 2 new BuildKit mount hazards in this pull request (2 warnings).\n\n" + MARKER
    )
    assert plan.summary == () and plan.resolve == ()


def test_findings_already_commented_by_mountie_are_not_repeated() -> None:
    items = items_for([3, 9])
    plan = plan_review(
        items, [posted(items[0]), posted(items[1], comment_id=2)], bot_login=BOT, marker=MARKER
    )
    assert (plan.body, plan.comments, plan.resolve, plan.writes) == (None, (), (), False)


def test_someone_elses_comment_does_not_count_as_posted_and_is_never_resolved() -> None:
    items = items_for([3])
    copied = posted(items[0], author="mallory")
    plan = plan_review(items, [copied], bot_login=BOT, marker=MARKER)
    assert len(plan.comments) == 1
    assert plan_review([], [copied], bot_login=BOT, marker=MARKER).resolve == ()


def test_an_outdated_comment_is_posted_again_and_its_thread_resolved() -> None:
    items = items_for([3])
    plan = plan_review(items, [posted(items[0], comment_id=5, line=None)], bot_login=BOT, marker=MARKER)
    assert len(plan.comments) == 1 and plan.resolve == (5,)


def test_threads_whose_finding_is_gone_are_resolved_unless_answered_or_unanalysed() -> None:
    [gone] = items_for([3])
    mine = posted(gone, comment_id=5)
    assert plan_review([], [mine], bot_login=BOT, marker=MARKER).resolve == (5,)
    reply = ExistingComment(6, "Dockerfile", 3, "I disagree", "bob", 5)
    assert plan_review([], [mine, reply], bot_login=BOT, marker=MARKER).resolve == ()
    unsettled = frozenset({"Dockerfile"})
    assert plan_review([], [mine], bot_login=BOT, marker=MARKER, unsettled_paths=unsettled).resolve == ()


def test_findings_in_an_earlier_review_summary_are_not_repeated() -> None:
    [outside] = items_for([30], patch=window_patch(TEXT, 1, 7))
    earlier = f"**Mountie** found ...\n\n{fingerprint_marker(outside.fingerprints[0])}"
    assert plan_review([outside], [], bot_login=BOT, marker=MARKER, review_bodies=[earlier]).body is None


def test_findings_outside_the_diff_go_to_the_review_body_with_a_diff() -> None:
    items = items_for([3, 30], patch=window_patch(TEXT, 1, 7))
    plan = plan_review(items, [], bot_login=BOT, marker=MARKER)
    assert [c.line for c in plan.comments] == [3]
    assert [i.placement for i in plan.summary] == [Placement.OUTSIDE_DIFF]
    assert plan.body is not None
    assert "Listed here rather than inline (1 outside the lines this pull request changes):" in plan.body
    assert "#### `Dockerfile` line 30" in plan.body
    assert "```diff\n@@ -30,1 +30,1 @@\n-RUN echo 30\n+RUN echo fixed 30\n```" in plan.body
    assert "```suggestion" not in plan.body
    assert fingerprints_in(plan.body) == set(plan.summary[0].fingerprints)
    assert plan.body.endswith(MARKER)


def test_at_most_25_inline_comments_most_severe_first() -> None:
    findings = [
        finding(
            n, severity=Severity.ERROR if n > 35 else Severity.WARNING, edits=(replace_line(n, f"RUN {n}"),)
        )
        for n in range(1, 41)
    ]
    plan = plan_review(file_items(report(findings)), [], bot_login=BOT, marker=MARKER)
    assert len(plan.comments) == MAX_INLINE == 25
    assert {36, 37, 38, 39, 40} <= {c.line for c in plan.comments}
    assert len(plan.summary) == 15 and {i.placement for i in plan.summary} == {Placement.OVER_LIMIT}
    assert plan.body is not None and plan.body.startswith(
        "**Mountie** found 40 new BuildKit mount hazards in this pull request (5 errors, 35 warnings)."
    )
    assert plan.body.count("#### `Dockerfile` line") == 15


def test_a_huge_summary_is_cut_to_the_body_limit_keeping_every_marker() -> None:
    long = "x" * 5000
    findings = [finding(n, message=long) for n in range(1, 41)]
    plan = plan_review(file_items(report(findings, patch=None)), [], bot_login=BOT, marker=MARKER)
    assert plan.body is not None and len(plan.body) <= BODY_LIMIT
    assert "more: the Mountie check run lists every finding." in plan.body
    assert len(fingerprints_in(plan.body)) == 40
    assert plan.body.endswith(MARKER)


def test_review_bodies_are_read_only_when_they_can_matter() -> None:
    inline = items_for([3])
    assert not needs_review_bodies(inline, [], BOT)  # a first review, all inline
    assert needs_review_bodies(items_for([30], patch=window_patch(TEXT, 1, 7)), [], BOT)
    earlier = posted(items_for([9])[0], comment_id=8)
    assert needs_review_bodies(inline, [earlier], BOT)  # Mountie has been here before
    assert not needs_review_bodies(inline, [posted(inline[0])], BOT)  # nothing new


def test_when_github_refuses_the_inline_comments_they_move_into_the_body() -> None:
    plan = plan_review(items_for([3, 9]), [], bot_login=BOT, marker=MARKER)
    body = summary_only(plan, MARKER)
    assert body is not None and "(2 refused by GitHub as inline comments)" in body
    assert "```diff" in body and "```suggestion" not in body
