"""Requests are checked against GitHub's OpenAPI description; so are the emulator's own answers."""

from __future__ import annotations

from typing import Any

import github
import pytest

from bot.testing.github_emulator import GitHubEmulator
from bot.testing.github_emulator.handlers import HANDLERS
from bot.testing.github_emulator.render import Renderer
from bot.testing.github_emulator.validation import Spec, to_json_schema, validate_response
from tests.emulator.support import APP_ID, INSTALLATION_ID, REPO, client, raw, review_scenario


def test_nullable_is_rewritten_for_json_schema() -> None:
    schema = {
        "type": "object",
        "description": "dropped",
        "properties": {
            "description": {"type": "string", "nullable": True, "example": "kept as a property name"},
            "conclusion": {"type": "string", "enum": ["success"], "nullable": True},
            "app": {"allOf": [{"type": "object"}], "nullable": True},
        },
    }
    assert to_json_schema(schema) == {
        "type": "object",
        "properties": {
            "description": {"type": ["string", "null"]},
            "conclusion": {"type": ["string", "null"], "enum": ["success", None]},
            "app": {"anyOf": [{"type": "null"}, {"allOf": [{"type": "object"}]}]},
        },
    }


def test_routes_prefer_literal_segments_and_paths_span_slashes() -> None:
    spec = Spec.load()
    comment = spec.match("GET", "/repos/o/r/pulls/comments/5")
    assert comment is not None and comment[0].operation_id == "pulls/get-review-comment"
    content = spec.match("GET", "/repos/o/r/contents/docker/base%20image/Dockerfile")
    assert content is not None and content[1]["path"] == "docker/base image/Dockerfile"
    assert spec.match("PUT", "/repos/o/r/pulls/1") is None


def test_every_operation_of_the_subset_has_a_handler() -> None:
    assert {op.operation_id for op in Spec.load().operations} == set(HANDLERS)


def test_body_schema_errors_use_githubs_wording_and_are_recorded(emu: GitHubEmulator) -> None:
    scenario = review_scenario(emu)
    response = raw(
        emu,
        "POST",
        f"/repos/{REPO}/pulls/7/reviews",
        {"event": "SHIP_IT", "comments": [{"path": "Dockerfile", "line": "4"}]},
        token=scenario.token,
    )
    assert response.status == 422
    assert response.body["message"] == (
        "Invalid request.\n\n"
        '"body" wasn\'t supplied.\n'
        "For 'properties/comments/0/line', \"4\" is not an integer.\n"
        'For \'properties/event\', "SHIP_IT" is not one of ["APPROVE", "REQUEST_CHANGES", "COMMENT"].'
    )
    assert response.body["documentation_url"].endswith("#create-a-review-for-a-pull-request")
    [violation] = emu.take_violations()
    assert (violation.kind, violation.method, violation.operation_id) == (
        "request",
        "POST",
        "pulls/create-review",
    )
    assert emu.reviews(REPO, 7) == []


def test_malformed_json_is_400(emu: GitHubEmulator) -> None:
    scenario = review_scenario(emu)
    response = raw(emu, "POST", f"/repos/{REPO}/issues/7/comments", data=b"{not json", token=scenario.token)
    assert (response.status, response.body["message"]) == (400, "Problems parsing JSON")
    assert len(emu.take_violations()) == 1


def test_missing_required_body_is_422(emu: GitHubEmulator) -> None:
    scenario = review_scenario(emu)
    response = raw(emu, "POST", f"/repos/{REPO}/issues/7/comments", token=scenario.token)
    assert response.status == 422 and '"body" wasn\'t supplied.' in response.body["message"]
    assert len(emu.take_violations()) == 1


def test_operations_outside_the_description_are_404_and_recorded(emu: GitHubEmulator) -> None:
    scenario = review_scenario(emu)
    repo = client(emu, scenario.token).get_repo(REPO)
    with pytest.raises(github.UnknownObjectException):
        repo.get_commit(scenario.head)  # GET /repos/{o}/{r}/commits/{ref} is not in the subset
    [violation] = emu.take_violations()
    assert (
        violation.message
        == f"no operation in the OpenAPI description for GET /repos/{REPO}/commits/{scenario.head}"
    )


def test_bad_path_and_query_parameters(emu: GitHubEmulator) -> None:
    scenario = review_scenario(emu)
    assert raw(emu, "GET", f"/repos/{REPO}/pulls/seven", token=scenario.token).status == 404
    sideways = raw(emu, "GET", f"/repos/{REPO}/pulls/7/comments?direction=sideways", token=scenario.token)
    assert sideways.status == 422
    paging = raw(emu, "GET", f"/repos/{REPO}/pulls/7/files?page=two", token=scenario.token)
    assert paging.status == 422
    assert [v.operation_id for v in emu.take_violations()] == [
        "pulls/get",
        "pulls/list-review-comments",
        "pulls/list-files",
    ]


def test_strict_mode_catches_an_off_spec_answer(emu: GitHubEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    scenario = review_scenario(emu)
    original = Renderer.pull

    def without_number(self: Renderer, pr: Any) -> dict[str, Any]:
        data = original(self, pr)
        del data["number"]
        return data

    monkeypatch.setattr(Renderer, "pull", without_number)
    raw(emu, "GET", f"/repos/{REPO}/pulls/7", token=scenario.token)
    [violation] = emu.take_violations()
    assert (violation.kind, violation.operation_id) == ("response", "pulls/get")
    assert "'number' is a required property" in violation.message


def test_validate_response_flags_undocumented_success_statuses() -> None:
    operation = Spec.load().by_id["checks/create"]
    assert validate_response(operation, 200, {}) == ["status 200 is not documented for checks/create"]
    assert validate_response(operation, 418, {"message": "teapot"}) == []


def test_every_operation_answers_per_its_documented_schema(emu: GitHubEmulator, app_pem: str) -> None:
    """One successful call per operation; the strict fixture validates every response body."""
    scenario = review_scenario(emu)
    token = scenario.token
    jwt = {"Authorization": f"Bearer {github.Auth.AppAuth(APP_ID, app_pem).create_jwt()}"}
    repo = f"/repos/{REPO}"
    human = emu.add_issue_comment(REPO, 7, "bob", "/mountie recheck")
    emu.add_review_comment(REPO, 7, "bob", "hm", path="Dockerfile", line=4)

    def ok(method: str, path: str, body: Any = None, **kwargs: Any) -> Any:
        response = raw(emu, method, path, body, **kwargs)
        assert response.status < 300, (method, path, response.body)
        return response.body

    ok("GET", "/app", headers=jwt)
    ok("POST", f"/app/installations/{INSTALLATION_ID}/access_tokens", {}, headers=jwt)
    ok("GET", f"{repo}/installation", headers=jwt)
    ok("POST", f"/app-manifests/{emu.create_manifest_code({'name': 'X'})}/conversions")
    ok("GET", "/installation/repositories", token=token)
    ok("GET", "/rate_limit", token=token)
    ok("GET", repo, token=token)
    ok("GET", f"{repo}/contents/Dockerfile?ref={scenario.head}", token=token)
    emu.add_commit(REPO, {"docker/base/Dockerfile": "FROM a\n"}, branch="main")
    ok("GET", f"{repo}/contents/docker", token=token)
    ok("GET", f"{repo}/collaborators/bob/permission", token=token)
    ok("GET", f"{repo}/pulls/7", token=token)
    ok("GET", f"{repo}/pulls/7/files", token=token)
    review = ok("POST", f"{repo}/pulls/7/reviews", {"event": "APPROVE"}, token=token)
    pending = ok(
        "POST",
        f"{repo}/pulls/7/reviews",
        {"comments": [{"path": "Dockerfile", "line": 5, "body": "p"}]},
        token=token,
    )
    ok("GET", f"{repo}/pulls/7/reviews", token=token)
    ok("GET", f"{repo}/pulls/7/reviews/{pending['id']}", token=token)
    ok("GET", f"{repo}/pulls/7/reviews/{pending['id']}/comments", token=token)
    ok(
        "POST",
        f"{repo}/pulls/7/reviews/{pending['id']}/events",
        {"event": "COMMENT", "body": "b"},
        token=token,
    )
    ok("PUT", f"{repo}/pulls/7/reviews/{review['id']}/dismissals", {"message": "m"}, token=token)
    second = ok("POST", f"{repo}/pulls/7/reviews", {}, token=token)
    ok("DELETE", f"{repo}/pulls/7/reviews/{second['id']}", token=token)
    comment = ok(
        "POST",
        f"{repo}/pulls/7/comments",
        {"body": "c", "commit_id": scenario.head, "path": "Dockerfile", "line": 2},
        token=token,
    )
    ok("GET", f"{repo}/pulls/7/comments", token=token)
    ok("GET", f"{repo}/pulls/comments/{comment['id']}", token=token)
    ok("PATCH", f"{repo}/pulls/comments/{comment['id']}", {"body": "c2"}, token=token)
    ok("POST", f"{repo}/pulls/comments/{comment['id']}/reactions", {"content": "rocket"}, token=token)
    ok("DELETE", f"{repo}/pulls/comments/{comment['id']}", token=token)
    run = ok(
        "POST",
        f"{repo}/check-runs",
        {
            "name": "m",
            "head_sha": scenario.head,
            "output": {
                "title": "t",
                "summary": "s",
                "annotations": [
                    {
                        "path": "Dockerfile",
                        "start_line": 1,
                        "end_line": 1,
                        "annotation_level": "notice",
                        "message": "m",
                    }
                ],
            },
        },
        token=token,
    )
    ok("PATCH", f"{repo}/check-runs/{run['id']}", {"conclusion": "neutral"}, token=token)
    ok("GET", f"{repo}/check-runs/{run['id']}", token=token)
    ok("GET", f"{repo}/check-runs/{run['id']}/annotations", token=token)
    ok("GET", f"{repo}/commits/{scenario.head}/check-runs", token=token)
    mine = ok("POST", f"{repo}/issues/7/comments", {"body": "hi"}, token=token)
    ok("GET", f"{repo}/issues/7/comments", token=token)
    ok("GET", f"{repo}/issues/comments/{mine['id']}", token=token)
    ok("PATCH", f"{repo}/issues/comments/{mine['id']}", {"body": "hi2"}, token=token)
    ok("POST", f"{repo}/issues/comments/{human}/reactions", {"content": "eyes"}, token=token)
    ok("GET", f"{repo}/issues/comments/{human}/reactions", token=token)

    called = {r.operation_id for r in emu.requests if r.status < 300}
    assert called >= set(HANDLERS)
