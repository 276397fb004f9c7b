"""Routing over every webhook example in tests/data/webhooks, as delivered and adapted per case."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.app.routing import Outcome, RoutingContext, learned_slug, route
from bot.jobs.model import Job, JobKind
from tests.app.support import APP_ID, DELETE, WEBHOOKS, payload

SHA = "ec26c3e57ca3a959ca5aad62de7213c562f8c821"
RUN_SHA = "d6fde92930d4715a2b49857d24b940956b26d2d3"
CONTEXT = RoutingContext(APP_ID, frozenset({"mountie-bot"}))
NO_SLUG = RoutingContext(APP_ID)
OURS_RUN = {"check_run.app.id": APP_ID, "check_run.name": "Mountie"}

# file name -> (event, outcome) for the example exactly as GitHub's documentation has it.
AS_DELIVERED = {
    "check_run.rerequested": ("check_run", Outcome.IGNORE),  # another App's run
    "check_suite.requested": ("check_suite", Outcome.IGNORE),
    "check_suite.rerequested": ("check_suite", Outcome.IGNORE),  # another App's suite
    "installation.created": ("installation", Outcome.ACKNOWLEDGE),
    "installation.deleted": ("installation", Outcome.ACKNOWLEDGE),
    "installation_repositories.added": ("installation_repositories", Outcome.ACKNOWLEDGE),
    "installation_repositories.removed": ("installation_repositories", Outcome.ACKNOWLEDGE),
    "issue_comment.created": ("issue_comment", Outcome.IGNORE),  # not a command
    "issue_comment.created.on-issue": ("issue_comment", Outcome.IGNORE),
    "pull_request.closed": ("pull_request", Outcome.IGNORE),
    "pull_request.converted_to_draft": ("pull_request", Outcome.IGNORE),
    "pull_request.opened": ("pull_request", Outcome.ENQUEUE),
    "pull_request.ready_for_review": ("pull_request", Outcome.ENQUEUE),
    "pull_request.reopened": ("pull_request", Outcome.ENQUEUE),
    "pull_request.synchronize": ("pull_request", Outcome.ENQUEUE),
}


def decide(event: str, data: dict[str, Any], context: RoutingContext = CONTEXT) -> Any:
    return route(event, data, "delivery-1", context, received_at=1234.5)


def test_every_example_is_in_the_table() -> None:
    assert sorted(p.name.removesuffix(".json") for p in Path(WEBHOOKS).glob("*.json")) == sorted(AS_DELIVERED)


@pytest.mark.parametrize("name", sorted(AS_DELIVERED))
def test_examples_as_delivered(name: str) -> None:
    event, outcome = AS_DELIVERED[name]
    decision = decide(event, payload(name))
    assert decision.outcome is outcome, decision.reason
    assert (decision.job is not None) == (outcome is Outcome.ENQUEUE)
    assert decision.reason


@pytest.mark.parametrize("action", ["opened", "synchronize", "reopened", "ready_for_review"])
def test_reviewed_pull_request_actions(action: str) -> None:
    decision = decide("pull_request", payload(f"pull_request.{action}"))
    assert decision.job == Job(
        kind=JobKind.REVIEW,
        delivery_id="delivery-1",
        installation_id=1,
        repository="Codertocat/Hello-World",
        pr_number=2,
        head_sha=SHA,
        event=f"pull_request.{action}",
        received_at=1234.5,
    )


@pytest.mark.parametrize(
    ("changes", "outcome"),
    [
        ({"pull_request.draft": True}, Outcome.IGNORE),
        ({"pull_request.state": "closed"}, Outcome.IGNORE),
        ({"action": "edited"}, Outcome.IGNORE),
        ({"action": "edited", "changes": {"title": {"from": "Old"}}}, Outcome.IGNORE),
        (
            {"action": "edited", "changes": {"base": {"ref": {"from": "dev"}, "sha": {"from": "abc"}}}},
            Outcome.ENQUEUE,
        ),
        ({"action": "labeled"}, Outcome.IGNORE),
        ({"installation": DELETE}, Outcome.IGNORE),
        ({"pull_request.head": {}}, Outcome.IGNORE),
    ],
)
def test_pull_request_variants(changes: dict[str, Any], outcome: Outcome) -> None:
    decision = decide("pull_request", payload("pull_request.opened", **changes))
    assert decision.outcome is outcome, decision.reason


@pytest.mark.parametrize(
    ("body", "context", "outcome"),
    [
        ("/mountie recheck", NO_SLUG, Outcome.ENQUEUE),
        ("  /Mountie   RECHECK \r\n", NO_SLUG, Outcome.ENQUEUE),
        ("@mountie-bot recheck", CONTEXT, Outcome.ENQUEUE),
        ("@Mountie-Bot[bot] recheck", CONTEXT, Outcome.ENQUEUE),
        ("@mountie-bot recheck", NO_SLUG, Outcome.IGNORE),  # slug not learned yet
        ("@someone-else recheck", CONTEXT, Outcome.IGNORE),
        ("/mountie recheck please", CONTEXT, Outcome.IGNORE),
        ("Looks good. /mountie recheck", CONTEXT, Outcome.IGNORE),
        ("/mountie", CONTEXT, Outcome.IGNORE),
        ("/mountie review", CONTEXT, Outcome.IGNORE),
    ],
)
def test_recheck_commands(body: str, context: RoutingContext, outcome: Outcome) -> None:
    decision = decide("issue_comment", payload("issue_comment.created", **{"comment.body": body}), context)
    assert decision.outcome is outcome, decision.reason
    if outcome is Outcome.ENQUEUE:
        job = decision.job
        assert job is not None
        assert (job.kind, job.pr_number, job.head_sha) == (JobKind.RECHECK, 1, None)
        assert (job.commenter, job.comment_id, job.repository) == (
            "Codertocat",
            492700400,
            "Codertocat/Hello-World",
        )


@pytest.mark.parametrize(
    ("name", "changes", "reason"),
    [
        ("issue_comment.created.on-issue", {}, "not a pull request"),
        ("issue_comment.created", {"sender.type": "Bot"}, "by a bot"),
        ("issue_comment.created", {"action": "edited"}, "only new comments"),
        ("issue_comment.created", {"action": "deleted"}, "only new comments"),
    ],
)
def test_commands_that_are_not_taken(name: str, changes: dict[str, Any], reason: str) -> None:
    data = payload(name, **{"comment.body": "/mountie recheck", **changes})
    decision = decide("issue_comment", data)
    assert decision.outcome is Outcome.IGNORE and reason in decision.reason


def test_our_check_run_rerequested_from_a_fork_has_no_pr_number() -> None:
    decision = decide("check_run", payload("check_run.rerequested", **OURS_RUN))
    assert decision.outcome is Outcome.ENQUEUE
    job = decision.job
    assert job is not None
    assert (job.kind, job.pr_number, job.head_sha, job.check_run_id) == (JobKind.RERUN, None, RUN_SHA, 4)
    assert (job.repository, job.installation_id, job.event) == (
        "github/hello-world",
        1,
        "check_run.rerequested",
    )


def test_our_check_run_with_its_pull_request() -> None:
    data = payload("check_run.rerequested", **OURS_RUN, **{"check_run.pull_requests": [{"number": 9}]})
    job = decide("check_run", data).job
    assert job is not None and job.pr_number == 9


@pytest.mark.parametrize(
    "changes",
    [
        {"check_run.app.id": APP_ID},  # our App, another check's name
        {"check_run.name": "Mountie"},  # the name, another App
        {**OURS_RUN, "action": "created"},
        {**OURS_RUN, "action": "completed"},
    ],
)
def test_check_runs_that_are_not_ours_to_rerun(changes: dict[str, Any]) -> None:
    assert decide("check_run", payload("check_run.rerequested", **changes)).outcome is Outcome.IGNORE


def test_our_check_suite_rerequested() -> None:
    job = decide("check_suite", payload("check_suite.rerequested", **{"check_suite.app.id": APP_ID})).job
    assert job is not None
    assert (job.kind, job.pr_number, job.head_sha, job.check_run_id) == (JobKind.RERUN, 2, SHA, None)
    fork = payload(
        "check_suite.rerequested", **{"check_suite.app.id": APP_ID, "check_suite.pull_requests": []}
    )
    fork_job = decide("check_suite", fork).job
    assert fork_job is not None and fork_job.pr_number is None
    requested = payload("check_suite.requested", **{"check_suite.app.id": APP_ID})
    assert decide("check_suite", requested).outcome is Outcome.IGNORE  # pushes are covered by pull_request


def test_ping_unknown_events_and_installations() -> None:
    assert decide("ping", {"zen": "Design for failure.", "hook_id": 1}).outcome is Outcome.PONG
    for event in ("push", "pull_request_review_comment", "star", "workflow_run"):
        assert decide(event, {"action": "created"}).outcome is Outcome.IGNORE
    added = decide("installation_repositories", payload("installation_repositories.added"))
    assert added.outcome is Outcome.ACKNOWLEDGE
    assert added.reason.startswith("installation_repositories.added: installation 957387 on Codertocat")
    assert "1 added" in added.reason


def test_slugs_are_learned_only_from_our_own_apps_payloads() -> None:
    ours = payload(
        "check_run.rerequested", **{"check_run.app.id": APP_ID, "check_run.app.slug": "mountie-bot"}
    )
    assert learned_slug("check_run", ours, APP_ID) == "mountie-bot"
    theirs = payload("check_run.rerequested", **{"check_run.app.slug": "super-duper"})
    assert learned_slug("check_run", theirs, APP_ID) is None
    suite = payload("check_suite.rerequested", **{"check_suite.app.id": APP_ID})
    assert learned_slug("check_suite", suite, APP_ID) is None  # older payloads carry no slug
    suite["check_suite"]["app"]["slug"] = "mountie-bot"
    assert learned_slug("check_suite", suite, APP_ID) == "mountie-bot"
    install = payload(
        "installation.created", **{"installation.app_id": APP_ID, "installation.app_slug": "mountie"}
    )
    assert learned_slug("installation", install, APP_ID) == "mountie"
    assert learned_slug("installation", payload("installation.created"), APP_ID) is None
    assert learned_slug("pull_request", payload("pull_request.opened"), APP_ID) is None
