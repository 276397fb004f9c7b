"""`GitHubEmulator`: start/stop, state setup, inspection and fault-injection helpers for tests."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Literal

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

from bot.testing.github_emulator.auth import issue_installation_token
from bot.testing.github_emulator.clock import Clock, SystemClock
from bot.testing.github_emulator.context import Settings
from bot.testing.github_emulator.dispatch import Dispatcher, RequestRecord
from bot.testing.github_emulator.faults import Fault, Faults, RateLimits
from bot.testing.github_emulator.handlers.reviews import (
    add_review_comment,
    is_outdated,
    new_review,
    reply_placement,
    thread_root,
)
from bot.testing.github_emulator.placement import PlacementError, place
from bot.testing.github_emulator.server import BackgroundServer
from bot.testing.github_emulator.state import (
    DEFAULT_APP_EVENTS,
    DEFAULT_APP_PERMISSIONS,
    App,
    CheckRun,
    Commit,
    Installation,
    IssueComment,
    PermissionLevel,
    PullRequest,
    Reaction,
    Repo,
    Review,
    ReviewComment,
    Store,
    Token,
    User,
)
from bot.testing.github_emulator.validation import Spec, Violation

FileContent = bytes | str
KeyMaterial = RSAPrivateKey | RSAPublicKey | bytes | str


@dataclass(frozen=True)
class ThreadView:
    """A review thread as a test sees it: GraphQL node id, resolution, and its comments in order."""

    id: int
    node_id: str
    is_resolved: bool
    resolved_by: str | None
    comments: list[ReviewComment]


def _public_pem(key: KeyMaterial) -> bytes:
    if isinstance(key, str):
        key = key.encode()
    if isinstance(key, bytes):
        if b"PRIVATE KEY" in key:
            loaded = serialization.load_pem_private_key(key, password=None)
            assert isinstance(loaded, RSAPrivateKey), "GitHub App keys are RSA"
            key = loaded
        else:
            return key
    public = key.public_key() if isinstance(key, RSAPrivateKey) else key
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def _encode(content: FileContent) -> bytes:
    return content.encode("utf-8") if isinstance(content, str) else content


class GitHubEmulator:
    """An api.github.com look-alike on 127.0.0.1 for PyGithub-driven tests and `mountie demo`.

    Usage::

        with GitHubEmulator() as emu:
            base = emu.add_repo("octo/app", files={"Dockerfile": "FROM alpine\\n"})
            head = emu.add_commit("octo/app", {"Dockerfile": "FROM alpine:3.20\\n"})
            emu.add_pull_request("octo/app", 1, base, head, author="alice")
            gh = github.Github(base_url=emu.url, auth=github.Auth.Token(emu.add_user_token("t")))
    """

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        strict_responses: bool = False,
        token_lifetime: float = 3600.0,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.clock: Clock = clock or SystemClock()
        self.store = Store()
        self.settings = Settings(token_lifetime=token_lifetime)
        self._faults = Faults()
        self._rate_limits = RateLimits(self.clock)
        self._dispatcher = Dispatcher(
            self.store,
            Spec.load(),
            self.clock,
            settings=self.settings,
            faults=self._faults,
            rate_limits=self._rate_limits,
            strict_responses=strict_responses,
        )
        self._host, self._port = host, port
        self._server: BackgroundServer | None = None

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> GitHubEmulator:
        if self._server is None:
            self._server = BackgroundServer(self._dispatcher, self._host, self._port)
            self._dispatcher.base_url = self._server.url
            self._server.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> GitHubEmulator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Base URL to give PyGithub as `base_url`, e.g. http://127.0.0.1:54321."""
        if self._server is None:
            raise RuntimeError("GitHubEmulator is not started")
        return self._server.url

    @property
    def token_lifetime(self) -> float:
        return self.settings.token_lifetime

    @token_lifetime.setter
    def token_lifetime(self, seconds: float) -> None:
        self.settings.token_lifetime = seconds

    # -- setup: apps, installations, users, tokens --------------------------------------------------

    def add_app(
        self,
        app_id: int,
        slug: str,
        key: KeyMaterial,
        *,
        name: str | None = None,
        client_id: str | None = None,
        owner: str = "mountie-dev",
        permissions: Mapping[str, str] | None = None,
        events: Sequence[str] | None = None,
    ) -> App:
        """Register a GitHub App; `key` is its RSA private or public key (object or PEM)."""
        with self.store.lock:
            app = App(
                id=app_id,
                slug=slug,
                name=name or slug.capitalize(),
                public_key_pem=_public_pem(key),
                client_id=client_id or f"Iv1.{hashlib.sha1(str(app_id).encode()).hexdigest()[:16]}",
                owner=owner,
                permissions=dict(permissions or DEFAULT_APP_PERMISSIONS),
                events=list(events or DEFAULT_APP_EVENTS),
                created_at=self.clock.now(),
            )
            self.store.apps[app_id] = app
            self.store.user(owner)
            self.store.user(app.bot_login, "Bot")
            return app

    def add_installation(
        self,
        installation_id: int,
        app_id: int,
        account: str,
        *,
        repositories: Sequence[str] | None = None,
        permissions: Mapping[str, str] | None = None,
    ) -> Installation:
        """Install an app on `account`: on all its repos, or only `repositories` ("owner/name")."""
        with self.store.lock:
            app = self.store.apps[app_id]
            installation = Installation(
                id=installation_id,
                app_id=app_id,
                account=account,
                repositories=set(repositories) if repositories is not None else None,
                permissions=dict(permissions or app.permissions),
                created_at=self.clock.now(),
            )
            self.store.installations[installation_id] = installation
            self.store.user(account)
            return installation

    def issue_installation_token(self, installation_id: int) -> str:
        """An installation token without the JWT exchange (for tests that are not about auth)."""
        with self.store.lock:
            installation = self.store.installations[installation_id]
            return issue_installation_token(
                self.store, installation, self.clock.now(), self.settings.token_lifetime
            ).token

    def add_user(self, login: str, *, bot: bool = False) -> User:
        with self.store.lock:
            return self.store.user(login, "Bot" if bot else "User")

    def add_user_token(self, token: str, login: str = "octocat", *, expires_in: float | None = None) -> str:
        """A personal access token acting as `login` (read access, e.g. for `mountie --dry-run`)."""
        with self.store.lock:
            self.store.user(login)
            expires = None if expires_in is None else self.clock.now() + expires_in
            self.store.tokens[token] = Token(token=token, kind="user", expires_at=expires, login=login)
            return token

    def create_manifest_code(
        self, manifest: Mapping[str, object] | None = None, owner: str = "mountie-dev"
    ) -> str:
        """The `code` GitHub appends to the manifest flow's redirect URL (single use, one hour)."""
        return self._dispatcher.create_manifest_code(manifest or {}, owner)

    # -- setup: repositories, commits, pull requests ------------------------------------------------

    def add_repo(
        self,
        full_name: str,
        *,
        default_branch: str = "main",
        files: Mapping[str, FileContent] | None = None,
        private: bool = False,
        message: str = "Initial commit",
    ) -> str:
        """Create a repository whose default branch holds `files`; returns that commit's SHA."""
        owner, name = full_name.split("/")
        with self.store.lock:
            if full_name.lower() in self.store.repos:
                raise ValueError(f"repository {full_name} already exists")
            self.store.user(owner)
            repo = Repo(
                id=self.store.next_id(),
                owner=owner,
                name=name,
                default_branch=default_branch,
                private=private,
                commits={},
                branches={},
                created_at=self.clock.now(),
            )
            self.store.repos[full_name.lower()] = repo
            sha = self._commit(repo, {p: _encode(c) for p, c in (files or {}).items()}, None, message)
            repo.branches[default_branch] = sha
            return sha

    def add_commit(
        self,
        repo: str,
        files: Mapping[str, FileContent | None],
        *,
        parent: str | None = None,
        branch: str | None = None,
        replace: bool = False,
        message: str = "Update files",
    ) -> str:
        """Commit `files` on top of `parent` (default: head of `branch` or of the default branch).

        Values of None delete the path; `replace=True` makes `files` the whole tree. Moves `branch` if given.
        """
        with self.store.lock:
            record = self._repo(repo)
            if parent is None:
                parent = record.branches.get(
                    branch or record.default_branch, record.branches[record.default_branch]
                )
            if parent not in record.commits:
                raise ValueError(f"unknown parent commit {parent}")
            tree = {} if replace else dict(record.commits[parent].tree)
            for path, content in files.items():
                if content is None:
                    tree.pop(path, None)
                else:
                    tree[path] = _encode(content)
            sha = self._commit(record, tree, parent, message)
            if branch is not None:
                record.branches[branch] = sha
            return sha

    def _commit(self, repo: Repo, tree: dict[str, bytes], parent: str | None, message: str) -> str:
        digest = hashlib.sha1()
        digest.update(f"{repo.full_name}\0{parent}\0{message}\0{self.store.next_id()}".encode())
        for path in sorted(tree):
            digest.update(path.encode() + b"\0" + hashlib.sha1(tree[path]).digest())
        sha = digest.hexdigest()
        repo.commits[sha] = Commit(sha, tree, parent, message, self.clock.now())
        return sha

    def add_pull_request(
        self,
        repo: str,
        number: int,
        base_sha: str,
        head_sha: str,
        author: str,
        *,
        draft: bool = False,
        from_fork: bool = False,
        title: str | None = None,
        body: str | None = None,
        head_ref: str | None = None,
    ) -> PullRequest:
        """Open PR #`number` from `head_sha` onto `base_sha`; files and patches come from the two trees."""
        with self.store.lock:
            record = self._repo(repo)
            for sha in (base_sha, head_sha):
                if sha not in record.commits:
                    raise ValueError(f"unknown commit {sha} in {repo}")
            if (record.full_name.lower(), number) in self.store.pulls:
                raise ValueError(f"pull request #{number} already exists in {repo}")
            self.store.user(author)
            head_ref = head_ref or f"feature-{number}"
            head_repo = record
            if from_fork:
                head_repo = self._fork(record, author)
            head_repo.branches[head_ref] = head_sha
            now = self.clock.now()
            pr = PullRequest(
                id=self.store.next_id(),
                number=number,
                repo=record.full_name,
                head_repo=head_repo.full_name,
                author=author,
                title=title or f"Update Dockerfile (#{number})",
                body=body,
                base_ref=record.default_branch,
                head_ref=head_ref,
                base_sha=base_sha,
                head_sha=head_sha,
                draft=draft,
                state="open",
                created_at=now,
                updated_at=now,
                files=self.store.compute_files(record, base_sha, head_sha),
            )
            self.store.pulls[(record.full_name.lower(), number)] = pr
            return pr

    def _fork(self, base: Repo, owner: str) -> Repo:
        key = f"{owner}/{base.name}".lower()
        if key not in self.store.repos:
            # Fork commits are shared with the base repo, as GitHub exposes them via refs/pull/N/head.
            self.store.repos[key] = Repo(
                id=self.store.next_id(),
                owner=owner,
                name=base.name,
                default_branch=base.default_branch,
                private=base.private,
                commits=base.commits,
                branches=dict(base.branches),
                fork_of=base.full_name,
                created_at=self.clock.now(),
            )
        return self.store.repos[key]

    def push(self, repo: str, pr_number: int, new_head_sha: str) -> None:
        """Move the PR head (a `synchronize`): recompute files and mark comments outdated where needed."""
        with self.store.lock:
            record = self._repo(repo)
            pr = self.store.pull(record, pr_number)
            if new_head_sha not in record.commits:
                raise ValueError(f"unknown commit {new_head_sha} in {repo}")
            pr.head_sha = new_head_sha
            pr.updated_at = self.clock.now()
            pr.files = self.store.compute_files(record, pr.base_sha, new_head_sha)
            self.store.repos[pr.head_repo.lower()].branches[pr.head_ref] = new_head_sha
            for comment in self.store.review_comments.values():
                if (comment.repo, comment.pr_number) != (pr.repo, pr.number) or comment.outdated:
                    continue
                if is_outdated(record, pr, comment.path, comment.commit_id):
                    comment.outdated = True
                    comment.line = comment.start_line = comment.position = None
                else:
                    comment.commit_id = new_head_sha

    def set_permission(self, repo: str, user: str, level: PermissionLevel) -> None:
        """Collaborator permission of `user` on `repo`: admin, maintain, write, triage, read or none."""
        with self.store.lock:
            self.store.user(user)
            self._repo(repo).permissions[user.lower()] = level

    def add_issue_comment(self, repo: str, number: int, author: str, body: str) -> int:
        """A PR conversation comment by someone else (e.g. a `/mountie recheck` command); returns its id."""
        with self.store.lock:
            record = self._repo(repo)
            pr = self.store.pull(record, number)
            now = self.clock.now()
            comment = IssueComment(
                self.store.next_id(),
                record.full_name,
                pr.number,
                self.store.user(author).login,
                body,
                now,
                now,
            )
            self.store.issue_comments[comment.id] = comment
            return comment.id

    def add_review_comment(
        self,
        repo: str,
        number: int,
        author: str,
        body: str,
        *,
        path: str | None = None,
        line: int | None = None,
        side: Literal["LEFT", "RIGHT"] = "RIGHT",
        in_reply_to: int | None = None,
    ) -> int:
        """A submitted review comment by someone else: a new thread at (path, line), or a reply."""
        with self.store.lock:
            record = self._repo(repo)
            pr = self.store.pull(record, number)
            login = self.store.user(author).login
            root = None
            if in_reply_to is not None:
                root = thread_root(self.store, self.store.review_comments[in_reply_to])
                placement = reply_placement(root)
            else:
                try:
                    placement = place(pr.files, {"path": path, "line": line, "side": side})
                except PlacementError as exc:
                    raise ValueError(exc.rejection.sentence) from exc
            commit_id = root.original_commit_id if root else pr.head_sha
            now = self.clock.now()
            review = new_review(
                self.store, record, pr, user=login, state="COMMENTED", body="", commit_id=commit_id, now=now
            )
            return add_review_comment(
                self.store,
                record,
                pr,
                review,
                user=login,
                placement=placement,
                body=body,
                commit_id=commit_id,
                now=now,
                in_reply_to=root,
            ).id

    def _repo(self, full_name: str) -> Repo:
        found = self.store.repos.get(full_name.lower())
        if found is None:
            raise KeyError(f"no repository {full_name}")
        return found

    # -- inspection --------------------------------------------------------------------------------

    def pull_request(self, repo: str, number: int) -> PullRequest:
        with self.store.lock:
            return self.store.pull(self._repo(repo), number)

    def reviews(self, repo: str, number: int) -> list[Review]:
        with self.store.lock:
            name = self._repo(repo).full_name
            return sorted(
                (r for r in self.store.reviews.values() if (r.repo, r.pr_number) == (name, number)),
                key=lambda r: r.id,
            )

    def review_comments(self, repo: str, number: int) -> list[ReviewComment]:
        with self.store.lock:
            name = self._repo(repo).full_name
            return sorted(
                (c for c in self.store.review_comments.values() if (c.repo, c.pr_number) == (name, number)),
                key=lambda c: c.id,
            )

    def review_threads(self, repo: str, number: int) -> list[ThreadView]:
        with self.store.lock:
            name = self._repo(repo).full_name
            return [
                ThreadView(
                    t.id,
                    t.node_id,
                    t.is_resolved,
                    t.resolved_by,
                    [self.store.review_comments[i] for i in t.comment_ids],
                )
                for t in sorted(self.store.threads.values(), key=lambda t: t.id)
                if (t.repo, t.pr_number) == (name, number)
            ]

    def check_runs(self, repo: str, head_sha: str | None = None) -> list[CheckRun]:
        """Check runs, oldest first; each carries every annotation sent across create and updates."""
        with self.store.lock:
            name = self._repo(repo).full_name
            return sorted(
                (
                    r
                    for r in self.store.check_runs.values()
                    if r.repo == name and (head_sha is None or r.head_sha == head_sha)
                ),
                key=lambda r: r.id,
            )

    def issue_comments(self, repo: str, number: int) -> list[IssueComment]:
        with self.store.lock:
            name = self._repo(repo).full_name
            return sorted(
                (c for c in self.store.issue_comments.values() if (c.repo, c.issue_number) == (name, number)),
                key=lambda c: c.id,
            )

    def reactions(self, repo: str, comment_id: int) -> list[Reaction]:
        """Reactions on an issue comment or a review comment."""
        with self.store.lock:
            name = self._repo(repo).full_name
            issue_comment = self.store.issue_comments.get(comment_id)
            if issue_comment is not None and issue_comment.repo == name:
                return list(issue_comment.reactions)
            return list(self.store.review_comment_reactions.get(comment_id, []))

    @property
    def requests(self) -> list[RequestRecord]:
        """Every request received, in arrival order (method, path, query, operation_id, status, fault)."""
        return list(self._dispatcher.requests)

    def count_requests(
        self, *, method: str | None = None, operation: str | None = None, status: int | None = None
    ) -> int:
        return sum(
            1
            for r in self._dispatcher.requests
            if (method is None or r.method == method)
            and (operation is None or r.operation_id == operation)
            and (status is None or r.status == status)
        )

    def clear_requests(self) -> None:
        self._dispatcher.requests.clear()

    @property
    def violations(self) -> list[Violation]:
        """Requests that break GitHub's OpenAPI description (and, if strict, off-spec emulator answers)."""
        return list(self._dispatcher.violations)

    def take_violations(self) -> list[Violation]:
        """Return and forget the violations so far (for tests that send invalid requests on purpose)."""
        taken = list(self._dispatcher.violations)
        self._dispatcher.violations.clear()
        return taken

    # -- fault injection ---------------------------------------------------------------------------

    def fail_next(
        self, n: int = 1, status: int = 502, *, after_write: bool = False, operation: str | None = None
    ) -> None:
        """Answer the next `n` requests (of `operation`, if given) with `status`.

        `after_write=True`: the next `n` writes are applied and *then* answered with `status`
        (the write succeeded but the client never learns it).
        """
        self._faults.add(Fault("fail", n, status=status, after_write=after_write, operation=operation))

    def drop_next(self, n: int = 1, *, after_write: bool = False, operation: str | None = None) -> None:
        """Close the connection without answering the next `n` requests (writes applied if after_write)."""
        self._faults.add(Fault("drop", n, after_write=after_write, operation=operation))

    def delay_next(
        self, n: int = 1, seconds: float = 1.0, *, after_write: bool = False, operation: str | None = None
    ) -> None:
        """Stall the next `n` requests for `seconds` of real time (to trip client timeouts)."""
        self._faults.add(Fault("delay", n, seconds=seconds, after_write=after_write, operation=operation))

    def set_failure_rate(
        self,
        rate: float,
        statuses: Sequence[int] = (502,),
        seed: int | None = 0,
        *,
        after_write: bool = False,
    ) -> None:
        """Fail a random `rate` fraction of requests (of writes, after applying them, if after_write)."""
        self._faults.set_failure_rate(rate, statuses, seed, after_write)

    def clear_faults(self) -> None:
        self._faults.clear()

    def secondary_rate_limit(self, seconds: float = 60, *, writes_only: bool = False) -> None:
        """From now (emulator clock) for `seconds`: 403 + `Retry-After` (only on writes if writes_only)."""
        self._rate_limits.trigger_secondary(seconds, writes_only=writes_only)

    def set_rate_limit(self, limit: int = 5000, *, remaining: int | None = None) -> None:
        """Primary hourly limit per installation/user; `remaining` starts every bucket part-spent."""
        self._rate_limits.set_limit(limit, remaining=remaining)


__all__ = ["GitHubEmulator", "ThreadView"]
