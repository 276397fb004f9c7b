"""Retries: 5xx and lost connections on reads, never blindly on writes; rate limits on anything."""

from __future__ import annotations

import pytest
from github import GithubException

from bot.app.settings import AppSettings
from bot.github import GitHubClient, GitHubError, RateLimitError, RetryPolicy, WriteOutcomeUnknownError
from bot.github.retry import RateLimit, Retrier, rate_limit
from bot.testing.github_emulator import FakeClock, GitHubEmulator
from tests.github.harness import REPO, Sleeps, api_calls, make_client

SECONDARY = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."


def open_pr(emu: GitHubEmulator) -> str:
    base = emu.add_repo(REPO, files={"README.md": "# app\n"})
    head = emu.add_commit(REPO, {"Dockerfile": "FROM alpine\n"}, branch="feature-7")
    emu.add_pull_request(REPO, 7, base, head, author="alice")
    return head


def test_server_errors_on_reads_are_retried_with_exponential_backoff(
    emu: GitHubEmulator, client: GitHubClient, sleeps: Sleeps
) -> None:
    open_pr(emu)
    client.get_pull(REPO, 7)  # the token first: the faults below hit the read itself
    emu.fail_next(2, 502)
    assert client.get_pull(REPO, 7).number == 7
    assert sleeps.waits == [1.0, 2.0]
    assert [s for _, op, s in api_calls(emu) if op == "pulls/get"] == [200, 502, 502, 200]


def test_server_errors_on_reads_are_bounded(
    emu: GitHubEmulator, client: GitHubClient, sleeps: Sleeps
) -> None:
    open_pr(emu)
    client.get_pull(REPO, 7)
    emu.fail_next(10, 503)
    with pytest.raises(GitHubError) as caught:
        client.get_pull(REPO, 7)
    assert caught.value.status == 503
    assert len(sleeps.waits) == 3  # 4 tries in all
    emu.clear_faults()


def test_a_dropped_connection_on_a_read_is_retried(emu: GitHubEmulator, client: GitHubClient) -> None:
    open_pr(emu)
    client.get_pull(REPO, 7)
    emu.drop_next(1)
    assert client.get_pull(REPO, 7).number == 7


def test_a_timeout_on_a_read_is_retried(
    emu: GitHubEmulator, settings: AppSettings, clock: FakeClock, sleeps: Sleeps
) -> None:
    open_pr(emu)
    client = make_client(settings, clock, sleeps, timeout=1)
    client.get_pull(REPO, 7)
    emu.delay_next(1, seconds=1.5, operation="pulls/get")
    assert client.get_pull(REPO, 7).number == 7
    assert emu.count_requests(operation="pulls/get") == 3


def test_a_write_answered_5xx_is_not_sent_again(emu: GitHubEmulator, client: GitHubClient) -> None:
    open_pr(emu)
    emu.fail_next(1, 502, after_write=True, operation="issues/create-comment")
    with pytest.raises(WriteOutcomeUnknownError):
        client.create_issue_comment(REPO, 7, "hello")
    # GitHub applied it; the client must not have posted a second one.
    assert [c.body for c in emu.issue_comments(REPO, 7)] == ["hello"]
    assert emu.count_requests(operation="issues/create-comment") == 1


def test_a_write_whose_connection_dropped_is_not_sent_again(
    emu: GitHubEmulator, client: GitHubClient
) -> None:
    head = open_pr(emu)
    emu.drop_next(1, after_write=True, operation="checks/create")
    with pytest.raises(WriteOutcomeUnknownError):
        client.create_check_run(REPO, name="Mountie", head_sha=head, title="t", summary="s")
    assert len(emu.check_runs(REPO)) == 1


def test_secondary_rate_limit_waits_for_retry_after_even_on_writes(
    emu: GitHubEmulator, client: GitHubClient, sleeps: Sleeps
) -> None:
    open_pr(emu)
    client.get_pull(REPO, 7)
    emu.secondary_rate_limit(3, writes_only=True)
    client.create_issue_comment(REPO, 7, "hello")
    assert sleeps.waits == [3.0]
    assert [c.body for c in emu.issue_comments(REPO, 7)] == ["hello"]
    assert [s for _, op, s in api_calls(emu) if op == "issues/create-comment"] == [403, 201]


def test_primary_rate_limit_waits_until_the_reset(
    emu: GitHubEmulator, settings: AppSettings, clock: FakeClock, sleeps: Sleeps
) -> None:
    emu.token_lifetime = 36000  # outlives the wait: PyGithub signs JWTs with the real clock
    open_pr(emu)
    client = make_client(settings, clock, sleeps, policy=RetryPolicy(max_rate_limit_wait=4000))
    client.get_pull(REPO, 7)
    emu.set_rate_limit(1)  # one request an hour
    client.get_pull(REPO, 7)
    assert client.get_pull(REPO, 7).number == 7
    [wait] = sleeps.waits
    assert 3600 <= wait <= 3602  # until x-ratelimit-reset, plus a second


def test_a_rate_limit_wait_beyond_the_maximum_gives_up(emu: GitHubEmulator, client: GitHubClient) -> None:
    open_pr(emu)
    emu.set_rate_limit(5000, remaining=0)
    with pytest.raises(RateLimitError):
        client.get_pull(REPO, 7)


@pytest.mark.parametrize(
    ("status", "headers", "message", "expected"),
    [
        (403, {"retry-after": "7"}, SECONDARY, RateLimit(7.0, escalate=False)),
        (429, {"retry-after": "2"}, "", RateLimit(2.0, escalate=False)),
        (
            403,
            {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1100"},
            "API rate limit exceeded",
            RateLimit(101.0, escalate=False),
        ),
        (403, {"x-ratelimit-remaining": "12"}, SECONDARY, RateLimit(60.0, escalate=True)),
        (429, {}, "", RateLimit(60.0, escalate=True)),
        (403, {}, "Resource not accessible by integration", None),
        (404, {"retry-after": "1"}, "Not Found", None),
    ],
)
def test_rate_limit_reading(
    status: int, headers: dict[str, str], message: str, expected: RateLimit | None
) -> None:
    assert rate_limit(status, headers, message, now=1000.0, secondary_wait=60.0) == expected


def test_the_secondary_limit_wait_comes_from_the_settings(
    client: GitHubClient, settings: AppSettings
) -> None:
    assert client.retry_policy.secondary_wait == settings.secondary_rate_limit_wait == 5


def test_secondary_limit_without_retry_after_waits_the_configured_time_doubling() -> None:
    waits: list[float] = []
    failures = [GithubException(403, {"message": SECONDARY}, {})] * 2

    def attempt() -> str:
        if failures:
            raise failures.pop()
        return "ok"

    retrier = Retrier(RetryPolicy(secondary_wait=5.0), sleep=waits.append, clock=lambda: 0.0)
    assert retrier.call(attempt, what="POST /x", idempotent=False) == "ok"
    assert waits == [5.0, 10.0]


def test_a_second_401_is_not_refreshed_again() -> None:
    refreshes: list[None] = []

    def attempt() -> None:
        raise GithubException(401, {"message": "Bad credentials"}, {})

    retrier = Retrier(RetryPolicy(), sleep=lambda s: None, clock=lambda: 0.0)
    with pytest.raises(GitHubError) as caught:
        retrier.call(attempt, what="GET /x", idempotent=True, refresh=lambda: refreshes.append(None))
    assert (caught.value.status, len(refreshes)) == (401, 1)
