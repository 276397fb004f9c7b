"""Read a pull request's Dockerfiles at the head SHA and lint them.

A file over 1 MB, missing at that SHA, or not UTF-8 is reported, not analysed. The build
context's `.dockerignore` is fetched only when a finding's message depends on it: the rules say
so in the message ("... that .dockerignore does not exclude ...") exactly when the ignore file
would change the verdict, so the file is linted once without it, and again with it if one exists
(`<Dockerfile>.dockerignore` beside the Dockerfile, else `.dockerignore` in its directory, taken
as the build context, as `mountie check` does).
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence

from bot.analysis.dockerignore import DockerIgnore
from bot.config import RepoConfig
from bot.engine import LintOptions, LintResult, decode, lint_text
from bot.github import FileTooLargeError, GitHubClient
from bot.review.model import ChangedFile, FileReport

DOCKERIGNORE_HINT = ".dockerignore"


def needs_dockerignore(result: LintResult) -> bool:
    return any(DOCKERIGNORE_HINT in finding.message for finding in result.findings)


def dockerignore_candidates(dockerfile: str) -> tuple[str, str]:
    directory, name = posixpath.split(dockerfile)
    return posixpath.join(directory, f"{name}.dockerignore"), posixpath.join(directory, ".dockerignore")


class Analyser:
    """Lints the Dockerfiles of one pull request at one SHA (ignore files fetched once each)."""

    def __init__(self, client: GitHubClient, repo: str, head_sha: str, config: RepoConfig) -> None:
        self._client = client
        self._repo = repo
        self._sha = head_sha
        self._config = config
        self._ignores: dict[str, DockerIgnore | None] = {}

    def analyse(self, files: Sequence[ChangedFile]) -> list[FileReport]:
        return [self._report(file) for file in files]

    def _report(self, file: ChangedFile) -> FileReport:
        try:
            data = self._client.get_file(self._repo, file.path, self._sha)
        except FileTooLargeError:
            return FileReport(file, None, None, "file is over 1 MB; not analysed")
        if data is None:
            return FileReport(file, None, None, f"not found at {self._sha[:12]}")
        try:
            text = decode(data)
        except UnicodeDecodeError:
            return FileReport(file, None, None, "not UTF-8 text; not analysed")
        result = lint_text(text, file.path, LintOptions.from_config(self._config))
        if needs_dockerignore(result):
            ignore = self._dockerignore(file.path)
            if ignore is not None:
                result = lint_text(text, file.path, LintOptions.from_config(self._config, ignore))
        return FileReport(file, text, result)

    def _dockerignore(self, dockerfile: str) -> DockerIgnore | None:
        for path in dockerignore_candidates(dockerfile):
            if path not in self._ignores:
                self._ignores[path] = self._fetch_ignore(path)
            if self._ignores[path] is not None:
                return self._ignores[path]
        return None

    def _fetch_ignore(self, path: str) -> DockerIgnore | None:
        try:
            data = self._client.get_file(self._repo, path, self._sha)
        except FileTooLargeError:
            return None  # not a real ignore file; lint as if it were unknown
        return DockerIgnore.parse(data.decode("utf-8", "replace"), path) if data is not None else None
