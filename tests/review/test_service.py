"""`run_job` against the emulator with real PyGithub over HTTP: reviews, reruns, rechecks, faults."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.app.settings import AppSettings
from bot.config_locations import CONFIG_LOCATIONS
from bot.engine import lint_text
from bot.github import GitHubClient, GitHubError, is_retryable
from bot.jobs.model import Job, JobKind, JobOutcome
from bot.review.markers import review_marker
from bot.testing.github_emulator import FakeClock, GitHubEmulator
from bot.testing.github_emulator.state import ReviewComment
from tests.emulator.support import raw
from tests.github.harness import BOT, INSTALLATION_ID, REPO, Sleeps, api_calls, make_client

MOTIVATING = (Path(__file__).parents[1] / "data" / "motivating.Dockerfile").read_text()
# One BKM005 finding (a relative cache target without an id) whose message does not involve .dockerignore.
RELATIVE_CACHE = "FROM alpine:3.20\nWORKDIR /app\nRUN --mount=type=cache,target=.cache make\n"
DISABLE_BKM005 = "rules:\n  disable: [BKM005]\nbogus: 1\n"
SUGGESTION = re.compile(r"```suggestion\n(.*?)```", re.DOTALL)


def open_pr(emu: GitHubEmulator, files: dict[str, str], *, number: int = 7, **options: Any) -> str:
    base = emu.add_repo(REPO, files={"README.md": "# app\n"})
    head = emu.add_commit(REPO, files, branch=f"feature-{number}")
    emu.add_pull_request(REPO, number, base, head, author="alice", **options)
    return head


def job(kind: JobKind = JobKind.REVIEW, head: str | None = None, **fields: Any) -> Job:
    values: dict[str, Any] = {"pr_number": 7, "head_sha": head, "delivery_id": f"d-{time.monotonic_ns()}"}
    values.update(fields)
    return Job(kind=kind, installation_id=INSTALLATION_ID, repository=REPO, **values)


class Runner:
    """Runs jobs as the worker would: a fresh client per job, sleeping on the fake clock."""

    def __init__(self, settings: AppSettings, clock: FakeClock, sleeps: Sleeps) -> None:
        self.settings, self.clock, self.sleeps = settings, clock, sleeps
        self.client = self.new_client()

    def new_client(self, **options: Any) -> GitHubClient:
        self.client = make_client(self.settings, self.clock, self.sleeps, **options)
        return self.client

    def __call__(self, job: Job, client: GitHubClient | None = None) -> JobOutcome:
        from bot.review.service import run_job

        client = client or self.new_client()
        return run_job(job, self.settings, client=client, clock=self.clock.now)


@pytest.fixture
def run(settings: AppSettings, clock: FakeClock, sleeps: Sleeps) -> Runner:
    return Runner(settings, clock, sleeps)


def after(
    monkeypatch: pytest.MonkeyPatch, client: GitHubClient, method: str, action: Callable[[], None]
) -> None:
    """Run `action` once, right after the client's first call of `method` returns."""
    original = getattr(client, method)
    done: list[bool] = []

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        if not done:
            done.append(True)
            action()
        return result

    monkeypatch.setattr(client, method, wrapped)


def apply_suggestion(text: str, comment: ReviewComment) -> str:
    """What "Commit suggestion" does: the block replaces RIGHT-side lines start_line..line."""
    match = SUGGESTION.search(comment.body)
    assert match is not None and comment.line is not None
    lines = text.splitlines()
    lines[(comment.start_line or comment.line) - 1 : comment.line] = match.group(1).splitlines()
    return "\n".join(lines) + "\n"


def operations(emu: GitHubEmulator) -> list[str | None]:
    """Operation ids of the API calls, GraphQL ones as `graphql` (a query) or `graphql-mutation`."""
    names: list[str | None] = []
    for request in emu.requests:
        if request.operation_id == "apps/create-installation-access-token":
            continue
        query = request.body.get("query", "") if isinstance(request.body, dict) else ""
        mutation = request.operation_id == "graphql" and query.lstrip().startswith("mutation")
        names.append("graphql-mutation" if mutation else request.operation_id)
    return names


# -- reviews ------------------------------------------------------------------------------------------


def test_motivating_dockerfile_gets_one_review_whose_suggestion_fixes_it(
    emu: GitHubEmulator, run: Runner
) -> None:
    head = open_pr(emu, {"Dockerfile": MOTIVATING})
    assert run(job(head=head)) is JobOutcome.REVIEWED
    [review] = emu.reviews(REPO, 7)
    assert (review.user, review.state, review.commit_id) == (BOT, "COMMENTED", head)
    [comment] = emu.review_comments(REPO, 7)
    assert (comment.path, comment.start_line, comment.line, comment.side) == ("Dockerfile", 8, 11, "RIGHT")
    assert "BKM001 artifact-in-cache-mount" in comment.body and "<!-- mountie:fingerprint=" in comment.body
    fixed = apply_suggestion(MOTIVATING, comment)
    assert "BKM001" not in {f.code for f in lint_text(fixed, "Dockerfile").findings}
    [check] = emu.check_runs(REPO, head)
    assert (check.name, check.status, check.conclusion, check.external_id) == (
        "Mountie",
        "completed",
        "failure",
        "7",
    )
    assert [
        (a.path, a.start_line, a.annotation_level) for a in check.annotations if "BKM001" in (a.title or "")
    ] == [("Dockerfile", 11, "failure")]
    # The issue's budget is 8: BKM001's message depends on the build context's ignore files, read
    # in the same query as the configuration, the Dockerfile and the review threads.
    assert operations(emu) == [
        "pulls/list-files",
        "graphql",  # 4 configuration locations, Dockerfile, its 2 ignore files, review threads
        "checks/create",
        "pulls/get",  # the head has not moved on
        "pulls/create-review",
        "checks/update",
    ]
    assert run.client.calls == 6


def test_the_dockerignore_of_the_build_context_is_used(emu: GitHubEmulator, run: Runner) -> None:
    # Dockerfile.dockerignore wins over .dockerignore, as with `docker build -f Dockerfile .`.
    head = open_pr(
        emu, {"Dockerfile": MOTIVATING, "Dockerfile.dockerignore": "target\n", ".dockerignore": "src\n"}
    )
    run(job(head=head))
    [comment] = emu.review_comments(REPO, 7)
    without = [f.message for f in lint_text(MOTIVATING, "Dockerfile").findings if f.code == "BKM001"]
    assert without and without[0] not in comment.body  # linted again, knowing target/ is ignored
    assert "COPY . ." not in comment.body.split("**Fix:**")[0]
    assert emu.count_requests(operation="repos/get-content") == 0  # all read in the one GraphQL query
    assert run.client.calls == 6


def test_a_pr_with_one_dockerfile_costs_at_most_8_calls(emu: GitHubEmulator, run: Runner) -> None:
    head = open_pr(emu, {"Dockerfile": RELATIVE_CACHE})
    assert run(job(head=head)) is JobOutcome.REVIEWED
    assert len(emu.review_comments(REPO, 7)) == 1
    assert run.client.calls == len(api_calls(emu)) == 6  # the issue's budget: 8
    assert run.client.token_requests == 1


def test_a_pr_without_dockerfiles_gets_a_neutral_check_in_3_calls(emu: GitHubEmulator, run: Runner) -> None:
    head = open_pr(emu, {"src/main.py": "print('hi')\n", "docker/build.sh": "docker build .\n"})
    assert run(job(head=head)) is JobOutcome.REVIEWED
    [check] = emu.check_runs(REPO, head)
    assert (check.status, check.conclusion, check.title) == ("completed", "neutral", "No Dockerfile changed")
    assert operations(emu) == ["pulls/list-files", "graphql", "checks/create"]
    assert emu.reviews(REPO, 7) == []


def test_config_globs_and_errors_from_the_default_branch(emu: GitHubEmulator, run: Runner) -> None:
    config = "files:\n  include: ['docker/*.df']\nrules:\n  disable: [BKM999]\n"
    base = emu.add_repo(REPO, files={".github/mountie.yml": config})
    head = emu.add_commit(REPO, {"docker/app.df": RELATIVE_CACHE, ".github/mountie.yml": "fail-level: x\n"})
    emu.add_pull_request(REPO, 7, base, head, author="alice")
    assert run(job(head=head)) is JobOutcome.REVIEWED
    [comment] = emu.review_comments(REPO, 7)
    assert comment.path == "docker/app.df"
    [check] = emu.check_runs(REPO, head)
    assert "- line 4: unknown rule BKM999" in (check.summary or "")  # the PR's own config is not read
    # docker/app.df is a Dockerfile only by the configuration: read in a second query.
    assert operations(emu) == [
        "pulls/list-files",
        "graphql",
        "checks/create",
        "graphql",
        "pulls/get",
        "pulls/create-review",
        "checks/update",
    ]


@pytest.mark.parametrize(
    ("locations", "source"),
    [
        ({".mountie.yaml": DISABLE_BKM005}, ".mountie.yaml"),
        (
            {".github/mountie.yaml": DISABLE_BKM005, ".mountie.yml": "fail-level: error\n"},
            ".github/mountie.yaml",  # the first location that exists wins, as for `mountie check`
        ),
    ],
)
def test_every_configuration_location_is_read_in_the_same_query(
    emu: GitHubEmulator, run: Runner, locations: dict[str, str], source: str
) -> None:
    base = emu.add_repo(REPO, files=locations)
    head = emu.add_commit(REPO, {"Dockerfile": RELATIVE_CACHE})
    emu.add_pull_request(REPO, 7, base, head, author="alice")
    assert run(job(head=head)) is JobOutcome.REVIEWED
    [check] = emu.check_runs(REPO, head)
    assert (check.conclusion, check.title) == ("success", "No mount hazards found")  # BKM005 disabled
    assert f"**`{source}` has errors;**" in (check.summary or "")  # its `bogus` key
    assert emu.reviews(REPO, 7) == []
    assert operations(emu) == ["pulls/list-files", "graphql", "checks/create", "checks/update"]
    [query] = [r.body for r in emu.requests if r.operation_id == "graphql"]
    assert {f"HEAD:{path}" for path in CONFIG_LOCATIONS} <= set(query["variables"].values())


def test_a_pr_with_three_dockerfiles_costs_6_calls(emu: GitHubEmulator, run: Runner) -> None:
    head = open_pr(emu, {f"{name}/Dockerfile": RELATIVE_CACHE for name in ("api", "web", "worker")})
    assert run(job(head=head)) is JobOutcome.REVIEWED
    assert sorted(c.path for c in emu.review_comments(REPO, 7)) == [
        "api/Dockerfile",
        "web/Dockerfile",
        "worker/Dockerfile",
    ]
    assert operations(emu) == [
        "pulls/list-files",
        "graphql",  # 4 configuration locations, 3 Dockerfiles, 6 ignore files, review threads
        "checks/create",
        "pulls/get",
        "pulls/create-review",
        "checks/update",
    ]


def test_running_twice_posts_nothing_new(emu: GitHubEmulator, run: Runner) -> None:
    head = open_pr(emu, {"Dockerfile": MOTIVATING})
    run(job(head=head))
    emu.clear_requests()
    assert run(job(head=head)) is JobOutcome.REVIEWED
    assert len(emu.reviews(REPO, 7)) == 1 and len(emu.review_comments(REPO, 7)) == 1
    assert operations(emu) == ["pulls/list-files", "graphql", "checks/create", "checks/update"]
    assert run.client.calls == 4
    assert [c.conclusion for c in emu.check_runs(REPO, head)] == ["failure", "failure"]


def test_a_push_that_fixes_the_dockerfile_resolves_the_thread_and_turns_green(
    emu: GitHubEmulator, run: Runner
) -> None:
    head = open_pr(emu, {"Dockerfile": MOTIVATING})
    run(job(head=head))
    [comment] = emu.review_comments(REPO, 7)
    fixed = emu.add_commit(REPO, {"Dockerfile": apply_suggestion(MOTIVATING, comment)}, branch="feature-7")
    emu.push(REPO, 7, fixed)
    assert run(job(head=fixed)) is JobOutcome.REVIEWED
    assert [t.is_resolved for t in emu.review_threads(REPO, 7)] == [True]
    assert len(emu.reviews(REPO, 7)) == 1
    [check] = emu.check_runs(REPO, fixed)
    assert check.conclusion == "success"
    # Resolved threads are known from the GraphQL read: the next run has nothing to write.
    emu.clear_requests()
    assert run(job(head=fixed)) is JobOutcome.REVIEWED
    assert operations(emu) == ["pulls/list-files", "graphql", "checks/create", "checks/update"]


def test_a_pr_that_stops_changing_dockerfiles_gets_its_threads_resolved(
    emu: GitHubEmulator, run: Runner
) -> None:
    head = open_pr(emu, {"Dockerfile": MOTIVATING, "src/app.py": "print('hi')\n"})
    run(job(head=head))
    assert [t.is_resolved for t in emu.review_threads(REPO, 7)] == [False]
    reverted = emu.add_commit(REPO, {"Dockerfile": None}, branch="feature-7")
    emu.push(REPO, 7, reverted)
    emu.clear_requests()
    assert run(job(head=reverted)) is JobOutcome.REVIEWED
    assert [t.is_resolved for t in emu.review_threads(REPO, 7)] == [True]
    [check] = emu.check_runs(REPO, reverted)
    assert (check.conclusion, check.title) == ("neutral", "No Dockerfile changed")
    # 3 calls, and 2 only because Mountie had an open thread: the PR read again, the resolution.
    assert operations(emu) == [
        "pulls/list-files",
        "graphql",
        "checks/create",
        "pulls/get",
        "graphql-mutation",
    ]
    emu.clear_requests()
    run(job(head=reverted))
    assert operations(emu) == ["pulls/list-files", "graphql", "checks/create"]


def test_threads_are_not_resolved_for_a_pr_that_moved_on(
    emu: GitHubEmulator, run: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    head = open_pr(emu, {"Dockerfile": MOTIVATING})
    run(job(head=head))
    reverted = emu.add_commit(REPO, {"Dockerfile": None}, branch="feature-7")
    emu.push(REPO, 7, reverted)
    newer = emu.add_commit(REPO, {"Dockerfile": MOTIVATING}, branch="feature-7")
    client = run.new_client()
    after(monkeypatch, client, "read_pull", lambda: emu.push(REPO, 7, newer))
    assert run(job(head=reverted), client) is JobOutcome.SUPERSEDED
    assert [t.is_resolved for t in emu.review_threads(REPO, 7)] == [False]


def test_a_thread_someone_answered_is_left_alone(emu: GitHubEmulator, run: Runner) -> None:
    head = open_pr(emu, {"Dockerfile": MOTIVATING})
    run(job(head=head))
    [comment] = emu.review_comments(REPO, 7)
    emu.add_review_comment(REPO, 7, "alice", "We rely on the stale copy.", in_reply_to=comment.id)
    fixed = emu.add_commit(REPO, {"Dockerfile": apply_suggestion(MOTIVATING, comment)}, branch="feature-7")
    emu.push(REPO, 7, fixed)
    run(job(head=fixed))
    assert [t.is_resolved for t in emu.review_threads(REPO, 7)] == [False]


def test_a_finding_outside_the_diff_is_summarised_and_annotated(emu: GitHubEmulator, run: Runner) -> None:
    lines = [RELATIVE_CACHE.rstrip("\n"), *(f"RUN echo {n}" for n in range(20))]
    before = "\n".join(lines) + "\n"
    base = emu.add_repo(REPO, files={"Dockerfile": before})
    head = emu.add_commit(REPO, {"Dockerfile": before.replace("RUN echo 17", "RUN echo seventeen")})
    emu.add_pull_request(REPO, 7, base, head, author="alice")
    assert run(job(head=head)) is JobOutcome.REVIEWED
    assert emu.review_comments(REPO, 7) == []
    [review] = emu.reviews(REPO, 7)
    assert "#### `Dockerfile` line 3" in review.body and "```diff" in review.body
    [check] = emu.check_runs(REPO, head)
    assert [(a.start_line, a.title) for a in check.annotations] == [(3, "BKM005 relative-target-implicit-id")]
    assert emu.count_requests(status=422) == 0
    # Running again finds the summary entry in the earlier review body.
    run(job(head=head))
    assert len(emu.reviews(REPO, 7)) == 1


def test_forty_findings_in_one_file(emu: GitHubEmulator, run: Runner) -> None:
    text = "FROM alpine:3.20\nWORKDIR /app\n" + "".join(
        f"RUN --mount=type=cache,target=cache{n} echo {n}\n" for n in range(40)
    )
    head = open_pr(emu, {"Dockerfile": text})
    assert run(job(head=head)) is JobOutcome.REVIEWED
    assert len(emu.review_comments(REPO, 7)) == 25
    [review] = emu.reviews(REPO, 7)
    assert review.body.count("#### `Dockerfile` line") == 15
    [check] = emu.check_runs(REPO, head)
    assert len(check.annotations) == 40
    sent = [r.body["output"]["annotations"] for r in emu.requests if r.operation_id == "checks/update"]
    assert all(len(batch) <= 50 for batch in sent) and sum(map(len, sent)) == 40
    # And a second run posts nothing: 25 are comments, 15 are in the review body.
    run(job(head=head))
    assert len(emu.reviews(REPO, 7)) == 1 and len(emu.review_comments(REPO, 7)) == 25


def test_a_fork_pr_rerun_is_mapped_back_through_the_check_run(emu: GitHubEmulator, run: Runner) -> None:
    head = open_pr(emu, {"Dockerfile": RELATIVE_CACHE}, from_fork=True)
    run(job(head=head))
    [first] = emu.check_runs(REPO, head)
    assert run(job(JobKind.RERUN, head=head, pr_number=None, check_run_id=first.id)) is JobOutcome.REVIEWED
    assert [c.status for c in emu.check_runs(REPO, head)] == ["completed", "completed"]
    suite = job(JobKind.RERUN, head=head, pr_number=None)  # a re-requested suite names no run
    assert run(suite) is JobOutcome.REVIEWED
    assert len(emu.check_runs(REPO, head)) == 3


# -- recheck ----------------------------------------------------------------------------------------


def test_recheck_from_a_writer_reacts_and_reviews(emu: GitHubEmulator, run: Runner, clock: FakeClock) -> None:
    head = open_pr(emu, {"Dockerfile": RELATIVE_CACHE})
    emu.set_permission(REPO, "carol", "write")
    comment = emu.add_issue_comment(REPO, 7, "carol", "/mountie recheck")
    assert run(job(JobKind.RECHECK, commenter="carol", comment_id=comment)) is JobOutcome.REVIEWED
    assert [(r.user, r.content) for r in emu.reactions(REPO, comment)] == [("mountie[bot]", "eyes")]
    assert len(emu.reviews(REPO, 7)) == 1 and len(emu.check_runs(REPO, head)) == 1
    # Another recheck right away is ignored: the last run is seconds old.
    again = emu.add_issue_comment(REPO, 7, "carol", "/mountie recheck")
    assert run(job(JobKind.RECHECK, commenter="carol", comment_id=again)) is JobOutcome.SKIPPED
    assert len(emu.check_runs(REPO, head)) == 1
    clock.advance(31)
    assert run(job(JobKind.RECHECK, commenter="alice", comment_id=again)) is JobOutcome.REVIEWED  # the author
    assert len(emu.check_runs(REPO, head)) == 2


def test_recheck_from_a_reader_gets_one_reply_and_nothing_else(emu: GitHubEmulator, run: Runner) -> None:
    head = open_pr(emu, {"Dockerfile": RELATIVE_CACHE})
    emu.set_permission(REPO, "dave", "triage")
    for _ in range(2):
        comment = emu.add_issue_comment(REPO, 7, "dave", "/mountie recheck")
        assert run(job(JobKind.RECHECK, commenter="dave", comment_id=comment)) is JobOutcome.DENIED
        assert emu.reactions(REPO, comment) == []
    replies = [c for c in emu.issue_comments(REPO, 7) if c.user == BOT]
    assert len(replies) == 1 and replies[0].body.startswith("@dave only the author")
    assert emu.check_runs(REPO, head) == [] and emu.reviews(REPO, 7) == []


def test_recheck_from_a_bot_is_ignored_without_a_call(emu: GitHubEmulator, run: Runner) -> None:
    open_pr(emu, {"Dockerfile": RELATIVE_CACHE})
    comment = emu.add_issue_comment(REPO, 7, "helper[bot]", "/mountie recheck")
    assert run(job(JobKind.RECHECK, commenter="helper[bot]", comment_id=comment)) is JobOutcome.SKIPPED
    assert emu.requests == []


# -- faults -----------------------------------------------------------------------------------------


def test_an_installation_token_expiring_mid_run_is_renewed(
    emu: GitHubEmulator, run: Runner, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    emu.token_lifetime = 120
    head = open_pr(emu, {"Dockerfile": RELATIVE_CACHE})
    client = run.new_client(clock=time.time)  # GitHub's clock runs ahead of ours
    after(monkeypatch, client, "read_pull", lambda: clock.advance(121))  # after the GraphQL read
    assert run(job(head=head), client) is JobOutcome.REVIEWED
    assert client.token_requests == 2 and emu.count_requests(status=401) == 1
    assert len(emu.reviews(REPO, 7)) == 1


def test_a_secondary_rate_limit_mid_run_is_waited_out(
    emu: GitHubEmulator, run: Runner, sleeps: Sleeps, monkeypatch: pytest.MonkeyPatch
) -> None:
    head = open_pr(emu, {"Dockerfile": RELATIVE_CACHE})
    client = run.new_client()
    after(monkeypatch, client, "read_pull", lambda: emu.secondary_rate_limit(2))
    assert run(job(head=head), client) is JobOutcome.REVIEWED
    assert sleeps.waits == [2.0]
    assert len(emu.reviews(REPO, 7)) == 1
    assert [c.status for c in emu.check_runs(REPO, head)] == ["completed"]


def test_a_force_push_between_fetch_and_post_supersedes_the_result(
    emu: GitHubEmulator, run: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    head = open_pr(emu, {"Dockerfile": MOTIVATING})
    newer = emu.add_commit(REPO, {"Dockerfile": RELATIVE_CACHE}, parent=emu.pull_request(REPO, 7).base_sha)
    client = run.new_client()
    after(monkeypatch, client, "read_pull", lambda: emu.push(REPO, 7, newer))
    assert run(job(head=head), client) is JobOutcome.SUPERSEDED
    assert emu.reviews(REPO, 7) == [] and emu.review_comments(REPO, 7) == []
    [check] = emu.check_runs(REPO, head)
    assert (check.conclusion, check.title) == ("neutral", "Superseded")


def test_a_5xx_after_the_review_was_created_does_not_duplicate_it(emu: GitHubEmulator, run: Runner) -> None:
    head = open_pr(emu, {"Dockerfile": MOTIVATING})
    emu.fail_next(1, 502, after_write=True, operation="pulls/create-review")
    assert run(job(head=head)) is JobOutcome.REVIEWED
    assert len(emu.reviews(REPO, 7)) == 1 and len(emu.review_comments(REPO, 7)) == 1
    assert emu.count_requests(operation="pulls/create-review") == 1
    assert emu.count_requests(operation="pulls/list-reviews") == 1


def test_a_5xx_before_the_review_was_created_posts_it_once(emu: GitHubEmulator, run: Runner) -> None:
    head = open_pr(emu, {"Dockerfile": MOTIVATING})
    emu.fail_next(1, 502, operation="pulls/create-review")
    assert run(job(head=head)) is JobOutcome.REVIEWED
    assert len(emu.reviews(REPO, 7)) == 1
    assert emu.count_requests(operation="pulls/create-review") == 2


def test_inline_comments_github_refuses_move_into_the_review_body(
    emu: GitHubEmulator, run: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    head = open_pr(emu, {"Dockerfile": RELATIVE_CACHE})
    client = run.new_client()
    original = client.create_review

    def misplaced(*args: Any, **kwargs: Any) -> Any:
        # Our reading of the diff disagreeing with GitHub's: a line outside it.
        kwargs["comments"] = [
            type(c)(c.path, c.line + 40, None, c.body, c.fingerprints) for c in kwargs["comments"]
        ]
        return original(*args, **kwargs)

    monkeypatch.setattr(client, "create_review", misplaced)
    assert run(job(head=head), client) is JobOutcome.REVIEWED
    [review] = emu.reviews(REPO, 7)
    assert "refused by GitHub as inline comments" in review.body
    assert emu.count_requests(status=422) == 1


def test_a_github_outage_completes_the_check_run_and_is_raised_for_a_retry(
    emu: GitHubEmulator, run: Runner
) -> None:
    head = open_pr(emu, {"Dockerfile": RELATIVE_CACHE})
    emu.fail_next(10, 500, operation="pulls/get")
    with pytest.raises(GitHubError) as caught:
        run(job(head=head))
    assert is_retryable(caught.value)
    [check] = emu.check_runs(REPO, head)
    assert (check.status, check.conclusion, check.title) == (
        "completed",
        "neutral",
        "Mountie could not finish",
    )
    assert "500" in (check.summary or "")
    emu.clear_faults()
    # The retry posts the review once.
    assert run(job(head=head)) is JobOutcome.REVIEWED
    assert len(emu.reviews(REPO, 7)) == 1


def test_a_bug_fails_the_job_and_completes_the_check_run(
    emu: GitHubEmulator, run: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    head = open_pr(emu, {"Dockerfile": RELATIVE_CACHE})
    client = run.new_client()

    def broken(*args: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(client, "get_pull", broken)
    assert run(job(head=head), client) is JobOutcome.FAILED
    [check] = emu.check_runs(REPO, head)
    assert (check.status, check.conclusion) == ("completed", "neutral")
    assert "`RuntimeError`: boom" in (check.summary or "")


def test_closed_or_draft_prs_are_skipped(emu: GitHubEmulator, run: Runner) -> None:
    open_pr(emu, {"Dockerfile": RELATIVE_CACHE}, draft=True)
    assert run(job(head=None)) is JobOutcome.SKIPPED
    assert operations(emu) == ["pulls/get"]


def pending_review(emu: GitHubEmulator, body: str) -> int:
    """A pending review by Mountie, as a crashed earlier process could have left."""
    token = emu.issue_installation_token(INSTALLATION_ID)
    response = raw(emu, "POST", f"/repos/{REPO}/pulls/7/reviews", {"body": body}, token=token)
    assert response.body["state"] == "PENDING"
    return int(response.body["id"])


def test_a_leftover_pending_review_is_deleted_so_the_review_can_be_posted(
    emu: GitHubEmulator, run: Runner
) -> None:
    head = open_pr(emu, {"Dockerfile": RELATIVE_CACHE})
    pending_review(emu, "left behind")
    assert run(job(head=head)) is JobOutcome.REVIEWED
    [review] = emu.reviews(REPO, 7)
    assert review.state == "COMMENTED" and len(emu.review_comments(REPO, 7)) == 1


def test_a_pending_review_from_a_failed_create_is_replaced(emu: GitHubEmulator, run: Runner) -> None:
    head = open_pr(emu, {"Dockerfile": RELATIVE_CACHE})
    attempt = job(head=head)
    left = pending_review(emu, f"half-made\n\n{review_marker(head, attempt.delivery_id)}")
    emu.fail_next(1, 502, operation="pulls/create-review")
    assert run(attempt) is JobOutcome.REVIEWED
    [review] = emu.reviews(REPO, 7)
    assert review.id != left and review.state == "COMMENTED"


def test_oversized_and_non_utf8_dockerfiles_are_reported_not_analysed(
    emu: GitHubEmulator, run: Runner
) -> None:
    files: dict[str, str | bytes] = {
        "big/Dockerfile": "# " + "x" * (1024 * 1024) + "\n",
        "latin/Dockerfile": "FROM alpine\nLABEL author=Jos\xe9\n".encode("latin-1"),
    }
    base = emu.add_repo(REPO, files={"README.md": "# app\n"})
    head = emu.add_commit(REPO, files)
    emu.add_pull_request(REPO, 7, base, head, author="alice")
    assert run(job(head=head)) is JobOutcome.REVIEWED
    [check] = emu.check_runs(REPO, head)
    assert check.conclusion == "success"
    assert "- `big/Dockerfile`: file is over 1 MB; not analysed" in (check.summary or "")
    assert "- `latin/Dockerfile`: not UTF-8 text; not analysed" in (check.summary or "")
    assert emu.reviews(REPO, 7) == []
    # The size comes with the GraphQL read; only the file whose text is not its bytes is read again.
    assert emu.count_requests(operation="repos/get-content") == 1


def test_a_dockerfile_too_long_for_graphql_text_is_read_with_rest(emu: GitHubEmulator, run: Runner) -> None:
    padding = "".join(f"# {'x' * 70}\n" for _ in range(8000))  # ~580 KB: GraphQL cuts the text short
    head = open_pr(emu, {"Dockerfile": padding + RELATIVE_CACHE})
    assert run(job(head=head)) is JobOutcome.REVIEWED
    [comment] = emu.review_comments(REPO, 7)
    assert "BKM005" in comment.body and comment.line == 8003
    assert emu.count_requests(operation="repos/get-content") == 1
    assert run.client.calls == 7
