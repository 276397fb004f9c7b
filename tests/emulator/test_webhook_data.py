"""The copied octokit/webhooks payload examples are intact and carry what the bot reads."""

from __future__ import annotations

import json
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "data" / "webhooks"


def load(name: str) -> dict[str, object]:
    payload = json.loads((DATA / name).read_text(encoding="utf-8"))
    assert isinstance(payload, dict)
    return payload


def test_all_payloads_parse_and_provenance_is_documented() -> None:
    names = sorted(p.name for p in DATA.glob("*.json"))
    assert len(names) == 15
    for name in names:
        load(name)
    readme = (DATA / "README.md").read_text(encoding="utf-8")
    assert "octokit/webhooks" in readme and "3a58428aa5c399cf5aa12c8663aea1fb1f515254" in readme


def test_pull_request_comment_example_is_on_a_pull_request() -> None:
    on_pr = load("issue_comment.created.json")
    on_issue = load("issue_comment.created.on-issue.json")
    assert isinstance(on_pr["issue"], dict) and "pull_request" in on_pr["issue"]
    assert isinstance(on_issue["issue"], dict) and "pull_request" not in on_issue["issue"]
    synchronize = load("pull_request.synchronize.json")
    assert {"before", "after"} <= set(synchronize)
