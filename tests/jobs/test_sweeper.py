"""The sweeper over both queue modes, asking the GitHub emulator (through the real client) about
the check runs of the jobs in flight that look abandoned: which are put back, left or forgotten."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.app.metrics import JOBS_RECOVERED, MetricsStore
from bot.app.settings import AppSettings, load_settings
from bot.github import GitHubClient
from bot.jobs.model import Job, JobKind
from bot.jobs.queue import HueyJobQueue, open_queue
from bot.jobs.store import lease_key
from bot.jobs.sweeper import GIVE_UP_AFTER, LEADER_KEY, STUCK_AFTER_INTERVALS, Sweeper, SweepReport
from bot.jobs.worker import build_sweeper
from bot.review.service import CHECK_NAME
from bot.testing.github_emulator import FakeClock, GitHubEmulator
from tests.app.support import APP_ID, app_env, private_key_pem
from tests.jobs.backends import MODES, queue_env, redis_prefix

INSTALLATION_ID = 31
REPO = "octo/app"
INTERVAL = 1.0
LATER = STUCK_AFTER_INTERVALS * INTERVAL + 1  # seconds after which an idle job looks abandoned


@pytest.fixture
def emu() -> Iterator[GitHubEmulator]:
    with GitHubEmulator(clock=FakeClock(), strict_responses=True) as emulator:
        emulator.add_app(APP_ID, "mountie", private_key_pem())
        emulator.add_installation(INSTALLATION_ID, APP_ID, "octo")
        emulator.add_repo(REPO, files={"README.md": "# app\n"})
        yield emulator
        assert emulator.violations == []


class World:
    def __init__(self, emu: GitHubEmulator, settings: AppSettings, data_dir: Path) -> None:
        self.emu = emu
        self.settings = settings
        self.queue: HueyJobQueue = open_queue(settings)
        self.store = self.queue.store
        self.metrics = MetricsStore(data_dir / "metrics.db")
        self.now = time.time()
        self.sweeper: Sweeper = build_sweeper(settings, self.queue, self.metrics)
        self.sweeper.clock = lambda: self.now
        # The grace before putting back a never-started job: what happens meanwhile, in no time.
        self.during_grace: list[Callable[[], object]] = []
        self.graces: list[float] = []
        self.sweeper.sleep = self._grace
        self.client = GitHubClient(settings, INSTALLATION_ID, throttle=False)

    def _grace(self, seconds: float) -> None:
        self.graces.append(seconds)
        for happening in self.during_grace:
            happening()

    def pull_request(self, number: int) -> Job:
        """An open PR and an admitted REVIEW job for its head."""
        repo = self.emu.store.repos[REPO]
        base = repo.branches[repo.default_branch]
        head = self.emu.add_commit(REPO, {f"svc{number}/Dockerfile": "FROM alpine\n"}, parent=base)
        self.emu.add_pull_request(REPO, number, base, head, author="alice")
        job = Job(JobKind.REVIEW, f"d-{number}", INSTALLATION_ID, REPO, number, head, event="t")
        assert self.queue.submit(job)
        self.queue.huey.flush()  # as if a worker had taken it off the queue
        return job

    def check_run(self, job: Job, *, completed: bool) -> None:
        assert job.head_sha is not None and job.pr_number is not None
        self.client.create_check_run(
            REPO,
            name=CHECK_NAME,
            head_sha=job.head_sha,
            title="t",
            summary="s",
            external_id=str(job.pr_number),
            conclusion="success" if completed else None,
        )

    def sweep(self) -> SweepReport:
        """A sweep in a new interval (the real leader lease of the last one given up)."""
        self.store.release(LEADER_KEY, self.sweeper.owner)
        return self.sweeper.sweep()

    def started(self, job: Job) -> Job:
        self.store.begin(job, self.now)
        return job

    def requeued(self) -> list[str]:
        return [job.delivery_id for job in self.queue.pending_jobs()]


@pytest.fixture(params=MODES)
def world(request: pytest.FixtureRequest, emu: GitHubEmulator, tmp_path: Path) -> Iterator[World]:
    with redis_prefix(request.param) as prefix:
        env = app_env(tmp_path / "data", GITHUB_API_URL=emu.url, MOUNTIE_SWEEP_INTERVAL=str(INTERVAL))
        settings = load_settings({**env, **queue_env(request.param, prefix)})
        yield World(emu, settings, tmp_path / "data")


def test_a_review_left_in_progress_by_a_dead_worker_is_put_back(world: World) -> None:
    job = world.started(world.pull_request(101))
    world.check_run(job, completed=False)
    assert world.sweep().requeued == []  # not idle for long enough yet
    world.now += LATER
    before = time.time()
    report = world.sweep()
    assert report.leader and report.requeued == ["d-101"] and report.asked == 1
    assert world.requeued() == ["d-101"]
    entry = world.store.entry("d-101")
    # Active again (left alone for 3 more intervals), and started: the job resumes its check run.
    assert entry is not None and entry.started and entry.active_at >= before
    assert world.metrics.value(JOBS_RECOVERED, {"reason": "check run left in progress"}) == 1


def test_a_job_that_died_before_its_check_run_existed_is_put_back(world: World) -> None:
    world.started(world.pull_request(102))
    world.now += LATER
    assert world.sweep().requeued == ["d-102"]


def test_a_finished_job_whose_bookkeeping_was_lost_is_forgotten(world: World) -> None:
    job = world.started(world.pull_request(103))
    world.check_run(job, completed=True)
    world.now += LATER
    report = world.sweep()
    assert (report.requeued, report.dropped) == ([], ["d-103"])
    assert world.store.in_flight() == [] and world.requeued() == []


def test_a_check_run_completed_before_the_job_was_admitted_does_not_count(world: World) -> None:
    clock = world.emu.clock
    assert isinstance(clock, FakeClock)
    start = clock.now()
    job = world.started(world.pull_request(104))
    assert job.head_sha is not None
    world.client.list_check_runs(REPO, job.head_sha, CHECK_NAME)  # an installation token, now
    clock.set(start - 3600)  # an earlier review of the same commit, an hour ago
    try:
        world.check_run(job, completed=True)
    finally:
        clock.set(start)
    world.now += LATER
    assert world.sweep().requeued == ["d-104"]


def test_live_and_waiting_jobs_are_left_alone(world: World) -> None:
    busy = world.started(world.pull_request(105))
    world.check_run(busy, completed=False)
    assert world.store.acquire(lease_key(busy), "a live worker", 60)
    retrying = world.started(world.pull_request(106))
    world.store.wait(retrying.delivery_id, world.now + 300)
    world.now += LATER
    report = world.sweep()
    assert report.requeued == [] and report.asked == 0


def test_a_job_never_started_is_put_back_only_when_the_queue_is_empty(world: World) -> None:
    world.pull_request(107)
    waiting = Job(JobKind.REVIEW, "other", INSTALLATION_ID, REPO, 999, "f" * 40)
    world.queue.submit(waiting)  # the queue is not empty: 107 waits its turn
    world.now += LATER
    assert world.sweep().requeued == []
    world.queue.huey.flush()
    world.store.finish(waiting)
    world.now += LATER
    report = world.sweep()
    assert report.requeued == ["d-107"] and report.asked == 0
    assert world.graces == [INTERVAL / 2]  # looked at again after half an interval


def test_a_never_started_job_a_worker_takes_during_the_grace_is_left_to_it(world: World) -> None:
    job = world.pull_request(108)
    world.now += LATER
    # The worker had taken it off the queue when the sweep began, and marks it started meanwhile.
    world.during_grace.append(lambda: world.started(job))
    report = world.sweep()
    assert report.requeued == [] and world.requeued() == []
    assert world.graces == [INTERVAL / 2]


def test_a_never_started_job_that_waits_for_a_retry_meanwhile_is_left_alone(world: World) -> None:
    job = world.pull_request(109)
    world.now += LATER
    # The worker took it, found its PR's lease held, and scheduled a retry meanwhile.
    world.during_grace.append(lambda: world.store.wait(job.delivery_id, world.now + 30))
    assert world.sweep().requeued == []


def test_jobs_of_vanished_prs_and_jobs_a_day_old_are_forgotten(world: World) -> None:
    gone = Job(JobKind.REVIEW, "gone", INSTALLATION_ID, "octo/deleted", 1, None)
    world.queue.submit(gone)
    world.started(gone)
    ancient = Job(JobKind.RECHECK, "ancient", INSTALLATION_ID, REPO, 5, None, commenter="a", comment_id=1)
    world.queue.submit(ancient)
    world.queue.huey.flush()
    world.now += GIVE_UP_AFTER + 1
    report = world.sweep()
    assert sorted(report.dropped) == ["ancient", "gone"] and world.store.in_flight() == []


def test_one_process_sweeps_per_interval(world: World) -> None:
    world.started(world.pull_request(108))
    world.now += LATER
    assert world.store.acquire(LEADER_KEY, "another worker process", 0.5)
    report = world.sweeper.sweep()
    assert not report.leader and report.requeued == []
    time.sleep(0.6)
    assert world.sweeper.sweep().requeued == ["d-108"]
    assert not world.sweeper.sweep().leader  # this interval is taken now
