"""Faults against real processes (`mountie serve`, `mountie worker`) and the GitHub emulator, in both
queue modes where the mode matters: every PR still gets exactly one correct review.

Each test runs its own emulator and processes; workers sweep every second (MOUNTIE_SWEEP_INTERVAL=1)
and retry after 0.5 s (MOUNTIE_RETRY_DELAY), so recoveries take seconds, not minutes.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import httpx
import pytest
import redis

from bot.app.metrics import JOBS_FINISHED, MetricsStore
from bot.app.settings import load_settings
from bot.github import GitHubClient
from bot.jobs.model import Job, JobKind, JobOutcome
from bot.review.service import run_job
from bot.testing.github_emulator import GitHubEmulator
from tests.app.support import app_env, free_port
from tests.e2e.cluster import (
    INSTALLATION_ID,
    MOTIVATING,
    Cluster,
    cluster,
    deliver,
    kill,
    new_emulator,
    open_pull_request,
    pull_request_event,
    wait_for,
)
from tests.jobs.backends import MODES

REPO = "octo/app"


@pytest.fixture
def emu() -> Iterator[GitHubEmulator]:
    emulator = new_emulator()
    try:
        yield emulator
        assert emulator.violations == []
    finally:
        emulator.stop()


def settled(emu: GitHubEmulator, repo: str, number: int, head: str) -> bool:
    """One review, pinned to `head`, and every check run on `head` completed."""
    runs = emu.check_runs(repo, head)
    reviews = emu.reviews(repo, number)
    return bool(runs) and all(r.status == "completed" for r in runs) and len(reviews) >= 1


def assert_reviewed_once(emu: GitHubEmulator, repo: str, number: int, head: str, comments: int) -> None:
    [review] = emu.reviews(repo, number)
    assert (review.commit_id, review.state) == (head, "COMMENTED")
    assert len(emu.review_comments(repo, number)) == comments
    [run] = emu.check_runs(repo, head)
    assert (run.status, run.conclusion, run.external_id) == ("completed", "failure", str(number))


def reference_comments(emu: GitHubEmulator, tmp_path: Path) -> int:
    """How many inline comments a fault-free review of the motivating Dockerfile has (the same
    review service, run in this process)."""
    head = open_pull_request(emu, "octo/reference", 1)
    settings = load_settings(app_env(tmp_path / "reference", GITHUB_API_URL=emu.url))
    client = GitHubClient(settings, INSTALLATION_ID, throttle=False)
    job = Job(JobKind.REVIEW, "reference", INSTALLATION_ID, "octo/reference", 1, head)
    assert run_job(job, settings, client=client) is JobOutcome.REVIEWED
    return len(emu.review_comments("octo/reference", 1))


def finished(running: Cluster, outcome: str) -> float:
    """Jobs the workers counted with `outcome` (each worker has its own data directory in Redis mode)."""
    dirs = [running.receiver.data_dir] if running.mode == "sqlite" else [w.data_dir for w in running.workers]
    return sum(
        MetricsStore(d / "metrics.db").value(JOBS_FINISHED, {"kind": "review", "outcome": outcome})
        for d in dirs
    )


@pytest.mark.parametrize("mode", MODES)
def test_a_worker_killed_mid_review_is_recovered_and_the_review_appears_once(
    mode: str, emu: GitHubEmulator, tmp_path: Path
) -> None:
    with cluster(mode, tmp_path, emu, workers=2) as running:
        head = open_pull_request(emu, REPO, 1)
        # The review goes out, then completing the check run stalls (and would fail): the worker
        # is killed there, with the review posted and the check run in progress.
        emu.delay_next(1, 5.0, operation="checks/update")
        emu.fail_next(1, 502, operation="checks/update")
        delivery, status = deliver(running, REPO, 1, head)
        assert status == 202
        wait_for("the stalled check run update", lambda: emu.count_requests(operation="checks/update"))
        assert len(emu.reviews(REPO, 1)) == 1
        comments = len(emu.review_comments(REPO, 1))
        assert comments >= 1 and emu.check_runs(REPO, head)[0].status == "in_progress"
        kill(running.worker_running(delivery))
        wait_for("the recovered review", lambda: settled(emu, REPO, 1, head), timeout=45)
        assert_reviewed_once(emu, REPO, 1, head, comments)
        logs = running.logs()
        assert re.search(r"re-enqueueing review octo/app #1 .*check run left in progress", logs)
        assert "job started (resuming an earlier attempt)" in logs


def test_jobs_queued_in_sqlite_survive_a_killed_receiver(emu: GitHubEmulator, tmp_path: Path) -> None:
    comments = reference_comments(emu, tmp_path)
    with cluster("sqlite", tmp_path, emu, threads=3, worker=False) as running:  # nothing runs jobs
        receiver = running.receiver
        heads = {n: open_pull_request(emu, REPO, n) for n in range(1, 4)}
        for number, head in heads.items():
            assert deliver(running, REPO, number, head)[1] == 202
        receiver.stop(signal.SIGKILL)  # acknowledged: committed to the queue before the 202
        running.start_receiver(worker=True)
        for number, head in heads.items():
            wait_for(f"PR {number}", partial(settled, emu, REPO, number, head))
        for number, head in heads.items():
            assert_reviewed_once(emu, REPO, number, head, comments)


@pytest.mark.parametrize("mode", MODES)
def test_github_failing_30_percent_of_requests_still_gives_one_correct_review_each(
    mode: str, emu: GitHubEmulator, tmp_path: Path
) -> None:
    comments = reference_comments(emu, tmp_path)
    with cluster(mode, tmp_path, emu, workers=2, threads=2) as running:
        heads = {n: open_pull_request(emu, REPO, n) for n in range(1, 7)}
        emu.clear_requests()
        emu.set_failure_rate(0.3, statuses=(502, 503, 504), seed=11)
        # And writes GitHub applied but whose answer was lost: a 502, a dropped connection.
        emu.fail_next(2, 502, after_write=True, operation="pulls/create-review")
        emu.drop_next(2, after_write=True, operation="checks/create")
        for number, head in heads.items():
            assert deliver(running, REPO, number, head)[1] == 202
        for number, head in heads.items():
            wait_for(f"PR {number}", partial(settled, emu, REPO, number, head), timeout=60)
        emu.set_failure_rate(0.0)
        failed = [r for r in emu.requests if r.fault is not None]
        assert len(failed) >= 8 and {r.fault for r in failed} >= {"fail", "lost-response", "lost-connection"}
        for number, head in heads.items():
            assert_reviewed_once(emu, REPO, number, head, comments)


def test_a_secondary_rate_limit_is_waited_out_as_long_as_retry_after_says(
    emu: GitHubEmulator, tmp_path: Path
) -> None:
    window = 3  # seconds; GitHub's are about a minute, the client code is the same
    # The fallback wait (no Retry-After) stays at a minute: finishing in seconds proves Retry-After was used.
    with cluster("sqlite", tmp_path, emu, threads=3, MOUNTIE_SECONDARY_RATE_LIMIT_WAIT="60") as running:
        heads = {n: open_pull_request(emu, REPO, n) for n in range(1, 4)}
        emu.clear_requests()
        emu.secondary_rate_limit(window, writes_only=True)
        started = time.monotonic()
        for number, head in heads.items():
            assert deliver(running, REPO, number, head)[1] == 202
        for number, head in heads.items():
            wait_for(f"PR {number}", partial(settled, emu, REPO, number, head), timeout=30)
        took = time.monotonic() - started
        limited = [r for r in emu.requests if r.status == 403]
        # Honoured: each job's first write in the window waited as long as Retry-After said (so
        # the window was over) and was not refused again; hammering would show more 403s.
        assert 1 <= len(limited) <= len(heads)
        waits = [float(w) for w in re.findall(r"rate limited \(403\), waiting ([0-9.]+) s", running.logs())]
        assert len(waits) == len(limited) and all(1 <= w <= window for w in waits)
        assert window <= took < 30
        for number, head in heads.items():
            assert len(emu.reviews(REPO, number)) == 1 and len(emu.check_runs(REPO, head)) == 1


@pytest.mark.parametrize("mode", MODES)
def test_twenty_pushes_within_a_second_get_one_review_for_the_last(
    mode: str, emu: GitHubEmulator, tmp_path: Path
) -> None:
    with cluster(mode, tmp_path, emu, workers=2, threads=2) as running:
        head = open_pull_request(emu, REPO, 1)
        # Each push adds a finding of its own: a review of any of them would be a new review.
        texts = [MOTIVATING + f"RUN --mount=type=cache,target=.cache{n} make\n" for n in range(20)]
        shas = [
            emu.add_commit(REPO, {"svc1/Dockerfile": text}, branch=f"push-{n}")
            for n, text in enumerate(texts)
        ]
        # The job of the opening event waits on GitHub (so this process, which also serves the
        # emulator, is free to push fast) while the pushes arrive.
        emu.delay_next(1, 1.5, operation="pulls/list-files")
        started = time.monotonic()
        assert deliver(running, REPO, 1, head)[1] == 202
        for sha in shas:
            emu.push(REPO, 1, sha)
            assert deliver(running, REPO, 1, sha, "synchronize")[1] == 202
        assert time.monotonic() - started < 1.0
        last = shas[-1]
        wait_for("the review of the last push", lambda: settled(emu, REPO, 1, last), timeout=40)
        wait_for(
            "every job to end", lambda: finished(running, "superseded") + finished(running, "reviewed") >= 21
        )
        [review] = emu.reviews(REPO, 1)
        assert review.commit_id == last
        assert any(".cache19" in c.body for c in emu.review_comments(REPO, 1))
        for sha in [head, *shas[:-1]]:  # older heads: no check run, or one completed as superseded
            assert all((r.status, r.title) == ("completed", "Superseded") for r in emu.check_runs(REPO, sha))
        assert finished(running, "reviewed") == 1 and finished(running, "superseded") == 20


def _redis_server(port: int, directory: Path) -> subprocess.Popen[bytes]:
    command = [shutil.which("redis-server") or "redis-server", "--port", str(port), "--bind", "127.0.0.1"]
    command += ["--dir", str(directory), "--appendonly", "yes", "--appendfsync", "always", "--save", ""]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = redis.Redis(port=port)
    wait_for("redis-server", lambda: _pong(client), timeout=10, every=0.05)
    client.close()
    return process


def _pong(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False


def test_a_redis_restart_mid_burst_loses_nothing_acknowledged(emu: GitHubEmulator, tmp_path: Path) -> None:
    port = free_port()
    store = tmp_path / "redis"
    store.mkdir()
    server = _redis_server(port, store)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        with cluster("redis", tmp_path, emu, workers=2, threads=2, MOUNTIE_QUEUE_URL=url) as running:
            heads = {n: open_pull_request(emu, REPO, n) for n in range(1, 10)}
            answers: dict[int, tuple[str, int]] = {}
            for number in range(1, 4):
                answers[number] = deliver(running, REPO, number, heads[number])
            server.kill()  # SIGKILL: no goodbye, no final save
            server.wait()
            for number in range(4, 7):
                answers[number] = deliver(running, REPO, number, heads[number])
            health = httpx.get(f"{running.receiver.url}/healthz").status_code
            server = _redis_server(port, store)
            for number in range(7, 10):
                answers[number] = deliver(running, REPO, number, heads[number])
            acknowledged = [n for n, (_, status) in answers.items() if status == 202]
            refused = [n for n, (_, status) in answers.items() if status >= 500]
            assert health == 503 and refused == [4, 5, 6] and len(acknowledged) == 6
            for number in refused:  # what GitHub's "Redeliver" sends: the same delivery id
                delivery = answers[number][0]
                response = running.post(
                    "pull_request", delivery, pull_request_event(REPO, number, heads[number])
                )
                assert (response.status_code, response.json()["outcome"]) == (202, "enqueued")
            for number, head in heads.items():
                wait_for(f"PR {number}", partial(settled, emu, REPO, number, head), timeout=45)
            for number, head in heads.items():
                assert len(emu.reviews(REPO, number)) == 1 and len(emu.check_runs(REPO, head)) == 1
    finally:
        server.kill()
        server.wait()
