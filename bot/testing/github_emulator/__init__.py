"""A GitHub REST (+ minimal GraphQL) API emulator for tests and `mountie demo`.

An HTTP server on 127.0.0.1 (random port) that PyGithub can talk to over real HTTP. Every request is
checked against GitHub's OpenAPI description; requests GitHub would reject are answered like GitHub
(422/400/404 with GitHub-shaped bodies) and recorded in `GitHubEmulator.violations`.

The bundled `openapi-subset.json` comes from github/rest-api-description
(`descriptions/api.github.com/api.github.com.json`, via the npm package `@octokit/openapi` 23.0.2):
the operations a review bot uses, with all `$ref`s inlined (see shared/github/README.md, which
documents how it was cut).
"""

from bot.testing.github_emulator.clock import Clock, FakeClock, SystemClock
from bot.testing.github_emulator.dispatch import RequestRecord
from bot.testing.github_emulator.emulator import GitHubEmulator, ThreadView
from bot.testing.github_emulator.validation import Violation

__all__ = [
    "Clock",
    "FakeClock",
    "GitHubEmulator",
    "RequestRecord",
    "SystemClock",
    "ThreadView",
    "Violation",
]
