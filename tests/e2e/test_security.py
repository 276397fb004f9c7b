"""Security of the running App, end to end: a real `mountie serve` (receiver + worker) reviews a pull
request against the GitHub emulator with LOG_LEVEL=debug, in both log formats.

* Nothing secret comes out: all the processes' output, the `/metrics` text, and everything the App
  sent to GitHub (check runs, reviews, comments, every request body) are searched for each line of
  the private key, the webhook secret, every installation token the emulator issued, and anything
  shaped like a JWT.
* Least privilege: every installation token is asked for the reviewed repository only
  (`repositories` in the access-token request), and cannot read the installation's other one.
"""

from __future__ import annotations

import dataclasses
import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.testing.github_emulator import GitHubEmulator
from tests.app.support import APP_ID, SECRET, ServerProcess, app_env, payload, private_key_pem
from tests.e2e.test_serve_e2e import MOTIVATING, open_pull_request, wait_for

REPO = "octo/app"
OTHER = "octo/secret-plans"
INSTALLATION_ID = 91
TOKEN_OPERATION = "apps/create-installation-access-token"
JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.")


@pytest.fixture(scope="module")
def emu() -> Iterator[GitHubEmulator]:
    with GitHubEmulator(strict_responses=True) as emulator:
        emulator.add_app(APP_ID, "mountie-bot", private_key_pem())
        emulator.add_installation(INSTALLATION_ID, APP_ID, "octo")
        emulator.add_repo(REPO, files={"README.md": "# app\n"})
        emulator.add_repo(OTHER, files={"plans.txt": "do not read\n"}, private=True)
        yield emulator
        assert emulator.violations == []


@dataclasses.dataclass
class Run:
    output: str  # everything the serve and worker processes wrote
    metrics: str
    head: str
    number: int


def review_once(emu: GitHubEmulator, data_dir: Path, log_format: str, number: int) -> Run:
    head, data = open_pull_request(emu, number, INSTALLATION_ID)
    env = app_env(data_dir, GITHUB_API_URL=emu.url, LOG_LEVEL="debug", LOG_FORMAT=log_format)
    server = ServerProcess(data_dir, "--workers", "1", env=env)
    try:
        response = server.post("pull_request", str(uuid.uuid4()), data)
        assert (response.status_code, response.json()["outcome"]) == (202, "enqueued")
        wait_for(
            "the completed check run",
            lambda: [r for r in emu.check_runs(REPO, head) if r.status == "completed"] or None,
        )
        wait_for("the review", lambda: emu.reviews(REPO, number) or None)
        metrics = httpx.get(f"{server.url}/metrics").text
    finally:
        server.stop()
    return Run(server.log(), metrics, head, number)


@pytest.fixture(scope="module")
def runs(emu: GitHubEmulator, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    return {
        fmt: review_once(emu, tmp_path_factory.mktemp(f"security-{fmt}") / "data", fmt, number)
        for number, fmt in ((11, "text"), (12, "json"))
    }


def secrets(emu: GitHubEmulator) -> dict[str, str]:
    found = {"webhook secret": SECRET}
    for number, line in enumerate(private_key_pem().splitlines(), start=1):
        if line.strip():
            found[f"private key line {number}"] = line.strip()
    for token in emu.store.tokens.values():
        if token.installation_id is not None:
            found[f"installation token {token.token[:8]}..."] = token.token
    return found


def posted(emu: GitHubEmulator, run: Run) -> str:
    """Everything the App wrote to GitHub for this pull request, and every request body it sent."""
    parts = [dataclasses.asdict(r) for r in emu.check_runs(REPO, run.head)]
    parts += [dataclasses.asdict(r) for r in emu.reviews(REPO, run.number)]
    parts += [dataclasses.asdict(c) for c in emu.review_comments(REPO, run.number)]
    parts += [dataclasses.asdict(c) for c in emu.issue_comments(REPO, run.number)]
    parts += [record.body for record in emu.requests if record.body is not None]
    return json.dumps(parts, default=str)


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_no_secret_appears_in_logs_metrics_or_anything_posted(
    emu: GitHubEmulator, runs: dict[str, Run], log_format: str
) -> None:
    run = runs[log_format]
    issued = [t for t in emu.store.tokens.values() if t.installation_id is not None]
    assert issued, "the worker used installation tokens"
    assert "DEBUG" in run.output or '"debug"' in run.output.lower()  # debug logging was on
    assert f"{REPO} #{run.number}" in run.output  # the worker's output is there too
    assert "svc" in posted(emu, run) and run.metrics  # there is something to search
    places = {"process output": run.output, "/metrics": run.metrics, "sent to GitHub": posted(emu, run)}
    for where, text in places.items():
        for what, secret in secrets(emu).items():
            assert secret not in text, f"{what} in {where}"
            assert json.dumps(secret)[1:-1] not in text, f"{what} (JSON-escaped) in {where}"
        assert not JWT.search(text), f"a JWT in {where}: {JWT.search(text)}"


def test_installation_tokens_are_scoped_to_the_reviewed_repository(
    emu: GitHubEmulator, runs: dict[str, Run]
) -> None:
    requests = [r for r in emu.requests if r.operation_id == TOKEN_OPERATION]
    assert requests, "the worker asked for installation tokens"
    for record in requests:
        assert record.path == f"/app/installations/{INSTALLATION_ID}/access_tokens"
        assert record.body == {"repositories": [REPO.split("/")[1]]}, record.body
        assert record.status == 201
    issued = [t for t in emu.store.tokens.values() if t.installation_id == INSTALLATION_ID]
    assert issued and all(t.repositories == {REPO} for t in issued)
    # Such a token reads the reviewed repository, and not the installation's other (private) one,
    # which a token for the whole installation does read.
    auth = {"Authorization": f"token {issued[-1].token}"}
    assert httpx.get(f"{emu.url}/repos/{REPO}", headers=auth).status_code == 200
    assert httpx.get(f"{emu.url}/repos/{OTHER}", headers=auth).status_code in (403, 404)
    whole = {"Authorization": f"token {emu.issue_installation_token(INSTALLATION_ID)}"}
    assert httpx.get(f"{emu.url}/repos/{OTHER}", headers=whole).status_code == 200


def test_a_dockerfile_over_1_mb_is_reported_not_analysed(emu: GitHubEmulator, tmp_path: Path) -> None:
    """The App does not analyse a file over the engine's 1 MiB cap: the check run names it, and the
    other Dockerfile of the pull request is reviewed as usual."""
    repo = emu.store.repos[REPO]
    base = repo.branches[repo.default_branch]
    big = "FROM alpine\n" + "RUN echo padding-padding-padding-padding-padding-padding\n" * 27_000
    assert len(big.encode()) > 1024 * 1024
    files = {"big/Dockerfile": big, "small/Dockerfile": MOTIVATING}
    head = emu.add_commit(REPO, files, parent=base, branch="f-big")
    emu.add_pull_request(REPO, 13, base, head, author="alice")
    data = payload(
        "pull_request.opened",
        number=13,
        **{
            "pull_request.number": 13,
            "pull_request.head.sha": head,
            "repository.full_name": REPO,
            "installation.id": INSTALLATION_ID,
        },
    )
    data_dir = tmp_path / "data"
    server = ServerProcess(data_dir, "--workers", "1", env=app_env(data_dir, GITHUB_API_URL=emu.url))
    try:
        assert server.post("pull_request", str(uuid.uuid4()), data).status_code == 202
        (run,) = wait_for(
            "the completed check run",
            lambda: [r for r in emu.check_runs(REPO, head) if r.status == "completed"] or None,
        )
    finally:
        server.stop()
    assert "`big/Dockerfile`: file is over 1 MB; not analysed" in (run.summary or "")
    assert {a.path for a in run.annotations} == {"small/Dockerfile"}  # the small one is reviewed
