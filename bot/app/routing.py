"""Which webhook deliveries become jobs: a pure function of (event, payload, what we know of the App).

- `ping`: pong (200).
- `pull_request` `opened`, `synchronize`, `reopened`, `ready_for_review`, and `edited` only when
  `changes.base` is present (a title or body edit does not change the diff): a REVIEW job, unless
  the PR is a draft or not open.
- `issue_comment` `created` on a pull request (`issue.pull_request` present), by a sender whose
  type is not `Bot`, whose whole body is `/mountie recheck` or `@<our slug> recheck`: a RECHECK job.
  `@<slug>` must be a slug we know (learned from signed payloads or GET /app, see `bot.app.slugs`).
- `check_run` `rerequested` of our own run (`check_run.app.id` is our App id, name `Mountie`), and
  `check_suite` `rerequested` of our suite: a RERUN job for `head_sha`, with the PR number only when
  the payload names exactly one (fork PRs arrive with an empty `pull_requests`).
- `installation`, `installation_repositories`: acknowledged and logged.
- Anything else: ignored (202).

Payloads are read leniently (older examples lack fields): a payload without what a job needs is
ignored with the reason, never an error.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.jobs.model import Job, JobKind

CHECK_RUN_NAME = "Mountie"
REVIEWED_ACTIONS = frozenset({"opened", "synchronize", "reopened", "ready_for_review"})
INSTALLATION_EVENTS = frozenset({"installation", "installation_repositories"})
# `/mountie recheck` or `@slug recheck` (`@slug[bot]` too), alone in the comment, any case.
_COMMAND = re.compile(
    r"\A\s*(?:/mountie|@(?P<slug>[a-z0-9][a-z0-9-]*)(?:\[bot\])?)\s+recheck\s*\Z", re.IGNORECASE
)


@enum.unique
class Outcome(enum.Enum):
    ENQUEUE = "enqueued"
    ACKNOWLEDGE = "acknowledged"  # installation events: logged, nothing to do
    IGNORE = "ignored"
    PONG = "pong"


@dataclass(frozen=True, slots=True)
class Decision:
    outcome: Outcome
    reason: str
    job: Job | None = None


@dataclass(frozen=True, slots=True)
class RoutingContext:
    app_id: int
    app_slugs: frozenset[str] = frozenset()  # lower case; names `@slug recheck` may use


def route(
    event: str,
    payload: Mapping[str, Any],
    delivery_id: str,
    context: RoutingContext,
    received_at: float = 0.0,
) -> Decision:
    """What to do with one verified delivery."""
    action = _text(payload, "action")
    name = f"{event}.{action}" if action else event
    if event == "ping":
        return Decision(Outcome.PONG, "ping")
    if event in INSTALLATION_EVENTS:
        return Decision(Outcome.ACKNOWLEDGE, _installation_summary(name, payload))
    handler = _HANDLERS.get(event)
    if handler is None:
        return Decision(Outcome.IGNORE, f"{event} events are not used")
    verdict = handler(payload, context)
    if isinstance(verdict, str):
        return Decision(Outcome.IGNORE, f"{name}: {verdict}")
    kind, pr_number, head_sha, extra = verdict
    installation = _obj(payload, "installation").get("id")
    repository = _text(_obj(payload, "repository"), "full_name")
    if not isinstance(installation, int) or "/" not in repository:
        return Decision(Outcome.IGNORE, f"{name}: the payload names no installation or repository")
    job = Job(
        kind=kind,
        delivery_id=delivery_id,
        installation_id=installation,
        repository=repository,
        pr_number=pr_number,
        head_sha=head_sha,
        event=name,
        received_at=received_at,
        **extra,
    )
    return Decision(Outcome.ENQUEUE, f"{name}: {kind.value}", job)


def learned_slug(event: str, payload: Mapping[str, Any], app_id: int) -> str | None:
    """Our App's slug when a signed payload states it (check runs/suites and installations of ours)."""
    if event in ("check_run", "check_suite"):
        app = _obj(_obj(payload, event), "app")
        if app.get("id") == app_id:
            return _text(app, "slug") or None
    if event in INSTALLATION_EVENTS:
        installation = _obj(payload, "installation")
        if installation.get("app_id") == app_id:
            return _text(installation, "app_slug") or None
    return None


# A job's (kind, PR number, head SHA, extra Job fields), or why the delivery is ignored.
_Verdict = tuple[JobKind, int | None, str | None, dict[str, Any]] | str


def _pull_request(payload: Mapping[str, Any], context: RoutingContext) -> _Verdict:
    action = _text(payload, "action")
    if action == "edited":
        if "base" not in _obj(payload, "changes"):
            return "only a base branch change alters the diff"
    elif action not in REVIEWED_ACTIONS:
        return "action not reviewed"
    pr = _obj(payload, "pull_request")
    if pr.get("draft") is True:
        return "draft pull request"
    if pr.get("state") != "open":
        return "pull request is not open"
    number = payload.get("number", pr.get("number"))
    head_sha = _text(_obj(pr, "head"), "sha")
    if not isinstance(number, int) or not head_sha:
        return "the payload names no pull request number or head SHA"
    return JobKind.REVIEW, number, head_sha, {}


def _issue_comment(payload: Mapping[str, Any], context: RoutingContext) -> _Verdict:
    if _text(payload, "action") != "created":
        return "only new comments carry commands"
    issue = _obj(payload, "issue")
    if not issue.get("pull_request"):
        return "comment on an issue, not a pull request"
    if _text(_obj(payload, "sender"), "type") == "Bot":
        return "comment by a bot"
    comment = _obj(payload, "comment")
    match = _COMMAND.match(_text(comment, "body"))
    if match is None:
        return "not a Mountie command"
    slug = match.group("slug")
    if slug is not None and slug.lower() not in context.app_slugs:
        known = (
            "is not this App" if context.app_slugs else "cannot be checked: the App's slug is not known yet"
        )
        return f"@{slug} {known}"
    number, comment_id = issue.get("number"), comment.get("id")
    if not isinstance(number, int) or not isinstance(comment_id, int):
        return "the payload names no pull request number or comment id"
    commenter = _text(_obj(comment, "user"), "login") or _text(_obj(payload, "sender"), "login")
    return JobKind.RECHECK, number, None, {"commenter": commenter or None, "comment_id": comment_id}


def _check_run(payload: Mapping[str, Any], context: RoutingContext) -> _Verdict:
    if _text(payload, "action") != "rerequested":
        return "only re-runs are requested by users"
    run = _obj(payload, "check_run")
    if _obj(run, "app").get("id") != context.app_id or run.get("name") != CHECK_RUN_NAME:
        return "not Mountie's check run"
    run_id = run.get("id")
    head_sha = _text(run, "head_sha")
    if not isinstance(run_id, int) or not head_sha:
        return "the payload names no check run id or head SHA"
    return JobKind.RERUN, _single_pr(run), head_sha, {"check_run_id": run_id}


def _check_suite(payload: Mapping[str, Any], context: RoutingContext) -> _Verdict:
    if _text(payload, "action") != "rerequested":
        return "only re-runs are requested by users"
    suite = _obj(payload, "check_suite")
    if _obj(suite, "app").get("id") != context.app_id:
        return "not Mountie's check suite"
    head_sha = _text(suite, "head_sha")
    if not head_sha:
        return "the payload names no head SHA"
    return JobKind.RERUN, _single_pr(suite), head_sha, {}


_HANDLERS = {
    "pull_request": _pull_request,
    "issue_comment": _issue_comment,
    "check_run": _check_run,
    "check_suite": _check_suite,
}


def _single_pr(check: Mapping[str, Any]) -> int | None:
    """The PR a check run/suite names, when exactly one; forks (and ambiguity) leave it to the worker."""
    prs = check.get("pull_requests")
    if isinstance(prs, list) and len(prs) == 1 and isinstance(prs[0], dict):
        number = prs[0].get("number")
        return number if isinstance(number, int) else None
    return None


def _installation_summary(name: str, payload: Mapping[str, Any]) -> str:
    installation = _obj(payload, "installation")
    account = _text(_obj(installation, "account"), "login") or "?"
    counts = []
    for key, label in (
        ("repositories", "repositories"),
        ("repositories_added", "added"),
        ("repositories_removed", "removed"),
    ):
        value = payload.get(key)
        if isinstance(value, list) and value:
            counts.append(f"{len(value)} {label}")
    detail = f" ({', '.join(counts)})" if counts else ""
    return f"{name}: installation {installation.get('id')} on {account}{detail}"


def _obj(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key)
    return value if isinstance(value, Mapping) else {}


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    return value if isinstance(value, str) else ""
