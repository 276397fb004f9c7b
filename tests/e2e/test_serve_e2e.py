"""End to end: signed webhooks into a real `mountie serve` (receiver + supervised worker process),
which reviews through the real `run_job` against the GitHub emulator (`GITHUB_API_URL`)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from bot.app.routing import CHECK_RUN_NAME
from bot.review.service import CHECK_NAME
from bot.testing.github_emulator import GitHubEmulator
from tests.app.support import APP_ID, ROOT, ServerProcess, app_env, payload, private_key_pem
from tests.app.test_metrics import parse

REPO = "octo/app"
INSTALLATION_ID = 77
MOTIVATING = (ROOT / "tests" / "data" / "motivating.Dockerfile").read_text(encoding="utf-8")
TIMEOUT = 30.0
T = TypeVar("T")


@pytest.fixture(scope="module")
def emu() -> Iterator[GitHubEmulator]:
    with GitHubEmulator(strict_responses=True) as emulator:
        emulator.add_app(APP_ID, "mountie-bot", private_key_pem())
        emulator.add_installation(INSTALLATION_ID, APP_ID, "octo")
        emulator.add_repo(REPO, files={"README.md": "# app\n", "src/main.rs": "fn main() {}\n"})
        yield emulator
        assert emulator.violations == []


@pytest.fixture(scope="module")
def server(emu: GitHubEmulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data_dir = tmp_path_factory.mktemp("e2e") / "data"
    env = app_env(data_dir, GITHUB_API_URL=emu.url)
    with ServerProcess(data_dir, "--workers", "2", env=env) as process:
        yield process


def open_pull_request(
    emu: GitHubEmulator, number: int, installation_id: int = INSTALLATION_ID
) -> tuple[str, dict[str, Any]]:
    """PR `number` adding the motivating Dockerfile; returns its head SHA and a pull_request.opened."""
    repo = emu.store.repos[REPO]
    base = repo.branches[repo.default_branch]
    files = {f"svc{number}/Dockerfile": MOTIVATING}
    head = emu.add_commit(REPO, files, parent=base, branch=f"feature-{number}")
    emu.add_pull_request(REPO, number, base, head, author="alice")
    data = payload(
        "pull_request.opened",
        number=number,
        **{
            "pull_request.number": number,
            "pull_request.head.sha": head,
            "repository.full_name": REPO,
            "installation.id": installation_id,
        },
    )
    return head, data


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = TIMEOUT) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def test_the_check_run_name_is_the_one_the_router_expects() -> None:
    assert CHECK_RUN_NAME == CHECK_NAME


def test_a_pull_request_is_reviewed_once_and_a_redelivery_posts_nothing(
    emu: GitHubEmulator, server: ServerProcess
) -> None:
    head, data = open_pull_request(emu, 2)
    delivery = str(uuid.uuid4())
    response = server.post("pull_request", delivery, data)
    assert (response.status_code, response.json()["outcome"]) == (202, "enqueued")

    runs = wait_for(
        "a completed check run",
        lambda: [r for r in emu.check_runs(REPO, head) if r.status == "completed"] or None,
    )
    assert len(runs) == 1 and runs[0].name == "Mountie" and runs[0].conclusion in ("failure", "neutral")
    assert any(a.path == "svc2/Dockerfile" for a in runs[0].annotations)
    reviews = emu.reviews(REPO, 2)
    assert len(reviews) == 1 and reviews[0].commit_id == head and reviews[0].state == "COMMENTED"
    assert emu.review_comments(REPO, 2), "the finding is commented inline"

    writes = emu.count_requests(method="POST") + emu.count_requests(method="PATCH")
    again = server.post("pull_request", delivery, data)
    assert (again.status_code, again.json()["outcome"]) == (202, "duplicate")
    time.sleep(2.5)  # longer than the worker's queue poll: anything enqueued would have started
    assert len(emu.reviews(REPO, 2)) == 1 and len(emu.check_runs(REPO, head)) == 1
    assert emu.count_requests(method="POST") + emu.count_requests(method="PATCH") == writes

    samples = parse(httpx.get(f"{server.url}/metrics").content)
    finished = samples["mountie_jobs_finished_total"]
    assert finished[(("kind", "review"), ("outcome", "reviewed"))] == 1
    assert sum(samples["mountie_github_api_calls_total"].values()) >= 5
    assert samples["mountie_review_latency_seconds_count"][(("outcome", "reviewed"),)] == 1
    assert samples["mountie_github_rate_limit_remaining"]


def test_a_recheck_command_is_acknowledged_and_reviewed(emu: GitHubEmulator, server: ServerProcess) -> None:
    head, _ = open_pull_request(emu, 3)
    comment_id = emu.add_issue_comment(REPO, 3, "alice", "/mountie recheck")
    data = payload(
        "issue_comment.created",
        **{
            "issue.number": 3,
            "comment.id": comment_id,
            "comment.body": "/mountie recheck",
            "comment.user.login": "alice",
            "repository.full_name": REPO,
            "installation.id": INSTALLATION_ID,
        },
    )
    response = server.post("issue_comment", str(uuid.uuid4()), data)
    assert (response.status_code, response.json()["outcome"]) == (202, "enqueued")
    wait_for("the review", lambda: emu.reviews(REPO, 3) or None)
    assert [r.content for r in emu.reactions(REPO, comment_id)] == ["eyes"]
    run = wait_for(
        "the check run", lambda: [r for r in emu.check_runs(REPO, head) if r.status == "completed"]
    )
    assert len(run) == 1


def test_the_worker_learned_the_app_slug(server: ServerProcess) -> None:
    slug_file = Path(server.data_dir) / "app-slug"
    assert wait_for("the slug file", lambda: slug_file.is_file() or None)
    assert slug_file.read_text(encoding="utf-8") == "mountie-bot\n"
