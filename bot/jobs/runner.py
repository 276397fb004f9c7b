"""The production job runner: `bot.review.service.run_job` with a GitHub client whose every request
is counted in the shared metrics (calls by method and status, the rate limit GitHub reports).

The client's pacing and its retry of single requests follow the settings: MOUNTIE_GITHUB_THROTTLE,
and a backoff of a tenth of MOUNTIE_RETRY_DELAY (1 s by default, doubling up to 16 s), so one
setting says how patient retries are at both levels (a request, then the whole job)."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from bot.app.metrics import MetricsStore, record_api_call
from bot.app.settings import AppSettings
from bot.app.slugs import SlugStore
from bot.jobs.model import Job, JobOutcome
from bot.jobs.tasks import Attempt, JobRunner

if TYPE_CHECKING:
    from bot.github import RetryPolicy

log = logging.getLogger(__name__)


def review_runner(metrics: MetricsStore | None) -> JobRunner:
    def run(job: Job, settings: AppSettings, attempt: Attempt) -> JobOutcome:
        # Imported here: the receiver imports this package but never talks to GitHub.
        from bot.github import ApiCall, GitHubClient
        from bot.review.service import run_job

        def observe(call: ApiCall) -> None:
            if metrics is not None:
                record_api_call(metrics, call.method, call.path, call.status, call.rate_remaining)

        client = GitHubClient(
            settings,
            job.installation_id,
            repository=job.repository,  # a token for this repository only
            on_call=observe,
            throttle=settings.github_throttle,
            policy=request_retry_policy(settings),
        )
        since = attempt.admitted_at if attempt.resume else None
        return run_job(job, settings, client=client, resume_since=since, final=attempt.final)

    return run


def request_retry_policy(settings: AppSettings) -> RetryPolicy:
    from bot.github import RetryPolicy

    return RetryPolicy(
        backoff=settings.retry_delay / 10,
        max_backoff=settings.retry_delay * 1.6,
        secondary_wait=settings.secondary_rate_limit_wait,
    )


def learn_app_slug(settings: AppSettings, slugs: SlugStore) -> threading.Thread:
    """In the background, ask GitHub for the App's slug (GET /app) so `@<slug> recheck` works."""

    def learn() -> None:
        from bot.github import GitHubClient, GitHubError

        try:
            slug = GitHubClient(settings, installation_id=0).app_slug()
        except GitHubError as error:
            log.warning("could not read the App's slug (only /mountie recheck works until then): %s", error)
            return
        if slugs.remember(slug):
            log.info("the App's slug is %s", slug)

    thread = threading.Thread(target=learn, name="learn-app-slug", daemon=True)
    thread.start()
    return thread
