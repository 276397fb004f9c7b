"""What can go wrong talking to GitHub, as the worker needs to tell it apart."""

from __future__ import annotations


class GitHubError(Exception):
    """A request GitHub refused or that could not be completed."""

    def __init__(self, message: str, status: int | None = None, errors: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.status = status
        self.errors = errors  # GitHub's `errors` list (messages or codes), when it sent one


class GoneError(GitHubError):
    """404: the pull request, repository or installation no longer exists, or the App lost access.

    Ends a job quietly: there is nobody left to report to."""


class ForbiddenError(GitHubError):
    """403 that is not a rate limit: the installation lacks a permission."""


class UnprocessableError(GitHubError):
    """422: GitHub understood the request and rejected it (e.g. a comment line outside the diff)."""


class RateLimitError(GitHubError):
    """Still rate limited after the waits we are willing to make."""


class WriteOutcomeUnknownError(GitHubError):
    """A write failed in a way (5xx, lost connection, timeout) that GitHub may still have applied.

    Never re-sent blindly: the caller looks for what the write would have created first."""


class FileTooLargeError(GitHubError):
    """A file over the 1 MB the contents API serves as JSON (and that the engine analyses)."""


def is_retryable(error: GitHubError) -> bool:
    """Worth running the job again later: GitHub's or the network's trouble, not the request's."""
    if isinstance(error, RateLimitError | WriteOutcomeUnknownError):
        return True
    if isinstance(error, GoneError | ForbiddenError | UnprocessableError | FileTooLargeError):
        return False
    return error.status is None or error.status >= 500
