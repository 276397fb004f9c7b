"""In-memory model of the GitHub objects the emulator serves, plus lookups that 404 like GitHub.

Every record is a plain dataclass; tests may read them directly (they are live objects, so read
them after the requests under test have completed). All mutation happens under `Store.lock`.
"""

from __future__ import annotations

import hashlib
import itertools
import threading
from dataclasses import dataclass, field
from typing import Any, Literal

from bot.testing.github_emulator.diff import FileChange, compare_trees
from bot.testing.github_emulator.errors import not_found

ReviewState = Literal["PENDING", "COMMENTED", "APPROVED", "CHANGES_REQUESTED", "DISMISSED"]
PermissionLevel = Literal["admin", "maintain", "write", "triage", "read", "none"]
TokenKind = Literal["installation", "user"]

DEFAULT_APP_PERMISSIONS: dict[str, str] = {
    "contents": "read",
    "pull_requests": "write",
    "issues": "write",
    "checks": "write",
    "metadata": "read",
}
DEFAULT_APP_EVENTS: list[str] = ["pull_request", "issue_comment", "check_run", "check_suite"]


@dataclass
class User:
    login: str
    id: int
    type: Literal["User", "Bot", "Organization"] = "User"


@dataclass
class App:
    id: int
    slug: str
    name: str
    public_key_pem: bytes
    client_id: str
    owner: str
    permissions: dict[str, str]
    events: list[str]
    created_at: float

    @property
    def bot_login(self) -> str:
        return f"{self.slug}[bot]"


@dataclass
class Installation:
    id: int
    app_id: int
    account: str
    repositories: set[str] | None  # full names; None means "all repositories of the account"
    permissions: dict[str, str]
    created_at: float

    def covers(self, repo: Repo) -> bool:
        if self.repositories is None:
            return repo.owner.lower() == self.account.lower()
        return repo.full_name.lower() in {r.lower() for r in self.repositories}


@dataclass
class Token:
    token: str
    kind: TokenKind
    expires_at: float | None
    login: str  # the acting user: "<slug>[bot]" for installation tokens
    installation_id: int | None = None
    permissions: dict[str, str] = field(default_factory=dict)
    repositories: set[str] | None = None  # down-scoped repo list, None = everything the installation has


@dataclass
class Commit:
    sha: str
    tree: dict[str, bytes]
    parent: str | None
    message: str
    created_at: float


@dataclass
class Repo:
    id: int
    owner: str
    name: str
    default_branch: str
    private: bool
    commits: dict[str, Commit]
    branches: dict[str, str]
    permissions: dict[str, PermissionLevel] = field(default_factory=dict)  # login (lowercase) -> level
    fork_of: str | None = None
    created_at: float = 0.0

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    def resolve(self, ref: str) -> Commit | None:
        """A commit by full SHA, unambiguous SHA prefix (>= 7 chars), branch name or refs/heads/ name."""
        ref = ref.removeprefix("refs/heads/")
        if ref in self.branches:
            return self.commits[self.branches[ref]]
        if ref in self.commits:
            return self.commits[ref]
        if len(ref) >= 7:
            matches = [c for sha, c in self.commits.items() if sha.startswith(ref)]
            if len(matches) == 1:
                return matches[0]
        return None


@dataclass
class PullRequest:
    id: int
    number: int
    repo: str  # base repository full name
    head_repo: str  # differs from `repo` for fork PRs
    author: str
    title: str
    body: str | None
    base_ref: str
    head_ref: str
    base_sha: str
    head_sha: str
    draft: bool
    state: Literal["open", "closed"]
    created_at: float
    updated_at: float
    files: list[FileChange]


@dataclass
class Review:
    id: int
    repo: str
    pr_number: int
    user: str
    body: str
    state: ReviewState
    commit_id: str
    submitted_at: float | None
    created_at: float


@dataclass
class ReviewComment:
    id: int
    repo: str
    pr_number: int
    review_id: int
    user: str
    body: str
    path: str
    commit_id: str  # the PR head at creation; see `outdated`
    original_commit_id: str
    line: int | None
    side: str | None
    start_line: int | None
    start_side: str | None
    original_line: int | None
    original_start_line: int | None
    position: int | None
    original_position: int | None
    diff_hunk: str
    subject_type: Literal["line", "file"]
    in_reply_to_id: int | None
    thread_id: int
    created_at: float
    updated_at: float
    outdated: bool = False


@dataclass
class ReviewThread:
    """Grouping of review comments; GitHub exposes threads (and their resolution) only via GraphQL."""

    id: int
    repo: str
    pr_number: int
    comment_ids: list[int]
    is_resolved: bool = False
    resolved_by: str | None = None

    @property
    def node_id(self) -> str:
        return node_id("PRRT", self.id)


@dataclass
class Annotation:
    path: str
    start_line: int
    end_line: int
    annotation_level: str
    message: str
    title: str | None = None
    raw_details: str | None = None
    start_column: int | None = None
    end_column: int | None = None


@dataclass
class CheckRun:
    id: int
    repo: str
    app_id: int | None
    name: str
    head_sha: str
    status: str
    conclusion: str | None
    started_at: float | None
    completed_at: float | None
    details_url: str | None
    external_id: str | None
    title: str | None
    summary: str | None
    text: str | None
    annotations: list[Annotation] = field(default_factory=list)  # accumulated across create + updates
    actions: list[dict[str, Any]] = field(default_factory=list)
    check_suite_id: int = 0


@dataclass
class Reaction:
    id: int
    user: str
    content: str
    created_at: float


@dataclass
class IssueComment:
    id: int
    repo: str
    issue_number: int
    user: str
    body: str
    created_at: float
    updated_at: float
    reactions: list[Reaction] = field(default_factory=list)
    performed_via_app: int | None = None


@dataclass
class ManifestCode:
    code: str
    created_at: float
    manifest: dict[str, Any]
    owner: str
    used: bool = False


def node_id(prefix: str, number: int) -> str:
    """Opaque global node id in GitHub's new style (`PRRT_kwDO...`)."""
    digest = hashlib.sha1(f"{prefix}:{number}".encode()).hexdigest()[:12]
    return f"{prefix}_kwDO{digest}{number}"


class Store:
    """All emulator state. Handlers hold `lock` for the whole request, so each request is atomic."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._ids = itertools.count(1001)
        self.users: dict[str, User] = {}
        self.apps: dict[int, App] = {}
        self.installations: dict[int, Installation] = {}
        self.tokens: dict[str, Token] = {}
        self.repos: dict[str, Repo] = {}  # lowercase full name -> repo (GitHub names are case-insensitive)
        self.pulls: dict[tuple[str, int], PullRequest] = {}
        self.reviews: dict[int, Review] = {}
        self.review_comments: dict[int, ReviewComment] = {}
        self.threads: dict[int, ReviewThread] = {}
        self.check_runs: dict[int, CheckRun] = {}
        self.issue_comments: dict[int, IssueComment] = {}
        self.review_comment_reactions: dict[int, list[Reaction]] = {}
        self.manifest_codes: dict[str, ManifestCode] = {}

    def next_id(self) -> int:
        return next(self._ids)

    # -- users -------------------------------------------------------------------------------------

    def user(self, login: str, kind: Literal["User", "Bot", "Organization"] = "User") -> User:
        key = login.lower()
        if key not in self.users:
            self.users[key] = User(login, self.next_id(), kind)
        return self.users[key]

    # -- lookups that behave like GitHub's 404s ----------------------------------------------------

    def repo(self, owner: str, name: str) -> Repo:
        found = self.repos.get(f"{owner}/{name}".lower())
        if found is None:
            raise not_found()
        return found

    def pull(self, repo: Repo, number: int) -> PullRequest:
        found = self.pulls.get((repo.full_name.lower(), number))
        if found is None:
            raise not_found()
        return found

    def review(self, pr: PullRequest, review_id: int) -> Review:
        found = self.reviews.get(review_id)
        if found is None or (found.repo, found.pr_number) != (pr.repo, pr.number):
            raise not_found()
        return found

    def review_comment(self, repo: Repo, comment_id: int) -> ReviewComment:
        found = self.review_comments.get(comment_id)
        if found is None or found.repo != repo.full_name:
            raise not_found()
        return found

    def issue_comment(self, repo: Repo, comment_id: int) -> IssueComment:
        found = self.issue_comments.get(comment_id)
        if found is None or found.repo != repo.full_name:
            raise not_found()
        return found

    def check_run(self, repo: Repo, check_run_id: int) -> CheckRun:
        found = self.check_runs.get(check_run_id)
        if found is None or found.repo != repo.full_name:
            raise not_found()
        return found

    # -- derived data ------------------------------------------------------------------------------

    def compute_files(self, repo: Repo, base_sha: str, head_sha: str) -> list[FileChange]:
        return compare_trees(repo.commits[base_sha].tree, repo.commits[head_sha].tree)
