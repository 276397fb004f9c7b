"""`mountie review OWNER/REPO#N [--dry-run]`: the worker's review of one pull request, run now.

Credentials, from the environment over the env file (`--env-file`, default `.env`):

- the App's settings (`GITHUB_APP_ID` and `GITHUB_PRIVATE_KEY` or `GITHUB_PRIVATE_KEY_PATH`; no
  webhook secret needed): the installation is found with `GET /repos/{owner}/{repo}/installation`;
- else `GITHUB_TOKEN`, a user's token, for `--dry-run` only: GitHub accepts check runs from Apps
  alone, and a review posted with it would be the user's, not Mountie's. `--app-slug` names the
  App whose comments count as Mountie's (default `mountie`).

`--dry-run`: every read is real, every write is recorded instead (`bot.github.dryrun`), and what
Mountie would post is printed: the review (its body, and each inline comment with its lines and
suggestion), the check run (conclusion, title, number of annotations, summary) and the threads
it would resolve. Without `--dry-run` the review is posted, as the worker would post it.

Exit status: 0 when the review ran (whatever it found); 2 after one line on standard error when
the arguments or credentials are wrong, the pull request is not found, or GitHub refuses.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import uuid
from pathlib import Path
from typing import IO, Any

from bot.app.settings import DEFAULT_API_URL, AppSettings, SettingsError, load_settings, read_env_file
from bot.github import GitHubClient, GitHubError, GoneError
from bot.github.client import UserToken
from bot.github.dryrun import DryRunClient, Posted
from bot.jobs.model import JobOutcome

EXIT_OK = 0
EXIT_ERROR = 2
DEFAULT_ENV_FILE = ".env"
WHERE = "mountie review"
_NAME = r"[A-Za-z0-9_.-]+"
_PULL = re.compile(rf"(?P<repo>{_NAME}/{_NAME})#(?P<number>[1-9][0-9]*)")
# Passed to every client this command makes (tests switch PyGithub's throttling off with it).
CLIENT_OPTIONS: dict[str, Any] = {}
_PULL_URL = re.compile(rf"https?://[^/\s]+/(?P<repo>{_NAME}/{_NAME})/pull/(?P<number>[1-9][0-9]*)/?")


class ReviewCommandError(Exception):
    """Ends the command with its message on one line, and exit status 2."""


def parse_pull(text: str) -> tuple[str, int]:
    """`owner/repo#7`, or the pull request's web address."""
    match = _PULL.fullmatch(text.strip()) or _PULL_URL.fullmatch(text.strip())
    if match is None:
        raise ReviewCommandError(f"expected OWNER/REPO#NUMBER or a pull request's URL, got {text!r}")
    return match["repo"], int(match["number"])


def credentials(args: argparse.Namespace) -> AppSettings | UserToken:
    env_file = Path(args.env_file or DEFAULT_ENV_FILE)
    if args.env_file and not env_file.is_file():
        raise ReviewCommandError(f"--env-file {args.env_file}: no such file")
    try:
        variables = read_env_file(env_file) if env_file.is_file() else {}
        variables.update(os.environ)
        if variables.get("GITHUB_APP_ID", "").strip():
            return load_settings(variables, webhook=False)
    except SettingsError as error:
        raise ReviewCommandError(str(error)) from None
    token = variables.get("GITHUB_TOKEN", "").strip()
    if not token:
        raise ReviewCommandError(
            "needs the App's settings (GITHUB_APP_ID, GITHUB_PRIVATE_KEY or GITHUB_PRIVATE_KEY_PATH) "
            "or, with --dry-run, a GITHUB_TOKEN"
        )
    if not args.dry_run:
        raise ReviewCommandError(
            "GITHUB_TOKEN is a user's token: it can only --dry-run (posting needs the App's settings)"
        )
    api_url = variables.get("GITHUB_API_URL", "").strip() or DEFAULT_API_URL
    return UserToken(token, api_url=api_url.rstrip("/"), app_slug=args.app_slug)


def run_review(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        repo, number = parse_pull(args.pull)
        found = credentials(args)
        client = _client(found, repo, dry_run=args.dry_run)
        outcome = _review(client, repo, number)
    except ReviewCommandError as error:
        print(f"{WHERE}: error: {error}", file=err)
        return EXIT_ERROR
    if isinstance(client, DryRunClient):
        out.write(render_dry_run(repo, number, outcome, client.posted, client.calls))
    else:
        out.write(f"{repo}#{number}: {_outcome(outcome)} ({client.calls} API calls).\n")
    out.flush()
    return EXIT_OK


def _client(found: AppSettings | UserToken, repo: str, *, dry_run: bool) -> GitHubClient:
    kind = DryRunClient if dry_run else GitHubClient
    if isinstance(found, UserToken):
        return kind(found, 0, **CLIENT_OPTIONS)
    try:
        return kind.for_repository(found, repo, **CLIENT_OPTIONS)
    except GoneError:
        raise ReviewCommandError(
            f"the App {found.app_id} is not installed on {repo} (or it does not exist)"
        ) from None
    except GitHubError as error:
        raise ReviewCommandError(f"GitHub refused to find the App's installation: {error}") from None


def _review(client: GitHubClient, repo: str, number: int) -> JobOutcome:
    from bot.review.service import review_pull_request

    try:
        return review_pull_request(client, repo, number, run_id=f"cli-{uuid.uuid4().hex[:12]}")
    except GoneError:
        raise ReviewCommandError(
            f"{repo}#{number}: no such pull request, or these credentials cannot see it"
        ) from None
    except GitHubError as error:
        raise ReviewCommandError(f"{repo}#{number}: {error}") from None


def _outcome(outcome: JobOutcome) -> str:
    return {
        JobOutcome.REVIEWED: "reviewed; see the pull request",
        JobOutcome.SUPERSEDED: "a new commit arrived during the review; nothing was posted",
        JobOutcome.SKIPPED: "the pull request is closed; nothing to review",
        JobOutcome.DENIED: "not allowed",
        JobOutcome.FAILED: "the review failed; its check run says why",
    }[outcome]


def _lines(first: int | None, last: int) -> str:
    return f"lines {first}-{last}" if first is not None and first < last else f"line {last}"


def render_dry_run(repo: str, number: int, outcome: JobOutcome, posted: Posted, calls: int) -> str:
    """What a dry run would have posted, as plain text."""
    parts = [f"Dry run of {repo}#{number}: {_outcome(outcome).split(';')[0]}. Nothing was posted."]
    if outcome is JobOutcome.REVIEWED and not posted.reviews:
        parts.append("== Review: none (nothing new to post) ==")
    for review in posted.reviews:
        count = len(review.comments)
        parts.append(
            f"== Review (COMMENT) at {review.commit_id[:12]}, {count} inline "
            f"comment{'' if count == 1 else 's'} ==\n{review.body.rstrip()}"
        )
        for index, comment in enumerate(review.comments, 1):
            where = f"{comment.path} {_lines(comment.start_line, comment.line)}"
            parts.append(f"== Inline comment {index} of {count}: {where} ==\n{comment.body.rstrip()}")
    for run in posted.check_runs.values():
        parts.append(
            f'== Check run "{run.name}" at {run.head_sha[:12]}: {run.conclusion or "in progress"} ==\n'
            f"Title: {run.title}\nAnnotations: {len(run.annotations)}\nSummary:\n{run.summary.rstrip()}"
        )
    if posted.resolved_threads:
        parts.append(f"== Threads to resolve: {len(posted.resolved_threads)} ==")
    for issue, body in posted.issue_comments:
        parts.append(f"== Comment on #{issue} ==\n{body.rstrip()}")
    parts.append(f"{calls} GitHub API calls, all of them reads.")
    return "\n\n".join(parts) + "\n"
