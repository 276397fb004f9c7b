"""Fault injection: errors, lost responses, dropped connections, delays, rate limits."""

from __future__ import annotations

import http.client

import github
import pytest
from urllib3.util.retry import Retry

from bot.testing.github_emulator import FakeClock, GitHubEmulator
from bot.testing.github_emulator.context import Context, Response
from bot.testing.github_emulator.handlers import HANDLERS
from tests.emulator.support import REPO, client, raw, review_scenario


def test_fail_next_answers_with_the_status_then_recovers(emu: GitHubEmulator) -> None:
    scenario = review_scenario(emu)
    gh = client(emu, scenario.token)
    emu.fail_next(2, status=502)
    for _ in range(2):
        with pytest.raises(github.GithubException) as caught:
            gh.get_repo(REPO)
        assert caught.value.status == 502
    assert gh.get_repo(REPO).full_name == REPO
    assert [(r.status, r.fault) for r in emu.requests] == [(502, "fail"), (502, "fail"), (200, None)]


def test_fail_next_can_target_one_operation(emu: GitHubEmulator) -> None:
    scenario = review_scenario(emu)
    emu.fail_next(1, status=500, operation="pulls/create-review")
    assert raw(emu, "GET", f"/repos/{REPO}/pulls/7", token=scenario.token).status == 200
    response = raw(
        emu, "POST", f"/repos/{REPO}/pulls/7/reviews", {"event": "COMMENT", "body": "b"}, token=scenario.token
    )
    assert response.status == 500
    assert emu.reviews(REPO, 7) == []  # failed before being applied


def test_write_applied_then_502_response_lost(emu: GitHubEmulator) -> None:
    scenario = review_scenario(emu)
    pr = client(emu, scenario.token).get_repo(REPO).get_pull(7)
    emu.fail_next(1, status=502, after_write=True)
    assert pr.get_issue_comments().totalCount == 0  # a GET does not consume an after-write fault
    with pytest.raises(github.GithubException) as caught:
        pr.create_issue_comment("summary")
    assert caught.value.status == 502
    assert [c.body for c in emu.issue_comments(REPO, 7)] == ["summary"]  # the write happened
    assert emu.requests[-1].fault == "lost-response"


def test_dropped_connection(emu: GitHubEmulator) -> None:
    scenario = review_scenario(emu)
    emu.drop_next(1)
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        raw(emu, "GET", f"/repos/{REPO}", token=scenario.token)
    assert raw(emu, "GET", f"/repos/{REPO}", token=scenario.token).status == 200


def test_delay_trips_client_timeout_after_the_write_was_applied(emu: GitHubEmulator) -> None:
    scenario = review_scenario(emu)
    emu.delay_next(1, seconds=0.4, after_write=True)
    with pytest.raises(TimeoutError):
        raw(
            emu,
            "POST",
            f"/repos/{REPO}/issues/7/comments",
            {"body": "slow"},
            token=scenario.token,
            timeout=0.1,
        )
    assert [c.body for c in emu.issue_comments(REPO, 7)] == ["slow"]


def statuses_with_failure_rate(seed: int) -> list[int]:
    with GitHubEmulator() as emulator:
        emulator.add_user_token("t")
        emulator.add_repo(REPO, files={"a": "b"})
        emulator.set_failure_rate(0.3, statuses=(500, 502), seed=seed)
        return [raw(emulator, "GET", f"/repos/{REPO}", token="t").status for _ in range(40)]


def test_failure_rate_is_reproducible_with_a_seed() -> None:
    first = statuses_with_failure_rate(seed=7)
    assert first == statuses_with_failure_rate(seed=7)
    failures = [s for s in first if s != 200]
    assert 4 <= len(failures) <= 20 and set(failures) <= {500, 502}
    assert first != statuses_with_failure_rate(seed=8)


def test_secondary_rate_limit_403_with_retry_after(emu: GitHubEmulator, clock: FakeClock) -> None:
    scenario = review_scenario(emu)
    gh = client(emu, scenario.token)
    emu.secondary_rate_limit(seconds=60)
    with pytest.raises(github.RateLimitExceededException) as caught:
        gh.get_repo(REPO)
    assert caught.value.status == 403
    assert caught.value.headers is not None and caught.value.headers["retry-after"] == "60"
    assert caught.value.data["message"].startswith("You have exceeded a secondary rate limit")
    clock.advance(30)
    assert raw(emu, "GET", f"/repos/{REPO}", token=scenario.token).headers["retry-after"] == "30"
    clock.advance(31)
    assert gh.get_repo(REPO).full_name == REPO


def test_secondary_rate_limit_on_content_creation_only(emu: GitHubEmulator) -> None:
    scenario = review_scenario(emu)
    emu.secondary_rate_limit(seconds=60, writes_only=True)
    assert raw(emu, "GET", f"/repos/{REPO}/pulls/7", token=scenario.token).status == 200
    blocked = raw(emu, "POST", f"/repos/{REPO}/issues/7/comments", {"body": "x"}, token=scenario.token)
    assert blocked.status == 403
    assert blocked.body["message"].startswith(
        "You have exceeded a secondary rate limit and have been temporarily blocked from content creation."
    )


def test_primary_rate_limit_headers_and_exhaustion(emu: GitHubEmulator, clock: FakeClock) -> None:
    scenario = review_scenario(emu)
    emu.set_rate_limit(3)
    remaining = [
        raw(emu, "GET", f"/repos/{REPO}", token=scenario.token).headers["x-ratelimit-remaining"]
        for _ in range(3)
    ]
    assert remaining == ["2", "1", "0"]
    with pytest.raises(github.RateLimitExceededException) as caught:
        client(emu, scenario.token).get_repo(REPO)
    assert caught.value.data["message"] == "API rate limit exceeded for installation ID 99."
    assert caught.value.headers is not None
    reset = int(caught.value.headers["x-ratelimit-reset"])
    assert reset == pytest.approx(clock.now() + 3600, abs=2)
    clock.advance(3601)  # a new window (and a new token: the old one expired with the hour)
    fresh = emu.issue_installation_token(99)
    assert raw(emu, "GET", f"/repos/{REPO}", token=fresh).headers["x-ratelimit-remaining"] == "2"


def test_rate_limit_headers_on_every_response(emu: GitHubEmulator) -> None:
    scenario = review_scenario(emu)
    for response in (
        raw(emu, "GET", f"/repos/{REPO}/pulls/404", token=scenario.token),
        raw(emu, "GET", f"/repos/{REPO}", token="bad-token"),
        raw(emu, "GET", f"/repos/{REPO}", token=scenario.token),
    ):
        assert {"x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"} <= set(response.headers)


def test_pygithub_retry_recovers_from_injected_502s(emu: GitHubEmulator) -> None:
    scenario = review_scenario(emu)
    retry = Retry(total=3, status_forcelist=[502], backoff_factor=0, raise_on_status=False)
    gh = client(emu, scenario.token, retry=retry)
    emu.fail_next(2, status=502)
    assert gh.get_repo(REPO).full_name == REPO
    assert emu.count_requests(operation="repos/get") == 3


def test_a_crashing_handler_is_a_500_and_an_emulator_violation(
    emu: GitHubEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    scenario = review_scenario(emu)

    def broken(ctx: Context) -> Response:
        raise RuntimeError("boom")

    monkeypatch.setitem(HANDLERS, "repos/get", broken)
    assert raw(emu, "GET", f"/repos/{REPO}", token=scenario.token).status == 500
    [violation] = emu.take_violations()
    assert violation.kind == "emulator" and "RuntimeError: boom" in violation.message


def test_random_lost_responses_after_writes_and_clearing_faults(emu: GitHubEmulator) -> None:
    scenario = review_scenario(emu)
    emu.set_failure_rate(1.0, statuses=(504,), seed=1, after_write=True)
    assert raw(emu, "GET", f"/repos/{REPO}/pulls/7", token=scenario.token).status == 200  # reads unaffected
    lost = raw(emu, "POST", f"/repos/{REPO}/issues/7/comments", {"body": "a"}, token=scenario.token)
    assert (lost.status, emu.requests[-1].fault) == (504, "lost-response")
    emu.drop_next(5, after_write=True, operation="issues/create-comment")
    emu.clear_faults()
    kept = raw(emu, "POST", f"/repos/{REPO}/issues/7/comments", {"body": "b"}, token=scenario.token)
    assert kept.status == 201
    assert [c.body for c in emu.issue_comments(REPO, 7)] == ["a", "b"]
    with pytest.raises(ValueError, match="rate"):
        emu.set_failure_rate(1.5)


def test_dropped_connection_after_the_write(emu: GitHubEmulator) -> None:
    scenario = review_scenario(emu)
    emu.drop_next(1, after_write=True)
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        raw(emu, "POST", f"/repos/{REPO}/issues/7/comments", {"body": "x"}, token=scenario.token)
    assert [c.body for c in emu.issue_comments(REPO, 7)] == ["x"]
    assert emu.requests[-1].fault == "lost-connection"
    assert emu.count_requests(method="POST", status=0) == 1


def test_delay_before_answering_a_read(emu: GitHubEmulator) -> None:
    scenario = review_scenario(emu)
    emu.delay_next(1, seconds=0.3, operation="repos/get")
    with pytest.raises(TimeoutError):
        raw(emu, "GET", f"/repos/{REPO}", token=scenario.token, timeout=0.1)
    assert raw(emu, "GET", f"/repos/{REPO}", token=scenario.token).status == 200
