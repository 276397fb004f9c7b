"""The worker's use case: `run_job` reviews a pull request, or answers a recheck or a re-run.

REVIEW (at the job's head SHA; the router already skipped drafts and closed PRs):

1. list the changed files; then ONE GraphQL query (`analysis.PullReader`) reads the configuration
   from the default branch, the files that are Dockerfiles by name at the head SHA with their
   build context's ignore files, and the review threads already on the pull request;
2. no Dockerfile among them: one completed `neutral` check run (3 API calls). Mountie's open
   threads from when the pull request did change a Dockerfile are resolved (after reading the PR
   again, as in step 5): their findings are gone from the review;
3. else create the `Mountie` check run in progress (`external_id` = PR number, so a re-run of a
   fork PR's check, whose payload names no PR, leads back to it);
4. lint each Dockerfile (reading first any that only the configuration's `files.include` names);
   compose the review against the comments already there (`compose.py`), reading earlier review
   bodies only when they matter;
5. before writing to the pull request, read it again: if its head moved on, post nothing and
   complete the check run `neutral` ("superseded"): the newer push has its own job;
6. post ONE `COMMENT` review pinned to the analysed SHA; resolve Mountie's stale threads;
7. complete the check run (annotations in batches of 50). Whatever fails after step 3 completes
   the check run with what happened rather than leaving it in progress, except a failure that the
   queue will retry (`final=False`): the retry (`resume=True`) takes that check run over.

API calls, installation-token requests aside: a Dockerfile PR's first review costs 6 (files,
the GraphQL read, check run, PR, review, check run update) for up to 15 Dockerfiles (a query reads
50 files: the 4 configuration locations, each Dockerfile and its 2 ignore files), one more query
per 50 files beyond; a run that finds nothing new costs 4; a PR without Dockerfiles 3. A file
GraphQL cannot give exactly (binary, over ~500 KB, not UTF-8) costs one REST read; resolving a
thread costs one mutation.

RECHECK: a bot is ignored; the PR author or a writer gets 👀 on the comment and a review (unless
the last check run on that commit is under 30 s old); anyone else gets one short reply per PR.
RERUN: the PR comes from the payload, else from the check run's `external_id`; then REVIEW.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from bot.app.settings import AppSettings
from bot.github import (
    GitHubClient,
    GitHubError,
    GoneError,
    UnprocessableError,
    WriteOutcomeUnknownError,
    is_retryable,
)
from bot.github.types import CheckRun, PullRequest, ReviewThread
from bot.jobs.model import Job, JobKind, JobOutcome
from bot.review import checkrun, recheck
from bot.review.analysis import PullContents, PullReader
from bot.review.compose import needs_review_bodies, plan_review, stale_threads, summary_only
from bot.review.items import file_items
from bot.review.markers import review_marker
from bot.review.model import ChangedFile, CheckReport, ReviewPlan
from bot.review.selection import select_dockerfiles

log = logging.getLogger(__name__)

CHECK_NAME = "Mountie"
CLOCK_SKEW = 5.0  # seconds GitHub's timestamps may lag ours (and they are whole seconds)


def run_job(
    job: Job,
    settings: AppSettings,
    *,
    client: GitHubClient | None = None,
    clock: Callable[[], float] = time.time,
    resume_since: float | None = None,
    final: bool = True,
) -> JobOutcome:
    """Handle one job to the end.

    Raises only the GitHub failures worth another attempt later (`is_retryable`: 5xx, rate limits,
    lost connections, writes of unknown outcome), so the queue can run the job again; a retry
    finds what the failed attempt posted by its markers. Anything else ends as an outcome.

    `resume_since`: an earlier attempt at this job, admitted at that UNIX time, may have started
    (a retry, a job put back by a stopping worker or by the sweeper). Its check run, still in
    progress, is taken over rather than a second one created; if it already completed, the job
    is done (REVIEWED, nothing posted); a recheck's cool-down (which that run would trigger) is
    skipped. `final`: no retry follows; when False, a retryable failure leaves the check run in
    progress for the retry instead of completing it as failed."""
    client = client or GitHubClient(settings, job.installation_id, repository=job.repository)
    worker = _Worker(job, client, clock, resume_since=resume_since, final=final)
    outcome: JobOutcome | None = None
    try:
        outcome = worker.run()
    except GoneError as exc:
        log.info("%s: %s; nothing left to do", job.repository, exc)
        outcome = JobOutcome.SKIPPED
    except GitHubError as exc:
        if is_retryable(exc):
            log.warning("%s: failed, to be retried: %s", job.repository, exc)
            raise
        log.warning("%s: giving up: %s", job.repository, exc)
        outcome = JobOutcome.FAILED
    finally:
        log.info(
            "%s %s #%s: %s (%d API calls, %d token requests, rate limit remaining %s)",
            job.kind.value,
            job.repository,
            job.pr_number,
            outcome.value if outcome else "raised",
            client.calls,
            client.token_requests,
            client.rate_remaining,
            extra={"delivery_id": job.delivery_id, "api_calls": client.calls},
        )
    return outcome


@dataclass
class _Worker:
    job: Job
    client: GitHubClient
    clock: Callable[[], float]
    resume_since: float | None = None
    final: bool = True
    # resume: the check run an earlier attempt made (unfinished, or completed since it was admitted)
    _earlier: CheckRun | None = field(default=None, init=False)

    @property
    def repo(self) -> str:
        return self.job.repository

    @property
    def resume(self) -> bool:
        return self.resume_since is not None

    def run(self) -> JobOutcome:
        if self.job.kind is JobKind.RECHECK:
            return self.recheck()
        if self.job.kind is JobKind.RERUN:
            return self.rerun()
        if self.job.pr_number is None:
            return JobOutcome.SKIPPED
        return self.review(self.job.pr_number, self.job.head_sha)

    # -- commands ---------------------------------------------------------------------------------

    def recheck(self) -> JobOutcome:
        commenter, number = self.job.commenter or "", self.job.pr_number
        if not commenter or recheck.is_bot(commenter) or number is None:
            return JobOutcome.SKIPPED
        pr = self.client.get_pull(self.repo, number)
        if pr.state != "open":
            return JobOutcome.SKIPPED
        if not recheck.may_recheck(
            commenter, pr.author, lambda: self.client.permission(self.repo, commenter)
        ):
            self._refuse(number, commenter)
            return JobOutcome.DENIED
        if self.job.comment_id is not None:
            self.client.add_reaction(self.repo, self.job.comment_id, "eyes")
        runs = self.client.list_check_runs(self.repo, pr.head_sha, CHECK_NAME)
        if not self.resume and recheck.cooling_down(runs, self.clock()):
            log.info(
                "%s #%d: recheck within %.0f s of the last run, ignored", self.repo, number, recheck.COOLDOWN
            )
            return JobOutcome.SKIPPED
        # An explicit request: drafts are reviewed too.
        return self.review(number, pr.head_sha, allow_draft=True)

    def _refuse(self, number: int, commenter: str) -> None:
        comments = self.client.list_issue_comments(self.repo, number)
        if recheck.already_refused(comments, self.client.bot_login, commenter):
            return
        try:
            self.client.create_issue_comment(self.repo, number, recheck.refusal(commenter))
        except WriteOutcomeUnknownError as exc:
            # Maybe posted: better no second reply than two.
            log.warning("%s #%d: refusal may not be posted: %s", self.repo, number, exc)

    def rerun(self) -> JobOutcome:
        number, head_sha = self.job.pr_number, self.job.head_sha
        if number is None:
            run = self._rerun_source(head_sha)
            if run is None or run.external_id is None or not run.external_id.isdigit():
                log.info("%s: re-run of %s names no pull request", self.repo, head_sha)
                return JobOutcome.SKIPPED
            number, head_sha = int(run.external_id), run.head_sha
        return self.review(number, head_sha)

    def _rerun_source(self, head_sha: str | None) -> CheckRun | None:
        if self.job.check_run_id is not None:
            return self.client.get_check_run(self.repo, self.job.check_run_id)
        if head_sha is None:
            return None
        runs = self.client.list_check_runs(self.repo, head_sha, CHECK_NAME)
        return next((run for run in runs if run.external_id), None)

    # -- the review -------------------------------------------------------------------------------

    def review(self, number: int, head_sha: str | None, *, allow_draft: bool = False) -> JobOutcome:
        if head_sha is None:
            pr = self.client.get_pull(self.repo, number)
            if _skip_reason(pr, allow_draft) is not None:
                return JobOutcome.SKIPPED
            head_sha = pr.head_sha
        if self.resume:
            self._earlier = self._earlier_run(number, head_sha)
            if self._earlier is not None and self._earlier.status == "completed":
                log.info("%s #%d: an earlier attempt completed this review", self.repo, number)
                return JobOutcome.REVIEWED
        files = list(self.client.list_pull_files(self.repo, number))
        reader = PullReader(self.client, self.repo, number, head_sha)
        contents = reader.read(files)
        dockerfiles = select_dockerfiles(files, contents.config)
        if not dockerfiles:
            return self._no_dockerfile(number, head_sha, contents, allow_draft=allow_draft)
        run = self._start_check_run(number, head_sha)
        try:
            return self._review_files(
                number, head_sha, run, reader, contents, dockerfiles=dockerfiles, allow_draft=allow_draft
            )
        except GoneError:
            self._finish(run, checkrun.skipped("The pull request or the repository is no longer there."))
            raise
        except Exception as exc:
            log.exception("%s #%d: review failed", self.repo, number)
            if isinstance(exc, GitHubError) and is_retryable(exc) and not self.final:
                raise  # the retry takes this check run over (`resume`)
            self._finish(run, checkrun.crashed(exc))
            if isinstance(exc, GitHubError):
                raise  # run_job decides whether it is worth another attempt
            return JobOutcome.FAILED

    def _no_dockerfile(
        self, number: int, head_sha: str, contents: PullContents, *, allow_draft: bool
    ) -> JobOutcome:
        report = checkrun.no_dockerfile(contents.config)
        self._complete_new_run(number, head_sha, report)
        # Threads from when the PR changed a Dockerfile: no finding of this review is in them.
        comments, nothing = contents.comments, frozenset[str]()
        stale = stale_threads(comments, self.client.bot_login, nothing, nothing, nothing) if comments else ()
        if not stale:
            return JobOutcome.REVIEWED
        pr = self.client.get_pull(self.repo, number)
        if pr.head_sha != head_sha:
            return JobOutcome.SUPERSEDED
        if _skip_reason(pr, allow_draft) is not None:
            return JobOutcome.SKIPPED
        self._resolve(contents.threads, stale)
        return JobOutcome.REVIEWED

    def _review_files(
        self,
        number: int,
        head_sha: str,
        run: CheckRun,
        reader: PullReader,
        contents: PullContents,
        *,
        dockerfiles: list[ChangedFile],
        allow_draft: bool,
    ) -> JobOutcome:
        config = contents.config
        reports = reader.analyse(dockerfiles, config)
        verdict = checkrun.check_report(reports, config, head_sha)
        items = [item for report in reports for item in file_items(report)]
        existing = contents.comments
        bot_login = self.client.bot_login
        bodies: list[str] = []
        if needs_review_bodies(items, existing, bot_login):
            bodies = [r.body for r in self.client.list_reviews(self.repo, number) if r.author == bot_login]
        marker = review_marker(head_sha, self.job.delivery_id)
        plan = plan_review(
            items,
            existing,
            bot_login=bot_login,
            marker=marker,
            review_bodies=bodies,
            unsettled_paths=frozenset(r.path for r in reports if not r.analysed),
        )
        if plan.writes:
            pr = self.client.get_pull(self.repo, number)
            if pr.head_sha != head_sha:
                self._finish(run, checkrun.superseded(pr.head_sha))
                return JobOutcome.SUPERSEDED
            reason = _skip_reason(pr, allow_draft)
            if reason is not None:
                self._finish(run, checkrun.skipped(reason))
                return JobOutcome.SKIPPED
            if plan.body is not None:
                self._post_review(number, head_sha, plan, marker)
            if plan.resolve:
                self._resolve(contents.threads, plan.resolve)
        self._finish(run, verdict, strict=True)
        return JobOutcome.REVIEWED

    def _unfinished_run(self, number: int, head_sha: str) -> CheckRun | None:
        """Our check run for this PR at `head_sha` that an earlier attempt left in progress."""
        for run in self.client.list_check_runs(self.repo, head_sha, CHECK_NAME):
            if run.status != "completed" and run.external_id == str(number):
                return run
        return None

    def _earlier_run(self, number: int, head_sha: str) -> CheckRun | None:
        """The run an earlier attempt at this job made: unfinished, or (newest first) completed
        after the job was admitted (GitHub's clock may be a few seconds behind ours)."""
        assert self.resume_since is not None
        since = self.resume_since - CLOCK_SKEW
        for run in self.client.list_check_runs(self.repo, head_sha, CHECK_NAME):
            if run.external_id != str(number):
                continue
            if run.status != "completed" or (run.started_at is not None and run.started_at >= since):
                return run
        return None

    def _complete_new_run(self, number: int, head_sha: str, report: CheckReport) -> None:
        """A check run created complete; an earlier attempt's unfinished one is completed instead,
        and a create of unknown outcome is looked for before it is sent again."""
        since = self.clock()
        if self._earlier is not None:
            self._finish(self._earlier, report, strict=True)
            return

        def create() -> None:
            self.client.create_check_run(
                self.repo,
                name=CHECK_NAME,
                head_sha=head_sha,
                title=report.title,
                summary=report.summary,
                external_id=str(number),
                conclusion=report.conclusion,
            )

        try:
            create()
        except WriteOutcomeUnknownError:
            for run in self.client.list_check_runs(self.repo, head_sha, CHECK_NAME):
                created = run.started_at is not None and run.started_at >= since - CLOCK_SKEW
                if run.external_id == str(number) and run.conclusion == report.conclusion and created:
                    return
            create()

    def _start_check_run(self, number: int, head_sha: str) -> CheckRun:
        if self._earlier is not None:
            return self._earlier

        def create() -> CheckRun:
            return self.client.create_check_run(
                self.repo,
                name=CHECK_NAME,
                head_sha=head_sha,
                title="Reviewing",
                summary="Mountie is reviewing the Dockerfiles this pull request changes.",
                external_id=str(number),
            )

        try:
            return create()
        except WriteOutcomeUnknownError:
            return self._unfinished_run(number, head_sha) or create()

    def _post_review(self, number: int, head_sha: str, plan: ReviewPlan, marker: str) -> None:
        assert plan.body is not None
        try:
            self.client.create_review(
                self.repo, number, commit_id=head_sha, body=plan.body, comments=plan.comments
            )
        except WriteOutcomeUnknownError:
            if self._find_review(number, marker):
                return
            self.client.create_review(
                self.repo, number, commit_id=head_sha, body=plan.body, comments=plan.comments
            )
        except UnprocessableError as exc:
            if any("pending review" in error for error in exc.errors) and self._clear_pending(number):
                # A pending review of ours, left by a crash, blocks every new review until deleted.
                self.client.create_review(
                    self.repo, number, commit_id=head_sha, body=plan.body, comments=plan.comments
                )
                return
            body = summary_only(plan, marker)
            if not plan.comments or body is None:
                raise
            log.warning(
                "%s #%d: inline comments refused (%s); posting them in the review body",
                self.repo,
                number,
                exc,
            )
            self.client.create_review(self.repo, number, commit_id=head_sha, body=body, comments=())

    def _clear_pending(self, number: int) -> bool:
        """Delete Mountie's pending reviews on the PR; whether there were any."""
        pending = [
            review
            for review in self.client.list_reviews(self.repo, number)
            if review.author == self.client.bot_login and review.state == "PENDING"
        ]
        for review in pending:
            self.client.delete_pending_review(self.repo, number, review.id)
        return bool(pending)

    def _find_review(self, number: int, marker: str) -> bool:
        """Whether the review a failed create carried `marker` for exists after all. A pending one
        (which would block every later review) is deleted, so the caller posts again."""
        bot_login = self.client.bot_login
        for review in self.client.list_reviews(self.repo, number):
            if review.author != bot_login or marker not in review.body:
                continue
            if review.state != "PENDING":
                return True
            self.client.delete_pending_review(self.repo, number, review.id)
        return False

    def _resolve(self, threads: Sequence[ReviewThread], roots: tuple[int, ...]) -> None:
        """Resolve the threads started by `roots`, if still open and nobody else has spoken there."""
        bot_login = self.client.bot_login
        wanted = set(roots)
        for thread in threads:
            if thread.is_resolved or not thread.comments or thread.comments[0].database_id not in wanted:
                continue
            if any(comment.author != bot_login for comment in thread.comments):
                continue
            self.client.resolve_review_thread(thread.id)

    def _finish(self, run: CheckRun, report: CheckReport, *, strict: bool = False) -> None:
        """Complete the check run. Best effort unless `strict`: it reports a failure that is
        already being handled."""
        try:
            self.client.update_check_run(
                self.repo,
                run.id,
                title=report.title,
                summary=report.summary,
                conclusion=report.conclusion,
                annotations=report.annotations,
            )
        except GitHubError:
            if strict:
                raise
            log.warning("%s: could not complete check run %d", self.repo, run.id, exc_info=True)


def _skip_reason(pr: PullRequest, allow_draft: bool) -> str | None:
    if pr.state != "open":
        return "The pull request is closed."
    if pr.draft and not allow_draft:
        return "The pull request is a draft; Mountie reviews it once it is ready for review."
    return None


def review_pull_request(
    client: GitHubClient, repo: str, number: int, *, run_id: str, clock: Callable[[], float] = time.time
) -> JobOutcome:
    """One review of the pull request's current head outside the queue (`mountie review`).

    Drafts are reviewed too (an explicit request); a closed pull request is SKIPPED. Every
    GitHub error is raised to the caller, 404 included (`GoneError`). `run_id` goes in the review's
    marker, as a job's delivery id does."""
    job = Job(
        kind=JobKind.REVIEW,
        installation_id=client.installation_id,
        repository=repo,
        pr_number=number,
        head_sha=None,
        delivery_id=run_id,
        event="mountie review",
    )
    return _Worker(job, client, clock).review(number, None, allow_draft=True)
