"""Read what a review needs, and lint the pull request's Dockerfiles at the head SHA.

`PullReader.read` sends ONE GraphQL query (`GitHubClient.read_pull`) for everything a review reads
besides the list of changed files:

- the configuration, from the default branch, at each of `CONFIG_LOCATIONS` (the first that
  exists wins, as for `mountie check`);
- each changed file that is a Dockerfile by its name, at the head SHA, and the ignore files of its
  build context: `<Dockerfile>.dockerignore` beside it, else `.dockerignore` in its directory,
  taken as the build context, as `mountie check` does;
- the review threads already on the pull request (Mountie's earlier comments, resolved or not).

A file only the configuration's `files.include` makes a Dockerfile is read by `analyse`, with its
ignore files, in one more query. A file's bytes are GraphQL's text when that is exactly the file
(`Blob.exact`); otherwise (binary, cut short around 500 KB, not UTF-8) the REST contents API
reads them, one call per such file. A Dockerfile over 1 MB, missing at that SHA, or not UTF-8 is
reported, not analysed.
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from dataclasses import dataclass

from bot.analysis.dockerignore import DockerIgnore
from bot.config import MAX_CONFIG_BYTES, ConfigError, RepoConfig, parse_config
from bot.config_locations import CONFIG_LOCATIONS
from bot.engine import MAX_BYTES, LintOptions, decode, lint_text
from bot.github import FileTooLargeError, GitHubClient
from bot.github.types import Blob, ReviewThread
from bot.review.model import ChangedFile, ExistingComment, FileReport
from bot.review.selection import select_dockerfiles

DEFAULT_BRANCH = "HEAD"  # in a GraphQL object expression: the default branch's head


def dockerignore_candidates(dockerfile: str) -> tuple[str, str]:
    directory, name = posixpath.split(dockerfile)
    return posixpath.join(directory, f"{name}.dockerignore"), posixpath.join(directory, ".dockerignore")


def existing_comments(threads: Sequence[ReviewThread]) -> list[ExistingComment]:
    """The review comments of `threads`: each thread's first comment, and replies to it."""
    comments: list[ExistingComment] = []
    for thread in threads:
        root = thread.comments[0].database_id if thread.comments else None
        for index, comment in enumerate(thread.comments):
            comments.append(
                ExistingComment(
                    id=comment.database_id,
                    path=thread.path,
                    line=comment.line,
                    body=comment.body,
                    author=comment.author,
                    in_reply_to_id=root if index else None,
                    resolved=thread.is_resolved,
                )
            )
    return comments


@dataclass(frozen=True, slots=True)
class PullContents:
    """What `PullReader.read` found besides the Dockerfiles themselves."""

    config: RepoConfig
    threads: tuple[ReviewThread, ...]

    @property
    def comments(self) -> list[ExistingComment]:
        return existing_comments(self.threads)


class PullReader:
    """Reads one pull request at one head SHA; each file is asked of GitHub at most once."""

    def __init__(self, client: GitHubClient, repo: str, number: int, head_sha: str) -> None:
        self._client = client
        self._repo = repo
        self._number = number
        self._sha = head_sha
        self._blobs: dict[str, Blob | None] = {}
        self._ignores: dict[str, DockerIgnore | None] = {}

    def read(self, changed: Sequence[ChangedFile]) -> PullContents:
        """The configuration and the threads, reading the likely Dockerfiles in the same query."""
        wanted = [f"{DEFAULT_BRANCH}:{location}" for location in CONFIG_LOCATIONS]
        wanted += self._expressions(select_dockerfiles(changed, RepoConfig()))
        snapshot = self._client.read_pull(self._repo, self._number, wanted)
        self._blobs.update(snapshot.blobs)
        return PullContents(self._config(), snapshot.threads)

    def analyse(self, files: Sequence[ChangedFile], config: RepoConfig) -> list[FileReport]:
        missing = [e for e in self._expressions(files) if e not in self._blobs]
        if missing:
            self._blobs.update(self._client.read_files(self._repo, missing))
        options = LintOptions.from_config(config)
        return [self._report(file, config, options) for file in files]

    def _expressions(self, files: Sequence[ChangedFile]) -> list[str]:
        paths = [path for file in files for path in (file.path, *dockerignore_candidates(file.path))]
        return [f"{self._sha}:{path}" for path in dict.fromkeys(paths)]

    def _bytes(self, path: str, revision: str) -> bytes | None:
        """The file's bytes (None: not there). Raises `FileTooLargeError` over 1 MB."""
        blob = self._blobs.get(f"{revision}:{path}")
        if blob is None:
            return None
        if blob.size > MAX_BYTES:
            raise FileTooLargeError(f"{path} is over 1 MB")
        exact = blob.exact
        if exact is not None:
            return exact
        return self._client.get_file(self._repo, path, None if revision == DEFAULT_BRANCH else revision)

    def _config(self) -> RepoConfig:
        for location in CONFIG_LOCATIONS:
            try:
                data = self._bytes(location, DEFAULT_BRANCH)
            except FileTooLargeError:
                error = ConfigError(1, f"configuration file is larger than {MAX_CONFIG_BYTES // 1024} KiB")
                return RepoConfig(source=location, errors=(error,))
            if data is not None:
                return parse_config(data, location)
        return RepoConfig()

    def _report(self, file: ChangedFile, config: RepoConfig, options: LintOptions) -> FileReport:
        try:
            data = self._bytes(file.path, self._sha)
        except FileTooLargeError:
            return FileReport(file, None, None, "file is over 1 MB; not analysed")
        if data is None:
            return FileReport(file, None, None, f"not found at {self._sha[:12]}")
        try:
            text = decode(data)
        except UnicodeDecodeError:
            return FileReport(file, None, None, "not UTF-8 text; not analysed")
        ignore = self._dockerignore(file.path)
        if ignore is not None:
            options = LintOptions.from_config(config, ignore)
        return FileReport(file, text, lint_text(text, file.path, options))

    def _dockerignore(self, dockerfile: str) -> DockerIgnore | None:
        for path in dockerignore_candidates(dockerfile):
            if path not in self._ignores:
                self._ignores[path] = self._read_ignore(path)
            if self._ignores[path] is not None:
                return self._ignores[path]
        return None

    def _read_ignore(self, path: str) -> DockerIgnore | None:
        try:
            data = self._bytes(path, self._sha)
        except FileTooLargeError:
            return None  # not a real ignore file; lint as if it were unknown
        return DockerIgnore.parse(data.decode("utf-8-sig", "replace"), path) if data is not None else None
