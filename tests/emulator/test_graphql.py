"""GraphQL: reading a PR's review threads and resolving the bot's own threads."""

from __future__ import annotations

from typing import Any

import github
import pytest

from bot.testing.github_emulator import GitHubEmulator
from bot.testing.github_emulator.diff import blob_sha
from bot.testing.github_emulator.graphql import BLOB_TEXT_LIMIT
from tests.emulator.support import APP_ID, HEAD_DOCKERFILE, REPO, Scenario, client, raw, review_scenario

THREADS = """
query($owner: String!, $name: String!, $number: Int!, $after: String) {
  repository(owner: $owner, name: $name) {
    pullRequest(number: $number) {
      reviewThreads(first: 100, after: $after) {
        totalCount
        pageInfo { hasNextPage endCursor }
        nodes {
          id isResolved isOutdated path line viewerCanResolve
          comments(first: 50) { nodes { databaseId body author { __typename login } } }
        }
      }
    }
  }
}
"""
RESOLVE = """
mutation Resolve($id: ID!) {
  resolveReviewThread(input: {threadId: $id, clientMutationId: "m1"}) {
    clientMutationId
    thread { id isResolved resolvedBy { login } }
  }
}
"""
VARIABLES = {"owner": "octo", "name": "app", "number": 7}


def bot_review(emu: GitHubEmulator, scenario: Scenario) -> list[int]:
    response = raw(
        emu,
        "POST",
        f"/repos/{REPO}/pulls/7/reviews",
        {
            "event": "COMMENT",
            "body": "b",
            "comments": [
                {"path": "Dockerfile", "line": 4, "body": "<!-- mountie fp=1 --> cache mount"},
                {"path": "Dockerfile", "line": 18, "body": "<!-- mountie fp=2 --> workdir"},
            ],
        },
        token=scenario.token,
    )
    assert response.status == 200
    return [c.id for c in emu.review_comments(REPO, 7)]


def query(emu: GitHubEmulator, token: str, text: str, variables: dict[str, Any]) -> dict[str, Any]:
    _, data = client(emu, token).requester.graphql_query(text, variables)
    return data


def test_review_threads_and_resolving_the_bots_own_thread(emu: GitHubEmulator) -> None:
    scenario = review_scenario(emu)
    first, _ = bot_review(emu, scenario)
    emu.add_review_comment(REPO, 7, "bob", "Thanks!", in_reply_to=first)

    threads = query(emu, scenario.token, THREADS, VARIABLES)["data"]["repository"]["pullRequest"][
        "reviewThreads"
    ]
    assert threads["totalCount"] == 2 and threads["pageInfo"]["hasNextPage"] is False
    one, two = threads["nodes"]
    assert (one["path"], one["line"], one["isResolved"], one["isOutdated"]) == ("Dockerfile", 4, False, False)
    assert one["viewerCanResolve"] is True
    authors = [(c["author"]["__typename"], c["author"]["login"]) for c in one["comments"]["nodes"]]
    # GraphQL names bots without the "[bot]" suffix that REST uses.
    assert authors == [("Bot", "mountie"), ("User", "bob")]
    assert one["comments"]["nodes"][0]["databaseId"] == first

    result = query(emu, scenario.token, RESOLVE, {"id": two["id"]})["data"]["resolveReviewThread"]
    assert result == {
        "clientMutationId": "m1",
        "thread": {"id": two["id"], "isResolved": True, "resolvedBy": {"login": "mountie"}},
    }
    views = emu.review_threads(REPO, 7)
    assert [(v.is_resolved, v.resolved_by) for v in views] == [(False, None), (True, "mountie[bot]")]

    unresolve = (
        "mutation($id: ID!) { unresolveReviewThread(input: {threadId: $id}) { thread { isResolved } } }"
    )
    assert query(emu, scenario.token, unresolve, {"id": two["id"]})["data"] == {
        "unresolveReviewThread": {"thread": {"isResolved": False}}
    }


def test_thread_pagination_node_lookup_and_fragments(emu: GitHubEmulator) -> None:
    scenario = review_scenario(emu)
    bot_review(emu, scenario)
    text = """
    query($after: String) {
      repository(owner: "octo", name: "app") { pullRequest(number: 7) {
        reviewThreads(first: 1, after: $after) {
          edges { cursor node { ...T } }
          pageInfo { hasNextPage endCursor }
        } } }
    }
    fragment T on PullRequestReviewThread { id line }
    """
    page1 = query(emu, scenario.token, text, {})["data"]["repository"]["pullRequest"]["reviewThreads"]
    assert page1["pageInfo"]["hasNextPage"] is True and page1["edges"][0]["node"]["line"] == 4
    page2 = query(emu, scenario.token, text, {"after": page1["pageInfo"]["endCursor"]})
    second = page2["data"]["repository"]["pullRequest"]["reviewThreads"]
    assert second["pageInfo"]["hasNextPage"] is False and second["edges"][0]["node"]["line"] == 18

    node_query = "query($id: ID!) { node(id: $id) { __typename ... on PullRequestReviewThread { path } } }"
    node = query(emu, scenario.token, node_query, {"id": second["edges"][0]["node"]["id"]})["data"]["node"]
    assert node == {"__typename": "PullRequestReviewThread", "path": "Dockerfile"}


def test_outdated_threads_after_push(emu: GitHubEmulator) -> None:
    scenario = review_scenario(emu)
    bot_review(emu, scenario)
    emu.push(REPO, 7, emu.add_commit(REPO, {"Dockerfile": "FROM scratch\n"}, parent=scenario.head))
    nodes = query(emu, scenario.token, THREADS, VARIABLES)["data"]["repository"]["pullRequest"][
        "reviewThreads"
    ]
    assert [(n["isOutdated"], n["line"]) for n in nodes["nodes"]] == [(True, None), (True, None)]


def test_missing_repository_is_not_found_not_a_violation(emu: GitHubEmulator) -> None:
    scenario = review_scenario(emu)
    with pytest.raises(github.UnknownObjectException):
        query(emu, scenario.token, THREADS, {**VARIABLES, "name": "nope"})
    response = raw(
        emu,
        "POST",
        "/graphql",
        {"query": THREADS, "variables": {**VARIABLES, "name": "nope"}},
        token=scenario.token,
    )
    assert response.body["data"] == {"repository": None}
    assert response.body["errors"][0]["type"] == "NOT_FOUND"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '{ repository(owner: "octo", name: "app") { pullRequest(number: 7) '
            "{ reviewThreads { totalCount } } } }",
            "You must provide a `first` or `last` value to properly paginate the `reviewThreads` connection.",
        ),
        (
            '{ repository(owner: "octo", name: "app") { pullRequest(number: 7) { reviewThreads(first: 101) '
            "{ totalCount } } } }",
            "Requesting 101 records on the `reviewThreads` connection exceeds the `first` limit of "
            "100 records.",
        ),
        (
            '{ repository(owner: "octo", name: "app") { stars } }',
            "Field 'stars' doesn't exist on type 'Repository'",
        ),
        ("{ repository(owner: ", "Parse error on end of input"),
    ],
)
def test_invalid_queries_are_errors_and_violations(emu: GitHubEmulator, text: str, message: str) -> None:
    scenario = review_scenario(emu)
    response = raw(emu, "POST", "/graphql", {"query": text}, token=scenario.token)
    assert response.status == 200
    assert "data" not in response.body
    assert response.body["errors"][0]["message"] == message
    assert [v.operation_id for v in emu.take_violations()] == ["graphql"]


def test_graphql_needs_a_token(emu: GitHubEmulator) -> None:
    review_scenario(emu)
    assert raw(emu, "POST", "/graphql", {"query": "{ viewer { login } }"}).status == 401
    token = emu.add_user_token("ghp_x", login="carol")
    assert raw(emu, "POST", "/graphql", {"query": "{ viewer { login } }"}, token=token).body == {
        "data": {"viewer": {"login": "carol"}}
    }


def test_pending_threads_are_hidden_from_others_and_read_only_users_cannot_resolve(
    emu: GitHubEmulator,
) -> None:
    scenario = review_scenario(emu)
    bot_review(emu, scenario)
    raw(
        emu,
        "POST",
        f"/repos/{REPO}/pulls/7/reviews",
        {"comments": [{"path": "Dockerfile", "line": 5, "body": "pending"}]},
        token=scenario.token,
    )
    reader = emu.add_user_token("ghp_reader", login="rae")
    threads = query(emu, reader, THREADS, VARIABLES)["data"]["repository"]["pullRequest"]["reviewThreads"]
    assert threads["totalCount"] == 2
    assert threads["nodes"][0]["viewerCanResolve"] is False
    response = raw(
        emu,
        "POST",
        "/graphql",
        {"query": RESOLVE, "variables": {"id": threads["nodes"][0]["id"]}},
        token=reader,
    )
    assert response.body["errors"][0]["type"] == "FORBIDDEN"
    assert (
        query(emu, scenario.token, THREADS, VARIABLES)["data"]["repository"]["pullRequest"]["reviewThreads"][
            "totalCount"
        ]
        == 3
    )


FILES = """
query($owner: String!, $name: String!, $config: String!, $file: String!, $dir: String!, $bin: String!,
      $big: String!, $latin: String!, $gone: String!, $rev: String!) {
  repository(owner: $owner, name: $name) {
    defaultBranchRef { name target { ... on Commit { oid } } }
    config: object(expression: $config) { ...B }
    file: object(expression: $file) { ...B }
    dir: object(expression: $dir) { __typename ...B }
    bin: object(expression: $bin) { ...B }
    big: object(expression: $big) { ...B }
    latin: object(expression: $latin) { ...B }
    gone: object(expression: $gone) { ...B }
    rev: object(expression: $rev) { __typename ... on GitObject { abbreviatedOid } }
  }
}
fragment B on Blob { oid byteSize isBinary isTruncated text }
"""


def test_files_at_a_revision_read_as_github_answers_them(emu: GitHubEmulator) -> None:
    scenario = review_scenario(emu)
    big = b"# " + b"x" * (BLOB_TEXT_LIMIT + 10) + b"\n"
    latin = "LABEL author=Jos\xe9\n".encode("latin-1")
    head = emu.add_commit(
        REPO, {"docker/big": big, "docker/bin": b"\x7fELF\x00\x01", "latin": latin}, parent=scenario.head
    )
    variables = {
        "owner": "octo",
        "name": "app",
        "config": "HEAD:.github/mountie.yml",  # HEAD: the default branch
        "file": f"{head}:Dockerfile",
        "dir": f"{head}:docker",
        "bin": f"{head}:docker/bin",
        "big": f"{head}:docker/big",
        "latin": f"{head}:latin",
        "gone": f"{scenario.base}:docker/big",  # not at that commit
        "rev": head[:10],
    }
    data = query(emu, scenario.token, FILES, variables)
    assert "errors" not in data
    repo = data["data"]["repository"]
    assert repo["defaultBranchRef"] == {"name": "main", "target": {"oid": scenario.base}}
    assert repo["config"] is None and repo["gone"] is None  # a missing path is null, not an error
    text = HEAD_DOCKERFILE.encode()
    assert repo["file"] == {
        "oid": blob_sha(text),
        "byteSize": len(text),
        "isBinary": False,
        "isTruncated": False,
        "text": HEAD_DOCKERFILE,
    }
    assert repo["dir"] == {"__typename": "Tree"}  # the Blob fragment does not apply
    assert (repo["bin"]["isBinary"], repo["bin"]["text"], repo["bin"]["byteSize"]) == (True, None, 6)
    assert (repo["big"]["isTruncated"], repo["big"]["byteSize"]) == (True, len(big))
    assert len(repo["big"]["text"]) == BLOB_TEXT_LIMIT
    # Not UTF-8: the text is not the bytes, which only the oid identifies.
    assert repo["latin"]["text"] == "LABEL author=Jos\ufffd\n"
    assert repo["latin"]["oid"] == blob_sha(latin) != blob_sha(repo["latin"]["text"].encode())
    assert repo["rev"] == {"__typename": "Commit", "abbreviatedOid": head[:7]}


def test_reading_files_needs_the_contents_permission(emu: GitHubEmulator) -> None:
    scenario = review_scenario(emu)
    emu.add_installation(7, APP_ID, "octo", permissions={"pull_requests": "write", "metadata": "read"})
    token = emu.issue_installation_token(7)
    text = 'query($e: String!) { repository(owner: "octo", name: "app") { object(expression: $e) { id } } }'
    response = raw(
        emu,
        "POST",
        "/graphql",
        {"query": text, "variables": {"e": f"{scenario.head}:Dockerfile"}},
        token=token,
    )
    assert response.body["data"] == {"repository": {"object": None}}
    assert [(e["type"], e["path"]) for e in response.body["errors"]] == [
        ("FORBIDDEN", ["repository", "object"])
    ]
    assert query(emu, scenario.token, text, {"e": f"{scenario.head}:Dockerfile"})["data"]["repository"][
        "object"
    ]
