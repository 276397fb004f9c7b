"""Who may ask for a recheck, when a recheck is ignored, and what a refusal says.

A recheck is for people who can act on the result: collaborators with write or admin permission
(GitHub's `permission` folds maintain into write), and the pull request's author. Everyone else
gets one short reply per pull request, found again by its marker, and nothing more. A recheck
within `COOLDOWN` seconds of Mountie's last check run on the same commit is ignored: it would
repeat work that has only just been done (or is running).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from bot.github.types import CheckRun, IssueComment
from bot.review.markers import recheck_refusal_marker

COOLDOWN = 30.0
ALLOWED_PERMISSIONS = frozenset({"admin", "write"})


def is_bot(login: str) -> bool:
    return login.lower().endswith("[bot]")


def may_recheck(commenter: str, author: str, permission: Callable[[], str]) -> bool:
    """`permission` looks the commenter's permission up; the author needs no lookup."""
    return commenter.lower() == author.lower() or permission() in ALLOWED_PERMISSIONS


def cooling_down(runs: Sequence[CheckRun], now: float) -> bool:
    """Whether Mountie's newest check run on the commit that is running or reached a verdict
    started under `COOLDOWN` s ago. Neutral runs (superseded, skipped, failed to finish) do not
    count: a job retried after a failure, or a recheck after one, must still run."""
    counted = [run for run in runs if run.conclusion != "neutral"]
    latest = max(counted, key=lambda run: run.id, default=None)
    return latest is not None and latest.started_at is not None and now - latest.started_at < COOLDOWN


def already_refused(comments: Sequence[IssueComment], bot_login: str, commenter: str) -> bool:
    marker = recheck_refusal_marker(commenter)
    return any(c.author == bot_login and marker in c.body for c in comments)


def refusal(commenter: str) -> str:
    return (
        f"@{commenter} only the author of this pull request and people with write access to the "
        "repository can ask Mountie to recheck it.\n\n" + recheck_refusal_marker(commenter)
    )
