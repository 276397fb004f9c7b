"""The facade against the emulator, over real HTTP with real PyGithub: auth, reads, writes, lists."""

from __future__ import annotations

import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from bot.app.settings import AppSettings
from bot.github import ApiCall, FileTooLargeError, GitHubClient, GoneError
from bot.github.auth import app_auth
from bot.review.model import Annotation, InlineComment
from bot.testing.github_emulator import FakeClock, GitHubEmulator
from tests.emulator.support import raw
from tests.github.harness import APP_ID, BOT, INSTALLATION_ID, REPO, Sleeps, api_calls, make_client

DOCKERFILE = "FROM alpine:3.20\nRUN echo one\nRUN echo two\n"


def open_pr(emu: GitHubEmulator, files: dict[str, str | bytes] | None = None, number: int = 7) -> str:
    base = emu.add_repo(REPO, files={"README.md": "# app\n"})
    head = emu.add_commit(REPO, files or {"Dockerfile": DOCKERFILE}, branch=f"feature-{number}")
    emu.add_pull_request(REPO, number, base, head, author="alice")
    return head


def test_app_jwt_claims(app_pem: str, app_key: RSAPrivateKey) -> None:
    token = app_auth(APP_ID, app_pem).create_jwt()
    now = time.time()
    assert jwt.get_unverified_header(token)["alg"] == "RS256"
    claims = jwt.decode(token, app_key.public_key(), algorithms=["RS256"], options={"verify_iat": False})
    assert claims["iss"] == str(APP_ID)
    assert abs(claims["iat"] - (now - 60)) <= 2  # 60 s in the past against clock drift
    assert 0 < claims["exp"] - now < 600  # GitHub refuses more than 10 minutes


def test_pull_request_and_app_slug(emu: GitHubEmulator, client: GitHubClient) -> None:
    head = open_pr(emu)
    pr = client.get_pull(REPO, 7)
    assert (pr.number, pr.state, pr.draft, pr.head_sha, pr.author) == (7, "open", False, head, "alice")
    assert (pr.base_ref, pr.default_branch) == ("main", "main")
    assert client.bot_login == BOT
    assert client.app_slug() == "mountie"  # cached: one GET /app
    assert emu.count_requests(operation="apps/get-authenticated") == 1


def test_installation_token_is_cached_and_not_counted(emu: GitHubEmulator, client: GitHubClient) -> None:
    open_pr(emu)
    client.get_pull(REPO, 7)
    client.get_pull(REPO, 7)
    assert (client.calls, client.token_requests) == (2, 1)
    assert emu.count_requests(operation="apps/create-installation-access-token") == 1
    assert client.rate_remaining == 4998


def test_expired_token_is_refreshed_once_and_the_call_repeated(
    emu: GitHubEmulator, settings: AppSettings, clock: FakeClock, sleeps: Sleeps
) -> None:
    emu.token_lifetime = 120
    open_pr(emu)
    # The client's own clock does not see the emulator's jump: GitHub expires the token "early".
    client = make_client(settings, clock, sleeps, clock=time.time)
    client.get_pull(REPO, 7)
    clock.advance(121)
    assert client.get_pull(REPO, 7).number == 7
    assert client.token_requests == 2
    assert [status for _, op, status in api_calls(emu) if op == "pulls/get"] == [200, 401, 200]


def test_token_near_expiry_is_renewed_before_use(
    emu: GitHubEmulator, client: GitHubClient, clock: FakeClock
) -> None:
    emu.token_lifetime = 120
    open_pr(emu)
    client.get_pull(REPO, 7)
    clock.advance(61)  # under a minute left
    client.get_pull(REPO, 7)
    assert client.token_requests == 2
    assert emu.count_requests(status=401) == 0


def test_uninstalled_app_is_gone(
    emu: GitHubEmulator, settings: AppSettings, clock: FakeClock, sleeps: Sleeps
) -> None:
    open_pr(emu)
    client = GitHubClient(settings, 12345, sleep=sleeps, clock=clock.now, throttle=False)
    with pytest.raises(GoneError):
        client.get_pull(REPO, 7)


def test_deleted_pull_request_is_gone(emu: GitHubEmulator, client: GitHubClient) -> None:
    open_pr(emu)
    with pytest.raises(GoneError):
        client.get_pull(REPO, 8)


def test_file_contents(emu: GitHubEmulator, client: GitHubClient) -> None:
    head = open_pr(emu, {"docker/Dockerfile": DOCKERFILE, "big.Dockerfile": b"#" * (1024 * 1024 + 1)})
    assert client.get_file(REPO, "docker/Dockerfile", head) == DOCKERFILE.encode()
    assert client.get_file(REPO, "docker/Dockerfile") is None  # not on the default branch
    assert client.get_file(REPO, "README.md") == b"# app\n"
    assert client.get_file(REPO, "docker", head) is None  # a directory
    with pytest.raises(FileTooLargeError):
        client.get_file(REPO, "big.Dockerfile", head)


def test_changed_files_are_listed_lazily_a_page_at_a_time(emu: GitHubEmulator, client: GitHubClient) -> None:
    open_pr(emu, {f"svc{i:03}/Dockerfile": f"FROM alpine\nRUN echo {i}\n" for i in range(250)})
    first = next(client.list_pull_files(REPO, 7))
    assert (first.path, first.status) == ("svc000/Dockerfile", "added")
    assert first.patch is not None and first.patch.startswith("@@ -0,0 +1,2 @@")
    assert emu.count_requests(operation="pulls/list-files") == 1
    assert len(list(client.list_pull_files(REPO, 7))) == 250
    assert emu.count_requests(operation="pulls/list-files") == 1 + 3  # per_page=100


def test_review_with_single_and_multi_line_comments(emu: GitHubEmulator, client: GitHubClient) -> None:
    head = open_pr(emu)
    review = client.create_review(
        REPO,
        7,
        commit_id=head,
        body="Mountie found 2 hazards",
        comments=[
            InlineComment("Dockerfile", 3, 2, "range", ("a",)),
            InlineComment("Dockerfile", 1, None, "single", ("b",)),
        ],
    )
    assert (review.author, review.state, review.commit_id) == (BOT, "COMMENTED", head)
    ranged, single = client.list_review_comments(REPO, 7)
    assert (ranged.line, ranged.body, ranged.author, ranged.in_reply_to_id) == (3, "range", BOT, None)
    assert (single.line, single.body) == (1, "single")
    stored = emu.review_comments(REPO, 7)
    assert [(c.start_line, c.line, c.side) for c in stored] == [(2, 3, "RIGHT"), (None, 1, "RIGHT")]
    [listed] = client.list_reviews(REPO, 7)
    assert listed.body == "Mountie found 2 hazards"


def test_threads_are_read_and_resolved_with_graphql(emu: GitHubEmulator, client: GitHubClient) -> None:
    head = open_pr(emu)
    client.create_review(
        REPO, 7, commit_id=head, body="b", comments=[InlineComment("Dockerfile", 2, None, "x", ())]
    )
    [comment] = client.list_review_comments(REPO, 7)
    emu.add_review_comment(REPO, 7, "bob", "why?", in_reply_to=comment.id)
    [thread] = client.list_review_threads(REPO, 7)
    # GraphQL says `mountie` for the App's bot user; the facade names it as REST does.
    assert (thread.is_resolved, [c.author for c in thread.comments]) == (False, [BOT, "bob"])
    assert (thread.path, thread.comments[0].line, thread.comments[0].database_id) == (
        "Dockerfile",
        2,
        comment.id,
    )
    client.resolve_review_thread(thread.id)
    assert [t.is_resolved for t in emu.review_threads(REPO, 7)] == [True]


def test_check_run_annotations_go_in_batches_of_50(emu: GitHubEmulator, client: GitHubClient) -> None:
    head = open_pr(emu)
    annotations = [Annotation("Dockerfile", 1, 1, "warning", "BKM005", f"finding {i}") for i in range(120)]
    run = client.create_check_run(
        REPO,
        name="Mountie",
        head_sha=head,
        title="t",
        summary="s",
        external_id="7",
        conclusion="failure",
        annotations=annotations,
    )
    assert (run.status, run.conclusion, run.external_id, run.app_slug) == (
        "completed",
        "failure",
        "7",
        "mountie",
    )
    [stored] = emu.check_runs(REPO, head)
    assert [a.message for a in stored.annotations] == [f"finding {i}" for i in range(120)]
    batches = [
        len(r.body["output"]["annotations"])
        for r in emu.requests
        if r.operation_id in ("checks/create", "checks/update")
    ]
    assert batches == [50, 50, 20]
    # The run completes with the last batch, not before.
    assert [r.body.get("conclusion") for r in emu.requests if r.operation_id == "checks/update"] == [
        None,
        "failure",
    ]


def test_check_runs_listed_by_name_newest_first(emu: GitHubEmulator, client: GitHubClient) -> None:
    head = open_pr(emu)
    first = client.create_check_run(
        REPO, name="Mountie", head_sha=head, title="t", summary="s", external_id="7"
    )
    client.create_check_run(REPO, name="Other", head_sha=head, title="t", summary="s")
    second = client.update_check_run(REPO, first.id, title="done", summary="s", conclusion="success")
    third = client.create_check_run(REPO, name="Mountie", head_sha=head, title="t", summary="s")
    runs = client.list_check_runs(REPO, head, "Mountie")
    assert [r.id for r in runs] == [third.id, first.id]
    assert second.status == "completed" and client.get_check_run(REPO, first.id).conclusion == "success"
    assert runs[1].started_at is not None


def test_conversation_reactions_and_permissions(emu: GitHubEmulator, client: GitHubClient) -> None:
    open_pr(emu)
    emu.set_permission(REPO, "carol", "maintain")
    comment_id = emu.add_issue_comment(REPO, 7, "carol", "/mountie recheck")
    client.add_reaction(REPO, comment_id, "eyes")
    client.add_reaction(REPO, comment_id, "eyes")  # GitHub answers 200: already there
    assert [r.content for r in emu.reactions(REPO, comment_id)] == ["eyes"]
    reply = client.create_issue_comment(REPO, 7, "hello")
    assert [(c.author, c.body) for c in client.list_issue_comments(REPO, 7)] == [
        ("carol", "/mountie recheck"),
        (BOT, "hello"),
    ]
    assert reply.author == BOT
    assert client.permission(REPO, "carol") == "write"  # maintain folds into write
    assert client.permission(REPO, "octo") == "admin"
    assert client.permission(REPO, "nobody-at-all") == "none"  # 404


def test_calls_are_reported_to_the_observer(
    emu: GitHubEmulator, settings: AppSettings, clock: FakeClock, sleeps: Sleeps
) -> None:
    open_pr(emu)
    seen: list[ApiCall] = []
    client = make_client(settings, clock, sleeps, on_call=seen.append)
    client.get_pull(REPO, 7)
    assert client.get_file(REPO, "nope") is None
    assert [(c.method, c.path, c.status, c.rate_remaining) for c in seen] == [
        ("GET", "/repos/octo/app/pulls/7", 200, 4999),
        ("GET", "/repos/octo/app/contents/nope", 404, 4998),
    ]


def test_pending_reviews_and_review_comments_can_be_deleted(
    emu: GitHubEmulator, client: GitHubClient
) -> None:
    head = open_pr(emu)
    token = emu.issue_installation_token(INSTALLATION_ID)
    pending = raw(emu, "POST", f"/repos/{REPO}/pulls/7/reviews", {"body": "draft"}, token=token).body
    [listed] = client.list_reviews(REPO, 7)
    assert (listed.id, listed.state) == (pending["id"], "PENDING")
    client.delete_pending_review(REPO, 7, listed.id)
    client.delete_pending_review(REPO, 7, listed.id)  # already gone: fine
    assert emu.reviews(REPO, 7) == []
    client.create_review(
        REPO, 7, commit_id=head, body="b", comments=[InlineComment("Dockerfile", 2, None, "x", ())]
    )
    [comment] = client.list_review_comments(REPO, 7)
    client.delete_review_comment(REPO, comment.id)
    assert client.list_review_comments(REPO, 7) == []


def test_read_pull_reads_files_and_threads_in_one_query(emu: GitHubEmulator, client: GitHubClient) -> None:
    big = "# " + "x" * 600_000 + "\n"  # over GraphQL's text limit, under the 1 MB of the contents API
    latin = "FROM alpine\nLABEL author=Jos\xe9\n".encode("latin-1")
    head = open_pr(emu, {"Dockerfile": DOCKERFILE, "big/Dockerfile": big, "latin/Dockerfile": latin})
    client.create_review(
        REPO, 7, commit_id=head, body="b", comments=[InlineComment("Dockerfile", 2, None, "x", ())]
    )
    emu.clear_requests()
    wanted = [f"{head}:Dockerfile", f"{head}:big/Dockerfile", f"{head}:latin/Dockerfile"]
    snapshot = client.read_pull(REPO, 7, [*wanted, f"{head}:nope", f"{head}:big", "HEAD:README.md"])
    assert [op for _, op, _ in api_calls(emu)] == ["graphql"]
    blobs = snapshot.blobs
    assert blobs[f"{head}:nope"] is None and blobs[f"{head}:big"] is None  # missing; a directory
    exact = {expression: blob.exact if blob else None for expression, blob in blobs.items()}
    assert exact[f"{head}:Dockerfile"] == DOCKERFILE.encode()
    assert exact["HEAD:README.md"] == b"# app\n"
    # GraphQL's text is not the file: cut short, or not UTF-8. The caller reads those with REST.
    big_blob = blobs[f"{head}:big/Dockerfile"]
    assert big_blob is not None and big_blob.truncated and big_blob.size == len(big)
    assert exact[f"{head}:big/Dockerfile"] is None and exact[f"{head}:latin/Dockerfile"] is None
    [thread] = snapshot.threads
    assert (thread.path, [c.author for c in thread.comments]) == ("Dockerfile", [BOT])


def test_read_pull_splits_many_files_and_pages_through_threads(
    emu: GitHubEmulator, client: GitHubClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.github import client as client_module

    monkeypatch.setattr(client_module, "OBJECTS_PER_QUERY", 2)
    texts = {f"d{n}/Dockerfile": f"FROM alpine\nRUN echo {n}\n" for n in range(5)}
    head = open_pr(emu, dict(texts))
    for n in range(102):
        emu.add_review_comment(REPO, 7, "bob", f"note {n}", path=f"d{n % 5}/Dockerfile", line=2)
    emu.clear_requests()
    wanted = [f"{head}:{path}" for path in texts]
    snapshot = client.read_pull(REPO, 7, wanted)
    # 5 files, 2 a query: 3 queries, the first with 100 threads; 1 more for the other 2 threads.
    assert len(api_calls(emu)) == 4
    read = [blob.exact if blob else None for blob in (snapshot.blobs[e] for e in wanted)]
    assert read == [text.encode() for text in texts.values()]
    assert [t.comments[0].body for t in snapshot.threads] == [f"note {n}" for n in range(102)]
    assert client.read_files(REPO, wanted[:1]) == {wanted[0]: snapshot.blobs[wanted[0]]}


def test_a_user_token_reads_but_has_no_app(emu: GitHubEmulator) -> None:
    from bot.github.client import UserToken

    open_pr(emu)
    token = emu.add_user_token("ghp_reader", login="rae")
    client = GitHubClient(UserToken(token, api_url=emu.url, app_slug="mountie"), 0, throttle=False)
    assert client.get_pull(REPO, 7).author == "alice"
    assert client.bot_login == BOT  # from the slug it was given: no JWT to ask GitHub with
    assert (client.calls, client.token_requests) == (1, 0)
    assert [r.actor for r in emu.requests] == ["rae"]


def test_the_installation_is_found_from_the_repository(emu: GitHubEmulator, settings: AppSettings) -> None:
    open_pr(emu)
    client = GitHubClient.for_repository(settings, REPO, throttle=False)
    assert client.installation_id == INSTALLATION_ID
    assert client.get_pull(REPO, 7).number == 7
    emu.add_repo("someone/else")  # Mountie is installed on octo only
    with pytest.raises(GoneError):
        GitHubClient.for_repository(settings, "someone/else", throttle=False)
