"""The production job runner: `bot.review.service.run_job` with a GitHub client whose every request
is counted in the shared metrics (calls by method and status, the rate limit GitHub reports)."""

from __future__ import annotations

import logging
import threading

from bot.app.metrics import MetricsStore, record_api_call
from bot.app.settings import AppSettings
from bot.app.slugs import SlugStore
from bot.jobs.model import Job, JobOutcome
from bot.jobs.tasks import JobRunner

log = logging.getLogger(__name__)


def review_runner(metrics: MetricsStore | None) -> JobRunner:
    def run(job: Job, settings: AppSettings) -> JobOutcome:
        # Imported here: the receiver imports this package but never talks to GitHub.
        from bot.github import ApiCall, GitHubClient
        from bot.review.service import run_job

        def observe(call: ApiCall) -> None:
            if metrics is not None:
                record_api_call(metrics, call.method, call.path, call.status, call.rate_remaining)

        client = GitHubClient(settings, job.installation_id, on_call=observe)
        return run_job(job, settings, client=client)

    return run


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
