"""Check runs: annotations in batches of at most 50 accumulate; status/conclusion rules; listing."""

from __future__ import annotations

from typing import Any

import github
import pytest

from bot.testing.github_emulator import GitHubEmulator
from tests.emulator.support import REPO, client, raw, review_scenario


def batch(start: int, count: int) -> list[dict[str, Any]]:
    return [
        {
            "path": "Dockerfile",
            "start_line": 4,
            "end_line": 4,
            "annotation_level": "warning",
            "message": f"finding {i}",
            "title": "BKM001",
        }
        for i in range(start, start + count)
    ]


def test_check_run_with_more_than_50_annotations_sent_in_batches(emu: GitHubEmulator) -> None:
    scenario = review_scenario(emu)
    repo = client(emu, scenario.token, per_page=100).get_repo(REPO)
    total = 120
    run = repo.create_check_run(
        name="mountie",
        head_sha=scenario.head,
        status="in_progress",
        output={"title": "Mountie", "summary": "running", "annotations": batch(0, 50)},
    )
    assert (run.status, run.output.annotations_count) == ("in_progress", 50)
    assert run.raw_data["conclusion"] is None
    run.edit(output={"title": "Mountie", "summary": "still running", "annotations": batch(50, 50)})
    run.edit(
        conclusion="failure",
        output={"title": "Mountie", "summary": f"{total} findings", "annotations": batch(100, 20)},
    )
    assert emu.count_requests(operation="checks/update") == 2

    [stored] = emu.check_runs(REPO, scenario.head)
    assert len(stored.annotations) == total
    assert [a.message for a in stored.annotations] == [f"finding {i}" for i in range(total)]
    assert (stored.status, stored.conclusion, stored.summary) == ("completed", "failure", "120 findings")
    assert stored.completed_at is not None

    fetched = repo.get_check_run(run.id)
    assert (fetched.output.annotations_count, fetched.output.summary) == (total, "120 findings")
    assert len(list(fetched.get_annotations())) == total
    assert emu.count_requests(operation="checks/list-annotations") == 2  # 100 + 20


def test_51_annotations_in_one_request_is_rejected_and_recorded(emu: GitHubEmulator) -> None:
    scenario = review_scenario(emu)
    repo = client(emu, scenario.token).get_repo(REPO)
    with pytest.raises(github.GithubException) as caught:
        repo.create_check_run(
            name="mountie",
            head_sha=scenario.head,
            output={"title": "t", "summary": "s", "annotations": batch(0, 51)},
        )
    assert caught.value.status == 422
    assert "annotations" in caught.value.data["message"]
    assert emu.check_runs(REPO) == []
    [violation] = emu.take_violations()
    assert (violation.kind, violation.operation_id) == ("request", "checks/create")


def test_completed_needs_conclusion_and_unknown_sha_is_rejected(emu: GitHubEmulator) -> None:
    scenario = review_scenario(emu)
    url = f"/repos/{REPO}/check-runs"
    no_conclusion = raw(
        emu,
        "POST",
        url,
        {"name": "m", "head_sha": scenario.head, "status": "completed"},
        token=scenario.token,
    )
    assert no_conclusion.status == 422
    unknown = raw(emu, "POST", url, {"name": "m", "head_sha": "f" * 40}, token=scenario.token)
    assert (unknown.status, unknown.body["errors"]) == (422, [f"No commit found for SHA: {'f' * 40}"])
    created = raw(emu, "POST", url, {"name": "m", "head_sha": scenario.head}, token=scenario.token)
    patch = raw(emu, "PATCH", f"{url}/{created.body['id']}", {"status": "completed"}, token=scenario.token)
    assert patch.status == 422  # the update schema itself requires a conclusion with "completed"
    assert [v.operation_id for v in emu.take_violations()] == ["checks/update"]


def test_list_check_runs_for_ref_latest_per_name(emu: GitHubEmulator) -> None:
    scenario = review_scenario(emu)
    repo = client(emu, scenario.token).get_repo(REPO)
    repo.create_check_run(
        name="mountie",
        head_sha=scenario.head,
        conclusion="success",
        output={"title": "t", "summary": "first"},
    )
    second = repo.create_check_run(name="mountie", head_sha=scenario.head, status="queued")
    repo.create_check_run(name="other", head_sha=scenario.head, status="in_progress")
    url = f"/repos/{REPO}/commits/{scenario.head}/check-runs"
    latest = raw(emu, "GET", url, token=scenario.token).body
    assert latest["total_count"] == 2
    assert {r["name"]: r["id"] for r in latest["check_runs"]}["mountie"] == second.id
    every = raw(emu, "GET", f"{url}?filter=all&check_name=mountie", token=scenario.token).body
    assert every["total_count"] == 2
    by_branch = raw(
        emu, "GET", f"/repos/{REPO}/commits/feature-7/check-runs?status=queued", token=scenario.token
    )
    assert [r["id"] for r in by_branch.body["check_runs"]] == [second.id]
    # A PR from the same repository is linked; GitHub leaves fork PRs out.
    assert [p["number"] for p in latest["check_runs"][0]["pull_requests"]] == [7]


def test_check_run_of_fork_pr_has_no_pull_requests(emu: GitHubEmulator) -> None:
    scenario = review_scenario(emu)
    head = emu.add_commit(REPO, {"Dockerfile": "FROM scratch\n"}, parent=scenario.base)
    emu.add_pull_request(REPO, 9, scenario.base, head, author="mallory", from_fork=True)
    run = client(emu, scenario.token).get_repo(REPO).create_check_run(name="mountie", head_sha=head)
    assert run.pull_requests == []


def test_invalid_enum_is_rejected_before_anything_happens(emu: GitHubEmulator) -> None:
    scenario = review_scenario(emu)
    response = raw(
        emu,
        "POST",
        f"/repos/{REPO}/check-runs",
        {"name": "m", "head_sha": scenario.head, "conclusion": "exploded"},
        token=scenario.token,
    )
    assert response.status == 422
    assert response.body["message"].startswith("Invalid request.")
    assert "exploded" in response.body["message"]
    assert len(emu.take_violations()) == 1


def test_only_the_creating_app_may_update(emu: GitHubEmulator, app_key: Any) -> None:
    scenario = review_scenario(emu)
    created = raw(
        emu,
        "POST",
        f"/repos/{REPO}/check-runs",
        {"name": "m", "head_sha": scenario.head},
        token=scenario.token,
    )
    emu.add_app(777, "other-bot", app_key)
    emu.add_installation(778, 777, "octo")
    other = emu.issue_installation_token(778)
    response = raw(
        emu, "PATCH", f"/repos/{REPO}/check-runs/{created.body['id']}", {"name": "hijack"}, token=other
    )
    assert response.status == 403
