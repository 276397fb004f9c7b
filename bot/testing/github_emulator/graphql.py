"""The slice of GitHub's GraphQL API a review bot needs: review threads of a PR and resolving them.

Supported: `repository(owner, name) { pullRequest(number) { reviewThreads(first|last, after|before) {
nodes|edges { id isResolved isOutdated path line ... comments(first) { nodes { databaseId body author
{ login } } } } pageInfo totalCount } } }`, `viewer { login }`, `node(id)` for threads, and the mutations
`resolveReviewThread` / `unresolveReviewThread`. Like GitHub, a bot's GraphQL `login` has no `[bot]`
suffix (REST says `mountie[bot]`, GraphQL says `mountie`). Errors use GitHub's messages and `type`s.

Files: `repository { defaultBranchRef { name target { oid } } object(expression: "REV:PATH") { ... on
Blob { oid byteSize isBinary isTruncated text } } }`, REV a branch, a (short) SHA or `HEAD` (the
default branch). As on GitHub, an expression that names nothing is `null` without an error (a
directory is a `Tree`, a bare REV a `Commit`); reading needs `contents: read`. `text` is null for
a binary blob (a NUL byte in its first 8000 bytes, git's test), holds undecodable bytes as U+FFFD
(GitHub documents no transcoding; only `oid` names the exact bytes), and stops at
`BLOB_TEXT_LIMIT` bytes with `isTruncated` true.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bot.testing.github_emulator.auth import Principal, check_repo_access
from bot.testing.github_emulator.clock import iso8601
from bot.testing.github_emulator.diff import blob_sha
from bot.testing.github_emulator.errors import ApiError
from bot.testing.github_emulator.graphql_syntax import (
    Document,
    EnumValue,
    Field,
    FragmentSpread,
    GraphQLSyntaxError,
    Selection,
    Variable,
    parse,
)
from bot.testing.github_emulator.state import (
    Commit,
    PullRequest,
    Repo,
    ReviewComment,
    ReviewThread,
    Store,
    node_id,
)

MAX_PAGE = 100
# GitHub truncates `Blob.text` at an undocumented size, reported as about 500 KB
# (orbiting/backends#116, graphql-hive/graphql-inspector#2079); `isTruncated` says so.
BLOB_TEXT_LIMIT = 512 * 1024
BINARY_SNIFF = 8000  # git calls a blob binary when a NUL byte appears in its first 8000 bytes
GIT_OBJECTS = ("Blob", "Tree", "Commit")

Resolver = Callable[[dict[str, Any]], Any]


class GraphQLError(Exception):
    """`fatal` errors (bad query) return no data at all; others null one field, like GitHub."""

    def __init__(self, message: str, *, type_: str | None = None, fatal: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.type = type_
        self.fatal = fatal


@dataclass
class Obj:
    typename: str
    fields: dict[str, tuple[tuple[str, ...], Resolver]]  # field -> (accepted arguments, resolver)


def _object_node_id(prefix: str, key: str) -> str:
    """A global node id for a git object or ref (keyed by its oid or name rather than a number)."""
    return f"{prefix}_kwDO{hashlib.sha1(key.encode()).hexdigest()[:16]}"


def _cursor(index: int) -> str:
    return base64.b64encode(f"cursor:v2:{index}".encode()).decode()


def _index(cursor: str) -> int:
    try:
        return int(base64.b64decode(cursor).decode().rsplit(":", 1)[1])
    except (ValueError, IndexError) as exc:
        raise GraphQLError(f"`{cursor}` does not appear to be a valid cursor.", fatal=True) from exc


def _connection(
    name: str, typename: str, items: Sequence[Any], args: dict[str, Any], node: Callable[[Any], Obj]
) -> Obj:
    first, last = args.get("first"), args.get("last")
    if first is None and last is None:
        raise GraphQLError(
            f"You must provide a `first` or `last` value to properly paginate the `{name}` connection.",
            type_="MISSING_PAGINATION_BOUNDARIES",
            fatal=True,
        )
    for key, value in (("first", first), ("last", last)):
        if value is not None and value > MAX_PAGE:
            raise GraphQLError(
                f"Requesting {value} records on the `{name}` connection exceeds the `{key}` limit of "
                f"{MAX_PAGE} records.",
                type_="EXCESSIVE_PAGINATION",
                fatal=True,
            )
    start, end = 0, len(items)
    if args.get("after") is not None:
        start = _index(args["after"]) + 1
    if args.get("before") is not None:
        end = min(end, _index(args["before"]))
    window = list(range(start, max(start, end)))
    if first is not None:
        window = window[:first]
    if last is not None:
        window = window[-last:] if last else []
    page_info = Obj(
        "PageInfo",
        {
            "hasNextPage": ((), lambda a: bool(window) and window[-1] < len(items) - 1),
            "hasPreviousPage": ((), lambda a: bool(window) and window[0] > 0),
            "startCursor": ((), lambda a: _cursor(window[0]) if window else None),
            "endCursor": ((), lambda a: _cursor(window[-1]) if window else None),
        },
    )

    def edge(i: int) -> Obj:
        return Obj(
            f"{typename}Edge", {"cursor": ((), lambda a: _cursor(i)), "node": ((), lambda a: node(items[i]))}
        )

    return Obj(
        f"{typename}Connection",
        {
            "totalCount": ((), lambda a: len(items)),
            "nodes": ((), lambda a: [node(items[i]) for i in window]),
            "edges": ((), lambda a: [edge(i) for i in window]),
            "pageInfo": ((), lambda a: page_info),
        },
    )


class Executor:
    def __init__(self, store: Store, principal: Principal) -> None:
        self.store = store
        self.principal = principal
        self.errors: list[dict[str, Any]] = []
        self.document = Document()
        self.variables: dict[str, Any] = {}

    # -- schema ------------------------------------------------------------------------------------

    def actor(self, login: str | None) -> Obj | None:
        if login is None:
            return None
        is_bot = login.endswith("[bot]")
        user = self.store.user(login)
        return Obj(
            "Bot" if is_bot else "User",
            {
                "login": ((), lambda a: login.removesuffix("[bot]")),
                "id": ((), lambda a: node_id("BOT" if is_bot else "U", user.id)),
                "databaseId": ((), lambda a: user.id),
            },
        )

    def query_root(self) -> Obj:
        return Obj(
            "Query",
            {
                "repository": (
                    ("owner", "name", "followRenames"),
                    lambda a: self.repository(a["owner"], a["name"]),
                ),
                "viewer": ((), lambda a: self.actor(self.principal.login)),
                "node": (("id",), lambda a: self.thread(self.find_thread(a["id"]))),
            },
        )

    def mutation_root(self) -> Obj:
        return Obj(
            "Mutation",
            {
                "resolveReviewThread": (("input",), lambda a: self.set_resolved(a["input"], True)),
                "unresolveReviewThread": (("input",), lambda a: self.set_resolved(a["input"], False)),
            },
        )

    def repository(self, owner: str, name: str) -> Obj:
        missing = GraphQLError(
            f"Could not resolve to a Repository with the name '{owner}/{name}'.", type_="NOT_FOUND"
        )
        try:
            repo = self.store.repo(owner, name)
            check_repo_access(self.store, self.principal, "pulls/get", repo)
        except ApiError as exc:
            raise missing from exc
        return Obj(
            "Repository",
            {
                "id": ((), lambda a: node_id("R", repo.id)),
                "databaseId": ((), lambda a: repo.id),
                "name": ((), lambda a: repo.name),
                "nameWithOwner": ((), lambda a: repo.full_name),
                "owner": ((), lambda a: self.actor(repo.owner)),
                "pullRequest": (("number",), lambda a: self.pull_request(repo, a["number"])),
                "defaultBranchRef": ((), lambda a: self.branch_ref(repo, repo.default_branch)),
                "object": (("expression", "oid"), lambda a: self.git_object(repo, a)),
            },
        )

    def branch_ref(self, repo: Repo, name: str) -> Obj:
        commit = repo.commits[repo.branches[name]]
        return Obj(
            "Ref",
            {
                "id": ((), lambda a: _object_node_id("REF", f"{repo.id}:{name}")),
                "name": ((), lambda a: name),
                "prefix": ((), lambda a: "refs/heads/"),
                "target": ((), lambda a: self.commit(commit)),
            },
        )

    def git_object(self, repo: Repo, args: dict[str, Any]) -> Obj | None:
        """`object(expression:)`: `REV`, `REV:` (the root tree) or `REV:PATH`; `object(oid:)`."""
        try:
            check_repo_access(self.store, self.principal, "repos/get-content", repo)
        except ApiError as exc:
            raise GraphQLError(exc.message, type_="FORBIDDEN") from exc
        expression, oid = args.get("expression"), args.get("oid")
        if (expression is None) == (oid is None):
            raise GraphQLError("Exactly one of `expression` or `oid` must be provided.", fatal=True)
        if oid is not None:
            return self._object_by_oid(repo, str(oid))
        revision, colon, path = str(expression).partition(":")
        commit = repo.resolve(repo.default_branch if revision == "HEAD" else revision)
        if commit is None:
            return None
        if not colon:
            return self.commit(commit)
        path = path.strip("/")
        if path in commit.tree:
            return self.blob(commit.tree[path])
        prefix = f"{path}/" if path else ""
        if any(name.startswith(prefix) for name in commit.tree):
            return self.tree(commit, path)
        return None

    def _object_by_oid(self, repo: Repo, oid: str) -> Obj | None:
        if oid in repo.commits:
            return self.commit(repo.commits[oid])
        for commit in repo.commits.values():
            for content in commit.tree.values():
                if blob_sha(content) == oid:
                    return self.blob(content)
        return None

    def blob(self, content: bytes) -> Obj:
        oid = blob_sha(content)
        binary = b"\x00" in content[:BINARY_SNIFF]
        truncated = len(content) > BLOB_TEXT_LIMIT
        return Obj(
            "Blob",
            {
                "id": ((), lambda a: _object_node_id("B", oid)),
                "oid": ((), lambda a: oid),
                "abbreviatedOid": ((), lambda a: oid[:7]),
                "byteSize": ((), lambda a: len(content)),
                "isBinary": ((), lambda a: binary),
                "isTruncated": ((), lambda a: truncated),
                "text": (
                    (),
                    lambda a: None if binary else content[:BLOB_TEXT_LIMIT].decode("utf-8", "replace"),
                ),
            },
        )

    def tree(self, commit: Commit, path: str) -> Obj:
        oid = blob_sha(f"tree\0{commit.sha}\0{path}".encode())
        return Obj(
            "Tree",
            {
                "id": ((), lambda a: _object_node_id("T", oid)),
                "oid": ((), lambda a: oid),
                "abbreviatedOid": ((), lambda a: oid[:7]),
            },
        )

    def commit(self, commit: Commit) -> Obj:
        return Obj(
            "Commit",
            {
                "id": ((), lambda a: _object_node_id("C", commit.sha)),
                "oid": ((), lambda a: commit.sha),
                "abbreviatedOid": ((), lambda a: commit.sha[:7]),
                "message": ((), lambda a: commit.message),
                "committedDate": ((), lambda a: iso8601(commit.created_at)),
            },
        )

    def pull_request(self, repo: Repo, number: int) -> Obj:
        pr = self.store.pulls.get((repo.full_name.lower(), number))
        if pr is None:
            raise GraphQLError(
                f"Could not resolve to a PullRequest with the number of {number}.", type_="NOT_FOUND"
            )
        return Obj(
            "PullRequest",
            {
                "id": ((), lambda a: node_id("PR", pr.id)),
                "databaseId": ((), lambda a: pr.id),
                "number": ((), lambda a: pr.number),
                "title": ((), lambda a: pr.title),
                "isDraft": ((), lambda a: pr.draft),
                "state": ((), lambda a: pr.state.upper()),
                "headRefOid": ((), lambda a: pr.head_sha),
                "baseRefOid": ((), lambda a: pr.base_sha),
                "author": ((), lambda a: self.actor(pr.author)),
                "reviewThreads": (
                    ("first", "last", "after", "before"),
                    lambda a: _connection(
                        "reviewThreads", "PullRequestReviewThread", self.threads_of(pr), a, self.thread
                    ),
                ),
            },
        )

    def threads_of(self, pr: PullRequest) -> list[ReviewThread]:
        threads = [t for t in self.store.threads.values() if (t.repo, t.pr_number) == (pr.repo, pr.number)]
        # Pending reviews are visible only to their author.
        return [t for t in threads if self.comments_of(t)]

    def comments_of(self, thread: ReviewThread) -> list[ReviewComment]:
        comments = [
            self.store.review_comments[i] for i in thread.comment_ids if i in self.store.review_comments
        ]
        return [
            c
            for c in comments
            if self.store.reviews[c.review_id].state != "PENDING" or c.user == self.principal.login
        ]

    def can_write(self, repo_name: str) -> bool:
        repo = self.store.repos[repo_name.lower()]
        try:
            check_repo_access(self.store, self.principal, "pulls/update-review-comment", repo)
        except ApiError:
            return False
        return True

    def thread(self, thread: ReviewThread) -> Obj:
        def root() -> ReviewComment:
            return self.store.review_comments[thread.comment_ids[0]]

        writable = self.can_write(thread.repo)
        return Obj(
            "PullRequestReviewThread",
            {
                "id": ((), lambda a: thread.node_id),
                "isResolved": ((), lambda a: thread.is_resolved),
                "isOutdated": ((), lambda a: root().outdated),
                "isCollapsed": ((), lambda a: thread.is_resolved),
                "path": ((), lambda a: root().path),
                "line": ((), lambda a: root().line),
                "originalLine": ((), lambda a: root().original_line),
                "startLine": ((), lambda a: root().start_line),
                "originalStartLine": ((), lambda a: root().original_start_line),
                "diffSide": ((), lambda a: root().side or "RIGHT"),
                "startDiffSide": ((), lambda a: root().start_side),
                "subjectType": ((), lambda a: root().subject_type.upper()),
                "resolvedBy": ((), lambda a: self.actor(thread.resolved_by)),
                "viewerCanResolve": ((), lambda a: writable and not thread.is_resolved),
                "viewerCanUnresolve": ((), lambda a: writable and thread.is_resolved),
                "viewerCanReply": ((), lambda a: writable),
                "comments": (
                    ("first", "last", "after", "before"),
                    lambda a: _connection(
                        "comments", "PullRequestReviewComment", self.comments_of(thread), a, self.comment
                    ),
                ),
            },
        )

    def comment(self, comment: ReviewComment) -> Obj:
        repo = comment.repo
        return Obj(
            "PullRequestReviewComment",
            {
                "id": ((), lambda a: node_id("PRRC", comment.id)),
                "databaseId": ((), lambda a: comment.id),
                "body": ((), lambda a: comment.body),
                "author": ((), lambda a: self.actor(comment.user)),
                "path": ((), lambda a: comment.path),
                "line": ((), lambda a: comment.line),
                "originalLine": ((), lambda a: comment.original_line),
                "outdated": ((), lambda a: comment.outdated),
                "diffHunk": ((), lambda a: comment.diff_hunk),
                "createdAt": ((), lambda a: iso8601(comment.created_at)),
                "updatedAt": ((), lambda a: iso8601(comment.updated_at)),
                "url": (
                    (),
                    lambda a: f"https://github.com/{repo}/pull/{comment.pr_number}#discussion_r{comment.id}",
                ),
            },
        )

    def find_thread(self, thread_id: Any) -> ReviewThread:
        for thread in self.store.threads.values():
            if thread.node_id == thread_id and self.comments_of(thread):
                return thread
        raise GraphQLError(
            f"Could not resolve to a node with the global id of '{thread_id}'", type_="NOT_FOUND"
        )

    def set_resolved(self, payload: Any, resolved: bool) -> Obj:
        if not isinstance(payload, dict) or "threadId" not in payload:
            raise GraphQLError(
                "Argument 'threadId' on InputObject 'ResolveReviewThreadInput' is required.", fatal=True
            )
        thread = self.find_thread(payload["threadId"])
        if not self.can_write(thread.repo):
            raise GraphQLError("Resource not accessible by integration", type_="FORBIDDEN")
        thread.is_resolved = resolved
        thread.resolved_by = self.principal.login if resolved else None
        mutation_id = payload.get("clientMutationId")
        return Obj(
            "ResolveReviewThreadPayload",
            {
                "clientMutationId": ((), lambda a: mutation_id),
                "thread": ((), lambda a: self.thread(thread)),
            },
        )

    # -- execution ---------------------------------------------------------------------------------

    def run(
        self, document: Document, variables: dict[str, Any], operation_name: str | None
    ) -> dict[str, Any]:
        operations = document.operations
        if operation_name is not None:
            operations = [op for op in operations if op.name == operation_name]
        if len(operations) != 1:
            raise GraphQLError(
                "An operation name is required" if operations else "No operations given", fatal=True
            )
        operation = operations[0]
        values: dict[str, Any] = {}
        for definition in operation.variables:
            if definition.name in variables and variables[definition.name] is not None:
                values[definition.name] = variables[definition.name]
            elif definition.required:
                raise GraphQLError(
                    f"Variable ${definition.name} of type {definition.type} was provided invalid value",
                    fatal=True,
                )
            else:
                values[definition.name] = definition.default
        root = self.query_root() if operation.kind == "query" else self.mutation_root()
        self.document, self.variables = document, values
        return self.select(root, operation.selections, [])

    def select(self, obj: Obj, selections: list[Selection], path: list[str | int]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for field in self.flatten(obj, selections):
            key = field.key
            if field.name == "__typename":
                result[key] = obj.typename
                continue
            if field.name not in obj.fields:
                raise GraphQLError(f"Field '{field.name}' doesn't exist on type '{obj.typename}'", fatal=True)
            accepted, resolver = obj.fields[field.name]
            for arg in field.arguments:
                if arg not in accepted:
                    raise GraphQLError(f"Field '{field.name}' doesn't accept argument '{arg}'", fatal=True)
            try:
                value = resolver({k: self.value(v) for k, v in field.arguments.items()})
            except GraphQLError as exc:
                if exc.fatal:
                    raise
                self.errors.append(
                    {
                        **({"type": exc.type} if exc.type else {}),
                        "path": [*path, key],
                        "locations": [{"line": field.line, "column": field.column}],
                        "message": exc.message,
                    }
                )
                value = None
            result[key] = self.complete(field, value, [*path, key])
        return result

    def complete(self, field: Field, value: Any, path: list[str | int]) -> Any:
        if isinstance(value, list):
            return [self.complete(field, item, [*path, i]) for i, item in enumerate(value)]
        if isinstance(value, Obj):
            if field.selections is None:
                raise GraphQLError(
                    f"Field must have selections (field '{field.name}' returns {value.typename} "
                    f"but has no selections. Did you mean '{field.name} {{ ... }}'?)",
                    fatal=True,
                )
            return self.select(value, field.selections, path)
        if field.selections is not None and value is not None:
            raise GraphQLError(f"Selections can't be made on scalars (field '{field.name}')", fatal=True)
        return value

    def flatten(self, obj: Obj, selections: list[Selection]) -> list[Field]:
        fields: list[Field] = []
        for selection in selections:
            if isinstance(selection, Field):
                fields.append(selection)
                continue
            type_condition: str | None
            if isinstance(selection, FragmentSpread):
                if selection.name not in self.document.fragments:
                    raise GraphQLError(f"Fragment {selection.name} was used, but not defined", fatal=True)
                type_condition, inner = self.document.fragments[selection.name]
            else:
                type_condition, inner = selection.type_condition, selection.selections
            if type_condition in (None, obj.typename, "Node", "Actor") or (
                type_condition == "GitObject" and obj.typename in GIT_OBJECTS
            ):
                fields.extend(self.flatten(obj, inner))
        return fields

    def value(self, node: Any) -> Any:
        if isinstance(node, Variable):
            if node.name not in self.variables:
                raise GraphQLError(
                    f"Variable ${node.name} is used by anonymous query but not declared", fatal=True
                )
            return self.variables[node.name]
        if isinstance(node, EnumValue):
            return node.name
        if isinstance(node, list):
            return [self.value(item) for item in node]
        if isinstance(node, dict):
            return {k: self.value(v) for k, v in node.items()}
        return node


def execute(store: Store, principal: Principal, payload: Any) -> dict[str, Any]:
    """Run one GraphQL request body; always returns a GraphQL response document (HTTP 200)."""
    if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
        return {"errors": [{"message": "A query attribute must be specified and must be a string."}]}
    try:
        document = parse(payload["query"])
    except GraphQLSyntaxError as exc:
        return {"errors": [{"message": exc.message, "locations": [{"line": exc.line, "column": exc.column}]}]}
    variables = payload.get("variables") or {}
    executor = Executor(store, principal)
    try:
        data = executor.run(
            document, variables if isinstance(variables, dict) else {}, payload.get("operationName")
        )
    except GraphQLError as exc:
        return {"errors": [{**({"type": exc.type} if exc.type else {}), "message": exc.message}]}
    response: dict[str, Any] = {"data": data}
    if executor.errors:
        response["errors"] = executor.errors
    return response
