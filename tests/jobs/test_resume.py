"""`run_job` as the queue runs it again (a retry, a requeue after a stop, the sweeper): a retry takes
over the check run the failed attempt left in progress, and a job run twice never duplicates a
review or a check run. Against the emulator, over real HTTP."""

from __future__ import annotations

import time
from pathlib import Path

from bot.app.settings import AppSettings
from bot.github import GitHubError
from bot.jobs.model import Job, JobKind, JobOutcome
from bot.review.service import run_job
from bot.testing.github_emulator import FakeClock, GitHubEmulator
from tests.github.harness import INSTALLATION_ID, REPO, Sleeps, emu, make_client, settings, sleeps

# The fixtures used here (`app_key`, `app_pem` and `clock` come from tests/conftest.py).
__all__ = ["emu", "settings", "sleeps"]

MOTIVATING = (Path(__file__).parents[1] / "data" / "motivating.Dockerfile").read_text()


def open_pr(emu: GitHubEmulator, files: dict[str, str]) -> str:
    base = emu.add_repo(REPO, files={"README.md": "# app\n"})
    head = emu.add_commit(REPO, files, branch="feature")
    emu.add_pull_request(REPO, 7, base, head, author="alice")
    return head


class Runs:
    """Runs one job the way the worker does, attempt after attempt, with a fresh client each."""

    def __init__(self, settings: AppSettings, clock: FakeClock, sleeps: Sleeps, job: Job) -> None:
        self.settings, self.clock, self.sleeps, self.job = settings, clock, sleeps, job
        self.admitted_at = clock.now()

    def attempt(self, *, resume: bool, final: bool) -> JobOutcome:
        client = make_client(self.settings, self.clock, self.sleeps)
        since = self.admitted_at if resume else None
        return run_job(
            self.job, self.settings, client=client, clock=self.clock.now, resume_since=since, final=final
        )


def review_job(head: str) -> Job:
    return Job(JobKind.REVIEW, "d-7", INSTALLATION_ID, REPO, 7, head, event="pull_request.opened")


def writes(emu: GitHubEmulator) -> int:
    return sum(emu.count_requests(method=m) for m in ("POST", "PATCH")) - emu.count_requests(
        operation="apps/create-installation-access-token"
    )


def test_a_retry_takes_over_the_check_run_the_failed_attempt_left_in_progress(
    emu: GitHubEmulator, settings: AppSettings, clock: FakeClock, sleeps: Sleeps
) -> None:
    head = open_pr(emu, {"Dockerfile": MOTIVATING})
    runs = Runs(settings, clock, sleeps, review_job(head))
    emu.fail_next(10, 502, operation="pulls/get")  # the check before posting keeps failing
    try:
        runs.attempt(resume=False, final=False)
        raise AssertionError("the attempt should have raised for a retry")
    except GitHubError as error:
        assert error.status == 502
    [left] = emu.check_runs(REPO, head)
    assert left.status == "in_progress" and emu.reviews(REPO, 7) == []
    emu.clear_faults()
    assert runs.attempt(resume=True, final=False) is JobOutcome.REVIEWED
    [run] = emu.check_runs(REPO, head)
    assert (run.id, run.status, run.conclusion) == (left.id, "completed", "failure")
    assert len(emu.reviews(REPO, 7)) == 1


def test_the_last_attempt_reports_the_failure_on_the_check_run(
    emu: GitHubEmulator, settings: AppSettings, clock: FakeClock, sleeps: Sleeps
) -> None:
    head = open_pr(emu, {"Dockerfile": MOTIVATING})
    emu.fail_next(10, 502, operation="pulls/get")
    runs = Runs(settings, clock, sleeps, review_job(head))
    try:
        runs.attempt(resume=True, final=True)
        raise AssertionError("the attempt should have raised")
    except GitHubError:
        pass
    [run] = emu.check_runs(REPO, head)
    assert (run.status, run.conclusion, run.title) == ("completed", "neutral", "Mountie could not finish")


def test_a_job_cut_off_after_posting_its_review_completes_without_posting_again(
    emu: GitHubEmulator, settings: AppSettings, clock: FakeClock, sleeps: Sleeps
) -> None:
    head = open_pr(emu, {"Dockerfile": MOTIVATING})
    runs = Runs(settings, clock, sleeps, review_job(head))
    emu.fail_next(10, 503, operation="checks/update")  # the review is posted, the run not completed
    try:
        runs.attempt(resume=False, final=False)
        raise AssertionError("the attempt should have raised for a retry")
    except GitHubError:
        pass
    assert len(emu.reviews(REPO, 7)) == 1 and emu.check_runs(REPO, head)[0].status == "in_progress"
    emu.clear_faults()
    assert runs.attempt(resume=True, final=False) is JobOutcome.REVIEWED
    assert len(emu.reviews(REPO, 7)) == 1 and len(emu.review_comments(REPO, 7)) == 1
    [run] = emu.check_runs(REPO, head)
    assert (run.status, run.conclusion) == ("completed", "failure")


def test_a_job_that_had_finished_is_done_when_run_again(
    emu: GitHubEmulator, settings: AppSettings, clock: FakeClock, sleeps: Sleeps
) -> None:
    head = open_pr(emu, {"Dockerfile": MOTIVATING})
    runs = Runs(settings, clock, sleeps, review_job(head))
    assert runs.attempt(resume=False, final=False) is JobOutcome.REVIEWED
    before = writes(emu)
    clock.advance(120)
    assert runs.attempt(resume=True, final=False) is JobOutcome.REVIEWED  # e.g. the sweeper's copy
    assert writes(emu) == before
    assert len(emu.check_runs(REPO, head)) == 1 and len(emu.reviews(REPO, 7)) == 1


def test_a_check_run_completed_before_the_job_was_admitted_does_not_end_it(
    emu: GitHubEmulator, settings: AppSettings, clock: FakeClock, sleeps: Sleeps
) -> None:
    head = open_pr(emu, {"Dockerfile": MOTIVATING})
    assert Runs(settings, clock, sleeps, review_job(head)).attempt(resume=False, final=True) is (
        JobOutcome.REVIEWED
    )
    clock.advance(60)
    later = Runs(settings, clock, sleeps, review_job(head))  # e.g. a re-run, admitted later
    assert later.attempt(resume=True, final=True) is JobOutcome.REVIEWED
    assert [r.status for r in emu.check_runs(REPO, head)] == ["completed", "completed"]
    assert len(emu.reviews(REPO, 7)) == 1  # nothing new to say


def test_no_dockerfile_checks_are_idempotent_too(
    emu: GitHubEmulator, settings: AppSettings, clock: FakeClock, sleeps: Sleeps
) -> None:
    head = open_pr(emu, {"src/main.py": "print('hi')\n"})
    runs = Runs(settings, clock, sleeps, review_job(head))
    emu.fail_next(1, 502, after_write=True, operation="checks/create")  # created, answered 502
    assert runs.attempt(resume=False, final=False) is JobOutcome.REVIEWED
    [run] = emu.check_runs(REPO, head)
    assert (run.status, run.conclusion) == ("completed", "neutral")
    assert runs.attempt(resume=True, final=False) is JobOutcome.REVIEWED
    assert len(emu.check_runs(REPO, head)) == 1


def test_a_resumed_recheck_is_not_stopped_by_the_cool_down_of_its_own_check_run(
    emu: GitHubEmulator, settings: AppSettings, clock: FakeClock, sleeps: Sleeps
) -> None:
    head = open_pr(emu, {"Dockerfile": MOTIVATING})
    comment = emu.add_issue_comment(REPO, 7, "alice", "/mountie recheck")
    job = Job(JobKind.RECHECK, "c-7", INSTALLATION_ID, REPO, 7, None, commenter="alice", comment_id=comment)
    runs = Runs(settings, clock, sleeps, job)
    emu.fail_next(10, 502, operation="pulls/create-review")
    try:
        runs.attempt(resume=False, final=False)
        raise AssertionError("the attempt should have raised for a retry")
    except GitHubError:
        pass
    emu.clear_faults()
    started = time.monotonic()
    assert runs.attempt(resume=True, final=False) is JobOutcome.REVIEWED
    assert time.monotonic() - started < 10
    [run] = emu.check_runs(REPO, head)
    assert run.status == "completed" and len(emu.reviews(REPO, 7)) == 1
    assert [r.content for r in emu.reactions(REPO, comment)] == ["eyes"]
