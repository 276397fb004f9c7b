"""PR conversation comments and reactions (the `/mountie recheck` acknowledgement path)."""

from __future__ import annotations

from urllib.parse import urlencode

import github
import pytest

from bot.testing.github_emulator import FakeClock, GitHubEmulator
from tests.emulator.support import REPO, client, raw, review_scenario


def test_issue_comments_create_list_update(emu: GitHubEmulator, clock: FakeClock) -> None:
    scenario = review_scenario(emu)
    human = emu.add_issue_comment(REPO, 7, "bob", "/mountie recheck")
    clock.advance(10)
    pr = client(emu, scenario.token).get_repo(REPO).get_pull(7)
    mine = pr.create_issue_comment("<!-- mountie --> summary")
    assert (mine.user.login, mine.performed_via_github_app.slug) == ("mountie[bot]", "mountie")
    mine.edit("<!-- mountie --> updated")
    comments = list(pr.get_issue_comments())
    assert [(c.id, c.body) for c in comments] == [
        (human, "/mountie recheck"),
        (mine.id, "<!-- mountie --> updated"),
    ]
    query = urlencode({"since": mine.created_at.isoformat()})
    since = raw(emu, "GET", f"/repos/{REPO}/issues/7/comments?{query}", token=scenario.token)
    assert [c["id"] for c in since.body] == [mine.id]
    assert [c.body for c in emu.issue_comments(REPO, 7)][-1] == "<!-- mountie --> updated"
    assert (
        raw(emu, "GET", f"/repos/{REPO}/issues/comments/{human}", token=scenario.token).body["user"]["login"]
        == "bob"
    )


def test_malformed_since_is_a_violation(emu: GitHubEmulator) -> None:
    scenario = review_scenario(emu)
    response = raw(emu, "GET", f"/repos/{REPO}/issues/7/comments?since=yesterday", token=scenario.token)
    assert response.status == 422
    assert [v.operation_id for v in emu.take_violations()] == ["issues/list-comments"]


def test_comment_on_unknown_issue_is_404(emu: GitHubEmulator) -> None:
    scenario = review_scenario(emu)
    assert (
        raw(emu, "POST", f"/repos/{REPO}/issues/42/comments", {"body": "x"}, token=scenario.token).status
        == 404
    )


def test_reaction_201_then_200_for_the_same_content(emu: GitHubEmulator) -> None:
    scenario = review_scenario(emu)
    human = emu.add_issue_comment(REPO, 7, "bob", "/mountie recheck")
    url = f"/repos/{REPO}/issues/comments/{human}/reactions"
    first = raw(emu, "POST", url, {"content": "eyes"}, token=scenario.token)
    again = raw(emu, "POST", url, {"content": "eyes"}, token=scenario.token)
    thumbs = raw(emu, "POST", url, {"content": "+1"}, token=scenario.token)
    assert (first.status, again.status, thumbs.status) == (201, 200, 201)
    assert again.body["id"] == first.body["id"]
    assert [r.content for r in emu.reactions(REPO, human)] == ["eyes", "+1"]
    listed = raw(emu, "GET", f"{url}?content=eyes", token=scenario.token).body
    assert [r["user"]["login"] for r in listed] == ["mountie[bot]"]
    comment = client(emu, scenario.token).get_repo(REPO).get_pull(7).get_issue_comment(human)
    assert comment.create_reaction("heart").content == "heart"


def test_unknown_reaction_content_is_a_violation(emu: GitHubEmulator) -> None:
    scenario = review_scenario(emu)
    human = emu.add_issue_comment(REPO, 7, "bob", "hi")
    comment = client(emu, scenario.token).get_repo(REPO).get_pull(7).get_issue_comment(human)
    with pytest.raises(github.GithubException) as caught:
        comment.create_reaction("thumbsup")
    assert caught.value.status == 422
    assert [v.operation_id for v in emu.take_violations()] == ["reactions/create-for-issue-comment"]
