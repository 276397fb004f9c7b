"""What a job is (contract between the receiver, the queue and the worker)."""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, fields
from typing import Any


@enum.unique
class JobKind(enum.Enum):
    REVIEW = "review"  # a pull_request event: review the PR at head_sha
    RECHECK = "recheck"  # `/mountie recheck` from a comment: check the commenter, react, review
    RERUN = "rerun"  # check_run/check_suite re-requested: find the PR for head_sha, review it


@dataclass(frozen=True, slots=True)
class Job:
    kind: JobKind
    delivery_id: str
    installation_id: int
    repository: str  # "owner/name"
    pr_number: int | None  # None for a re-run whose payload names no PR (forks)
    head_sha: str | None  # the SHA the event was about, when known
    # RECHECK: who asked, and the comment to react to / answer.
    commenter: str | None = None
    comment_id: int | None = None
    # RERUN: the check run or suite that was re-requested.
    check_run_id: int | None = None
    event: str = ""  # "pull_request.opened", ... for logs and metrics
    received_at: float = 0.0  # UNIX time the receiver accepted the delivery (review latency)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["kind"] = self.kind.value
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Job:
        """The inverse of `to_dict`; fields it does not know (from a newer receiver) are dropped."""
        known = {f.name for f in fields(cls)}
        return cls(
            **{k: v for k, v in data.items() if k in known and k != "kind"}, kind=JobKind(data["kind"])
        )


@enum.unique
class JobOutcome(enum.Enum):
    REVIEWED = "reviewed"  # check run completed (with or without a review)
    SUPERSEDED = "superseded"  # the PR head moved on; a newer job covers it
    SKIPPED = "skipped"  # closed or draft PR, PR deleted, app uninstalled
    DENIED = "denied"  # recheck from someone without permission
    FAILED = "failed"  # gave up; the check run says why
