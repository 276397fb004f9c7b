"""GitHub access for the worker. The only package that imports PyGithub (`github`) and PyJWT."""

from bot.github.client import ApiCall, GitHubClient
from bot.github.errors import (
    FileTooLargeError,
    ForbiddenError,
    GitHubError,
    GoneError,
    RateLimitError,
    UnprocessableError,
    WriteOutcomeUnknownError,
    is_retryable,
)
from bot.github.retry import RetryPolicy

__all__ = [
    "ApiCall",
    "FileTooLargeError",
    "ForbiddenError",
    "GitHubClient",
    "GitHubError",
    "GoneError",
    "RateLimitError",
    "RetryPolicy",
    "UnprocessableError",
    "WriteOutcomeUnknownError",
    "is_retryable",
]
