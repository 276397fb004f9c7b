"""`mountie review OWNER/REPO#N [--dry-run]` against the emulator: the real review pipeline, with
every write recorded instead of sent when dry, and one clear line for every way it can go wrong."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.app import review_cli
from bot.app.settings import AppSettings
from bot.cli import main
from bot.github.dryrun import DryRunClient, DryRunWriteError
from bot.testing.github_emulator import GitHubEmulator
from tests.github.harness import APP_ID, BOT, REPO

MOTIVATING = (Path(__file__).parents[1] / "data" / "motivating.Dockerfile").read_text()
READS = ("GET", "graphql-query")
_RUN_MARKER = re.compile(r"<!-- mountie:review=[^>]* -->")
_ENV = ("GITHUB_APP_ID", "GITHUB_PRIVATE_KEY", "GITHUB_PRIVATE_KEY_PATH", "GITHUB_WEBHOOK_SECRET")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No credentials but those a test sets, no .env file to find, and no throttling."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(review_cli, "CLIENT_OPTIONS", {"throttle": False})
    for name in (*_ENV, "GITHUB_TOKEN", "GITHUB_API_URL"):
        monkeypatch.delenv(name, raising=False)


def open_pr(emu: GitHubEmulator, files: dict[str, str]) -> str:
    base = emu.add_repo(REPO, files={"README.md": "# app\n"})
    head = emu.add_commit(REPO, files, branch="feature")
    emu.add_pull_request(REPO, 7, base, head, author="alice")
    return head


def as_app(monkeypatch: pytest.MonkeyPatch, emu: GitHubEmulator, app_pem: str) -> None:
    monkeypatch.setenv("GITHUB_APP_ID", str(APP_ID))
    monkeypatch.setenv("GITHUB_PRIVATE_KEY", app_pem)
    monkeypatch.setenv("GITHUB_API_URL", emu.url)  # no webhook secret: `review` receives no webhook


def as_user(monkeypatch: pytest.MonkeyPatch, emu: GitHubEmulator) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", emu.add_user_token("ghp_reviewer", login="rae"))
    monkeypatch.setenv("GITHUB_API_URL", emu.url)


def kinds(emu: GitHubEmulator) -> list[str]:
    """Each request as its method, GraphQL ones as `graphql-query` or `graphql-mutation`."""
    names: list[str] = []
    for request in emu.requests:
        if request.operation_id == "graphql":
            query = str(request.body.get("query", "")) if isinstance(request.body, dict) else ""
            names.append("graphql-mutation" if query.lstrip().startswith("mutation") else "graphql-query")
        else:
            names.append(request.method)
    return names


def review_command(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["review", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def sections(output: str) -> dict[str, str]:
    """The `== Title ==` sections of the dry-run output (between its first and last lines)."""
    found: dict[str, str] = {}
    for block in re.split(r"\n\n(?===)", output.rstrip("\n").rsplit("\n\n", 1)[0])[1:]:
        title, _, text = block.partition("\n")
        found[title.strip("= ")] = text
    return found


def test_a_dry_run_with_a_user_token_prints_the_review_and_posts_nothing(
    emu: GitHubEmulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    head = open_pr(emu, {"Dockerfile": MOTIVATING})
    as_user(monkeypatch, emu)
    code, out, err = review_command(capsys, "octo/app#7", "--dry-run")
    assert (code, err) == (0, "")
    assert set(kinds(emu)) <= set(READS)  # the emulator saw no write at all
    assert emu.reviews(REPO, 7) == [] and emu.check_runs(REPO) == []
    assert all(r.actor == "rae" for r in emu.requests)
    found = sections(out)
    inline = found["Inline comment 1 of 1: Dockerfile lines 8-11"]
    assert "BKM001 artifact-in-cache-mount" in inline and "```suggestion\n" in inline
    assert f"Review (COMMENT) at {head[:12]}, 1 inline comment" in found
    [check] = [title for title in found if title.startswith('Check run "Mountie"')]
    assert check == f'Check run "Mountie" at {head[:12]}: failure'
    assert found[check].startswith("Title: ") and "\nAnnotations: " in found[check]
    assert out.startswith("Dry run of octo/app#7: reviewed. Nothing was posted.\n")
    assert out.rstrip().endswith("GitHub API calls, all of them reads.")


def test_the_dry_run_prints_exactly_what_the_real_run_then_posts(
    emu: GitHubEmulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], app_pem: str
) -> None:
    head = open_pr(emu, {"Dockerfile": MOTIVATING})
    as_app(monkeypatch, emu, app_pem)
    code, out, err = review_command(capsys, "https://github.com/octo/app/pull/7", "--dry-run")
    assert (code, err) == (0, "")
    # Reads, and one POST: the installation token, which writes nothing on the repository.
    assert set(kinds(emu)) <= {*READS, "POST"} and kinds(emu).count("POST") == 1
    assert emu.count_requests(operation="apps/create-installation-access-token") == 1
    assert emu.count_requests(operation="apps/get-repo-installation") == 1
    assert emu.reviews(REPO, 7) == [] and emu.check_runs(REPO) == []
    printed = sections(out)

    code, posted_out, _ = review_command(capsys, "octo/app#7")
    assert code == 0 and posted_out.startswith("octo/app#7: reviewed; see the pull request (")
    [review] = emu.reviews(REPO, 7)
    [comment] = emu.review_comments(REPO, 7)
    [check] = emu.check_runs(REPO, head)
    assert review.user == BOT
    body = printed[f"Review (COMMENT) at {head[:12]}, 1 inline comment"]
    assert _RUN_MARKER.sub("", body).rstrip() == _RUN_MARKER.sub("", review.body).rstrip()
    assert printed["Inline comment 1 of 1: Dockerfile lines 8-11"] == comment.body.rstrip()
    shown = printed[f'Check run "Mountie" at {head[:12]}: {check.conclusion}']
    expected = f"Title: {check.title}\nAnnotations: {len(check.annotations)}\nSummary:\n{check.summary}"
    assert shown == expected.rstrip()


def test_a_dry_run_of_a_pr_that_has_nothing_new(
    emu: GitHubEmulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], app_pem: str
) -> None:
    open_pr(emu, {"Dockerfile": MOTIVATING})
    as_app(monkeypatch, emu, app_pem)
    assert review_command(capsys, "octo/app#7")[0] == 0
    emu.clear_requests()
    code, out, _ = review_command(capsys, "octo/app#7", "--dry-run")
    assert code == 0 and "== Review: none (nothing new to post) ==" in out
    assert len(emu.reviews(REPO, 7)) == 1 and len(emu.check_runs(REPO)) == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["octo/app", "--dry-run"], "expected OWNER/REPO#NUMBER or a pull request's URL, got 'octo/app'"),
        (["octo/app#0", "--dry-run"], "expected OWNER/REPO#NUMBER or a pull request's URL, got 'octo/app#0'"),
        (["octo/app#7"], "GITHUB_TOKEN is a user's token: it can only --dry-run"),
        (
            ["octo/app#99", "--dry-run"],
            "octo/app#99: no such pull request, or these credentials cannot see it",
        ),
        (["octo/app#7", "--dry-run", "--env-file", "missing.env"], "--env-file missing.env: no such file"),
    ],
)
def test_mistakes_are_one_line_and_exit_2(
    emu: GitHubEmulator,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    message: str,
) -> None:
    open_pr(emu, {"Dockerfile": MOTIVATING})
    as_user(monkeypatch, emu)
    code, out, err = review_command(capsys, *argv)
    assert (code, out) == (2, "")
    assert err.startswith(f"mountie review: error: {message}") and err.count("\n") == 1


def test_without_credentials_or_the_apps_installation(
    emu: GitHubEmulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], app_pem: str
) -> None:
    code, _, err = review_command(capsys, "octo/app#7", "--dry-run")
    assert code == 2 and "needs the App's settings (GITHUB_APP_ID" in err
    as_app(monkeypatch, emu, app_pem)
    emu.add_repo("someone/else")
    code, _, err = review_command(capsys, "someone/else#1", "--dry-run")
    assert code == 2
    not_installed = f"the App {APP_ID} is not installed on someone/else (or it does not exist)"
    assert err == f"mountie review: error: {not_installed}\n"
    monkeypatch.setenv("GITHUB_APP_ID", "twelve")
    code, _, err = review_command(capsys, "octo/app#7")
    assert code == 2 and err.startswith("mountie review: error: GITHUB_APP_ID: must be the App's numeric id")


def test_the_dry_run_client_refuses_any_write_it_cannot_record(
    emu: GitHubEmulator, settings: AppSettings
) -> None:
    open_pr(emu, {"Dockerfile": MOTIVATING})
    client = DryRunClient(settings, 99, throttle=False)
    with pytest.raises(DryRunWriteError):
        client._request("PATCH", f"/repos/{REPO}/pulls/7", idempotent=True, body={"title": "x"})
    with pytest.raises(DryRunWriteError):
        client._graphql(
            "mutation($id: ID!) { resolveReviewThread(input: {threadId: $id}) { clientMutationId } }",
            {"id": "x"},
        )
    client.resolve_review_thread("PRRT_x")  # a known write: recorded
    assert client.posted.resolved_threads == ["PRRT_x"]
    assert emu.requests == []
