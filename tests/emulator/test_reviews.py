"""Creating reviews and review comments, with GitHub's 422s, pending-review rule and outdated comments."""

from __future__ import annotations

from typing import Any

import github
import pytest

from bot.testing.github_emulator import GitHubEmulator
from tests.emulator.support import REPO, Scenario, client, commit, raw, review_scenario

LINE_NOT_IN_DIFF = {
    "message": "Unprocessable Entity",
    "errors": ["Pull request review thread line must be part of the diff"],
    "documentation_url": "https://docs.github.com/rest/pulls/reviews#create-a-review-for-a-pull-request",
    "status": "422",
}


def post_review(emu: GitHubEmulator, scenario: Scenario, body: dict[str, Any]) -> Any:
    return raw(emu, "POST", f"/repos/{REPO}/pulls/7/reviews", body, token=scenario.token)


def test_review_with_in_diff_comment(emu: GitHubEmulator) -> None:
    scenario = review_scenario(emu)
    pr = client(emu, scenario.token).get_repo(REPO).get_pull(7)
    review = pr.create_review(
        commit=commit(pr, scenario.head),
        body="Mountie found 1 hazard",
        event="COMMENT",
        comments=[{"path": "Dockerfile", "line": 4, "side": "RIGHT", "body": "cache mount"}],
    )
    assert (review.state, review.user.login, review.commit_id) == ("COMMENTED", "mountie[bot]", scenario.head)
    # GitHub documents (and answers) 200 for this endpoint, not 201.
    assert emu.requests[-1].status == 200
    [comment] = pr.get_review_comments()
    assert (comment.path, comment.line, comment.side, comment.position) == ("Dockerfile", 4, "RIGHT", 5)
    assert comment.diff_hunk.endswith(
        "+RUN --mount=type=cache,target=/root/.cache/pip pip install -r requirements.txt"
    )
    assert comment.pull_request_review_id == review.id
    [stored] = emu.review_comments(REPO, 7)
    assert stored.body == "cache mount"


def test_out_of_diff_comment_fails_the_whole_review_with_githubs_body(emu: GitHubEmulator) -> None:
    scenario = review_scenario(emu)
    pr = client(emu, scenario.token).get_repo(REPO).get_pull(7)
    with pytest.raises(github.GithubException) as caught:
        pr.create_review(
            body="two findings",
            event="COMMENT",
            comments=[
                {"path": "Dockerfile", "line": 4, "side": "RIGHT", "body": "fine"},
                {"path": "Dockerfile", "line": 10, "side": "RIGHT", "body": "outside the diff"},
            ],
        )
    assert caught.value.status == 422
    assert caught.value.data == LINE_NOT_IN_DIFF
    assert emu.reviews(REPO, 7) == [] and emu.review_comments(REPO, 7) == []
    assert emu.violations == []  # a semantic 422 is GitHub behaviour, not an off-spec request


@pytest.mark.parametrize(
    ("comment", "error"),
    [
        (
            {"path": "Dockerfile", "line": 5, "start_line": 5},
            "Pull request review thread start line must precede the end line.",
        ),
        (
            {"path": "Dockerfile", "line": 5, "start_line": 6},
            "Pull request review thread start line must precede the end line.",
        ),
        (
            {"path": "Dockerfile", "line": 18, "start_line": 5},
            "Pull request review thread start line must be part of the same hunk as the line.",
        ),
        (
            {"path": "README.md", "line": 1},
            "Pull request review thread path is invalid and "
            "Pull request review thread diff hunk can't be blank",
        ),
        (
            {"path": "Dockerfile", "line": 10, "side": "LEFT"},
            "Pull request review thread line must be part of the diff",
        ),
        (
            {"path": "Dockerfile", "line": 4, "side": "MIDDLE"},
            "Pull request review thread side is not included in the list",
        ),
        ({"path": "Dockerfile", "position": 9}, "Pull request review thread position is invalid"),
    ],
)
def test_review_comment_placement_errors(emu: GitHubEmulator, comment: dict[str, Any], error: str) -> None:
    scenario = review_scenario(emu)
    response = post_review(emu, scenario, {"event": "COMMENT", "comments": [{**comment, "body": "x"}]})
    assert (response.status, response.body["errors"]) == (422, [error])
    assert emu.reviews(REPO, 7) == []


def test_multi_line_left_side_and_legacy_position_comments(emu: GitHubEmulator) -> None:
    scenario = review_scenario(emu)
    response = post_review(
        emu,
        scenario,
        {
            "event": "COMMENT",
            "body": "b",
            "comments": [
                {"path": "Dockerfile", "start_line": 2, "line": 4, "body": "range"},
                {"path": "Dockerfile", "line": 20, "side": "LEFT", "body": "deleted USER"},
                {"path": "Dockerfile", "position": 10, "body": "legacy"},
            ],
        },
    )
    assert response.status == 200
    ranged, deleted, legacy = emu.review_comments(REPO, 7)
    assert (ranged.start_line, ranged.start_side, ranged.line, ranged.side) == (2, "RIGHT", 4, "RIGHT")
    assert (deleted.line, deleted.side) == (20, "LEFT")
    assert (legacy.line, legacy.side, legacy.position) == (17, "RIGHT", 10)


def test_review_without_event_is_pending_and_only_one_pending_review_is_allowed(emu: GitHubEmulator) -> None:
    scenario = review_scenario(emu)
    first = post_review(emu, scenario, {"comments": [{"path": "Dockerfile", "line": 4, "body": "draft"}]})
    assert (first.status, first.body["state"]) == (200, "PENDING")
    assert "submitted_at" not in first.body
    second = post_review(emu, scenario, {"event": "COMMENT", "body": "again"})
    assert (second.status, second.body["errors"]) == (
        422,
        ["User can only have one pending review per pull request"],
    )
    # Pending reviews are invisible to everyone else.
    other = emu.add_user_token("ghp_other", login="bob")
    assert raw(emu, "GET", f"/repos/{REPO}/pulls/7/reviews", token=other).body == []
    assert raw(emu, "GET", f"/repos/{REPO}/pulls/7/comments", token=other).body == []
    review_id = first.body["id"]
    deleted = raw(emu, "DELETE", f"/repos/{REPO}/pulls/7/reviews/{review_id}", token=scenario.token)
    assert deleted.status == 200
    assert emu.reviews(REPO, 7) == [] and emu.review_comments(REPO, 7) == []
    assert post_review(emu, scenario, {"event": "COMMENT", "body": "now fine"}).status == 200


def test_submit_pending_review(emu: GitHubEmulator) -> None:
    scenario = review_scenario(emu)
    pending = post_review(emu, scenario, {"comments": [{"path": "Dockerfile", "line": 4, "body": "c"}]}).body
    url = f"/repos/{REPO}/pulls/7/reviews/{pending['id']}/events"
    submitted = raw(
        emu, "POST", url, {"event": "REQUEST_CHANGES", "body": "please fix"}, token=scenario.token
    )
    assert (submitted.status, submitted.body["state"]) == (200, "CHANGES_REQUESTED")
    again = raw(emu, "POST", url, {"event": "COMMENT", "body": "x"}, token=scenario.token)
    assert again.status == 422
    not_pending = raw(emu, "DELETE", f"/repos/{REPO}/pulls/7/reviews/{pending['id']}", token=scenario.token)
    assert not_pending.status == 422


def test_event_rules(emu: GitHubEmulator) -> None:
    scenario = review_scenario(emu)
    empty = post_review(emu, scenario, {"event": "REQUEST_CHANGES"})
    assert (empty.status, empty.body["errors"]) == (422, ["Body can't be blank"])
    assert post_review(emu, scenario, {"event": "APPROVE"}).status == 200
    alice = emu.add_user_token("ghp_alice", login="alice")
    emu.set_permission(REPO, "alice", "write")
    own = raw(emu, "POST", f"/repos/{REPO}/pulls/7/reviews", {"event": "APPROVE"}, token=alice)
    assert (own.status, own.body["errors"]) == (422, ["Can not approve your own pull request"])


def test_dismiss_only_approvals_and_change_requests(emu: GitHubEmulator) -> None:
    scenario = review_scenario(emu)
    commented = post_review(emu, scenario, {"event": "COMMENT", "body": "note"}).body
    approved = post_review(emu, scenario, {"event": "APPROVE"}).body
    base = f"/repos/{REPO}/pulls/7/reviews"
    refused = raw(
        emu, "PUT", f"{base}/{commented['id']}/dismissals", {"message": "stale"}, token=scenario.token
    )
    assert (refused.status, refused.body["errors"]) == (
        422,
        ["Can not dismiss a commented pull request review"],
    )
    done = raw(emu, "PUT", f"{base}/{approved['id']}/dismissals", {"message": "stale"}, token=scenario.token)
    assert (done.status, done.body["state"]) == (200, "DISMISSED")


def test_commit_id_must_belong_to_the_pull_request(emu: GitHubEmulator) -> None:
    scenario = review_scenario(emu)
    stranger = emu.add_commit(REPO, {"x": "y"}, parent=scenario.base)
    response = post_review(emu, scenario, {"event": "COMMENT", "body": "b", "commit_id": stranger})
    assert response.status == 422


def test_comments_on_an_older_commit_and_after_a_push_become_outdated(emu: GitHubEmulator) -> None:
    scenario = review_scenario(emu)
    newer = emu.add_commit(REPO, {"README.md": "# app v2\n"}, parent=scenario.head)
    emu.push(REPO, 7, newer)
    # The Dockerfile did not change after scenario.head, so a comment there lands on the new head.
    response = post_review(
        emu,
        scenario,
        {
            "event": "COMMENT",
            "body": "b",
            "commit_id": scenario.head,
            "comments": [{"path": "Dockerfile", "line": 4, "body": "c"}],
        },
    )
    assert response.status == 200
    [comment] = emu.review_comments(REPO, 7)
    assert (comment.commit_id, comment.original_commit_id, comment.line) == (newer, scenario.head, 4)

    fixed = emu.add_commit(REPO, {"Dockerfile": "FROM scratch\n"}, parent=newer)
    emu.push(REPO, 7, fixed)
    listed = raw(emu, "GET", f"/repos/{REPO}/pulls/7/comments", token=scenario.token).body
    assert (listed[0]["line"], listed[0]["position"], listed[0]["original_line"]) == (None, None, 4)
    assert listed[0]["commit_id"] == newer
    assert [
        f["filename"] for f in raw(emu, "GET", f"/repos/{REPO}/pulls/7/files", token=scenario.token).body
    ] == ["Dockerfile", "README.md"]


def test_list_update_and_delete_review_comments(emu: GitHubEmulator) -> None:
    scenario = review_scenario(emu)
    post_review(
        emu,
        scenario,
        {
            "event": "COMMENT",
            "body": "b",
            "comments": [
                {"path": "Dockerfile", "line": line, "body": f"c{line}"} for line in (1, 2, 3, 4, 5)
            ],
        },
    )
    gh = client(emu, scenario.token, per_page=2)
    pr = gh.get_repo(REPO).get_pull(7)
    comments = list(pr.get_review_comments())
    assert [c.body for c in comments] == ["c1", "c2", "c3", "c4", "c5"]
    assert emu.count_requests(operation="pulls/list-review-comments") == 3
    comments[0].edit("edited")
    assert pr.get_review_comment(comments[0].id).body == "edited"
    comments[1].delete()
    assert [c.body for c in emu.review_comments(REPO, 7)] == ["edited", "c3", "c4", "c5"]
    gone = raw(emu, "GET", f"/repos/{REPO}/pulls/comments/{comments[1].id}", token=scenario.token)
    assert gone.status == 404
    desc = raw(emu, "GET", f"/repos/{REPO}/pulls/7/comments?direction=desc", token=scenario.token).body
    assert [c["body"] for c in desc] == ["c5", "c4", "c3", "edited"]


def test_single_comment_file_level_and_replies_form_threads(emu: GitHubEmulator) -> None:
    scenario = review_scenario(emu)
    pr = client(emu, scenario.token).get_repo(REPO).get_pull(7)
    file_comment = pr.create_review_comment(
        "file-level finding", commit(pr, scenario.head), "Dockerfile", subject_type="file"
    )
    assert file_comment.subject_type == "file"
    assert file_comment.raw_data["line"] is None  # PyGithub types `line` as int; GitHub sends null here
    human = emu.add_review_comment(REPO, 7, "bob", "why?", path="Dockerfile", line=4)
    reply = raw(
        emu,
        "POST",
        f"/repos/{REPO}/pulls/7/comments",
        {"body": "because", "in_reply_to": human, "commit_id": scenario.head, "path": "Dockerfile"},
        token=scenario.token,
    )
    assert reply.status == 201 and reply.body["in_reply_to_id"] == human
    threads = emu.review_threads(REPO, 7)
    assert [[c.body for c in t.comments] for t in threads] == [["file-level finding"], ["why?", "because"]]
    assert threads[1].node_id.startswith("PRRT_")
    outside = raw(
        emu,
        "POST",
        f"/repos/{REPO}/pulls/7/comments",
        {"body": "x", "commit_id": scenario.head, "path": "Dockerfile", "line": 10},
        token=scenario.token,
    )
    # This endpoint documents the object-shaped "Validation Error" body, naming the field.
    assert (outside.status, outside.body["message"]) == (422, "Validation Failed")
    assert outside.body["errors"] == [
        {
            "resource": "PullRequestReviewComment",
            "code": "custom",
            "field": "pull_request_review_thread.line",
            "message": "pull_request_review_thread.line must be part of the diff",
        }
    ]


def test_list_reviews_and_comments_for_review(emu: GitHubEmulator) -> None:
    scenario = review_scenario(emu)
    created = post_review(
        emu,
        scenario,
        {"event": "COMMENT", "body": "b", "comments": [{"path": "Dockerfile", "line": 4, "body": "c"}]},
    ).body
    reviews = list(client(emu, scenario.token).get_repo(REPO).get_pull(7).get_reviews())
    assert [(r.id, r.state) for r in reviews] == [(created["id"], "COMMENTED")]
    one = raw(emu, "GET", f"/repos/{REPO}/pulls/7/reviews/{created['id']}", token=scenario.token)
    assert one.body["body"] == "b"
    listed = raw(emu, "GET", f"/repos/{REPO}/pulls/7/reviews/{created['id']}/comments", token=scenario.token)
    assert [c["body"] for c in listed.body] == ["c"]
    assert raw(emu, "GET", f"/repos/{REPO}/pulls/7/reviews/1", token=scenario.token).status == 404


def test_reactions_on_review_comments(emu: GitHubEmulator) -> None:
    scenario = review_scenario(emu)
    human = emu.add_review_comment(REPO, 7, "bob", "LGTM?", path="Dockerfile", line=4)
    url = f"/repos/{REPO}/pulls/comments/{human}/reactions"
    assert raw(emu, "POST", url, {"content": "eyes"}, token=scenario.token).status == 201
    assert raw(emu, "POST", url, {"content": "eyes"}, token=scenario.token).status == 200
    assert [r.content for r in emu.reactions(REPO, human)] == ["eyes"]


def test_body_length_limit(emu: GitHubEmulator) -> None:
    scenario = review_scenario(emu)
    response = post_review(emu, scenario, {"event": "COMMENT", "body": "x" * 65537})
    assert (response.status, response.body["errors"]) == (
        422,
        ["Body is too long (maximum is 65536 characters)"],
    )
    assert emu.reviews(REPO, 7) == []
