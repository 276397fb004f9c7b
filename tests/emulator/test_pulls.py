"""Reading a pull request: the PR, its files across pages, file contents, collaborator permission."""

from __future__ import annotations

import base64

import github
import pytest

from bot.testing.github_emulator import GitHubEmulator
from tests.emulator.support import HEAD_DOCKERFILE, REPO, client, raw, review_scenario


def test_get_pull_request(emu: GitHubEmulator) -> None:
    scenario = review_scenario(emu)
    pr = client(emu, scenario.token).get_repo(REPO).get_pull(7)
    assert (pr.number, pr.state, pr.draft, pr.user.login) == (7, "open", False, "alice")
    assert (pr.base.sha, pr.head.sha, pr.head.ref, pr.base.ref) == (
        scenario.base,
        scenario.head,
        "feature-7",
        "main",
    )
    assert (pr.changed_files, pr.additions, pr.deletions, pr.commits) == (1, 1, 2, 1)
    assert pr.head.repo.full_name == REPO


def test_unknown_pull_request_and_repository_are_404_with_github_body(emu: GitHubEmulator) -> None:
    scenario = review_scenario(emu)
    missing_pr = raw(emu, "GET", f"/repos/{REPO}/pulls/999", token=scenario.token)
    assert missing_pr.status == 404
    assert missing_pr.body == {
        "message": "Not Found",
        "documentation_url": "https://docs.github.com/rest/pulls/pulls#get-a-pull-request",
        "status": "404",
    }
    assert raw(emu, "GET", "/repos/octo/nope/pulls/7", token=scenario.token).status == 404
    with pytest.raises(github.UnknownObjectException):
        client(emu, scenario.token).get_repo(REPO).get_pull(999)


def test_fork_and_draft_pull_request(emu: GitHubEmulator) -> None:
    scenario = review_scenario(emu)
    head = emu.add_commit(REPO, {"Dockerfile": "FROM scratch\n"}, parent=scenario.base)
    emu.add_pull_request(REPO, 8, scenario.base, head, author="mallory", from_fork=True, draft=True)
    pr = client(emu, scenario.token).get_repo(REPO).get_pull(8)
    assert pr.draft is True and emu.pull_request(REPO, 8).head_repo == "mallory/app"
    assert pr.head.repo.full_name == "mallory/app" and pr.head.repo.fork is True
    assert pr.head.label == "mallory:feature-8"
    # The base repository serves the fork's head commit (GitHub keeps it under refs/pull/8/head).
    content = client(emu, scenario.token).get_repo(REPO).get_contents("Dockerfile", ref=head)
    assert not isinstance(content, list) and content.decoded_content == b"FROM scratch\n"


def test_list_files_paginates_with_link_headers(emu: GitHubEmulator) -> None:
    files = {f"svc{i:02}/Dockerfile": f"FROM base:{i}\n" for i in range(7)}
    base = emu.add_repo(REPO, files=files)
    head = emu.add_commit(REPO, {path: text.replace("base", "base-new") for path, text in files.items()})
    emu.add_pull_request(REPO, 3, base, head, author="alice")
    token = emu.issue_installation_token(99)

    first = raw(emu, "GET", f"/repos/{REPO}/pulls/3/files?per_page=3", token=token)
    assert [f["filename"] for f in first.body] == ["svc00/Dockerfile", "svc01/Dockerfile", "svc02/Dockerfile"]
    assert first.headers["link"] == (
        f'<{emu.url}/repos/{REPO}/pulls/3/files?per_page=3&page=2>; rel="next", '
        f'<{emu.url}/repos/{REPO}/pulls/3/files?per_page=3&page=3>; rel="last"'
    )
    middle = raw(emu, "GET", f"/repos/{REPO}/pulls/3/files?per_page=3&page=2", token=token)
    assert 'rel="prev"' in middle.headers["link"] and 'rel="first"' in middle.headers["link"]
    last = raw(emu, "GET", f"/repos/{REPO}/pulls/3/files?per_page=3&page=3", token=token)
    assert len(last.body) == 1 and 'rel="next"' not in last.headers["link"]

    emu.clear_requests()
    gh = client(emu, token, per_page=3)
    pr = gh.get_repo(REPO).get_pull(3)
    names = [f.filename for f in pr.get_files()]
    assert names == sorted(files)
    assert emu.count_requests(operation="pulls/list-files") == 3
    assert pr.get_files().totalCount == 7
    patch = next(iter(pr.get_files())).patch
    assert patch == "@@ -1 +1 @@\n-FROM base:0\n+FROM base-new:0"


def test_list_files_stops_at_3000(emu: GitHubEmulator) -> None:
    base = emu.add_repo(REPO, files={"README.md": "x\n"})
    head = emu.add_commit(REPO, {f"f{i:04}.txt": b"\x00" for i in range(3005)})  # binary: no patch work
    emu.add_pull_request(REPO, 4, base, head, author="alice")
    token = emu.issue_installation_token(99)
    last = raw(emu, "GET", f"/repos/{REPO}/pulls/4/files?per_page=100&page=30", token=token)
    assert len(last.body) == 100 and 'rel="next"' not in last.headers["link"]
    assert raw(emu, "GET", f"/repos/{REPO}/pulls/4/files?per_page=100&page=31", token=token).body == []
    assert "patch" not in last.body[0]


def test_per_page_is_capped_at_100(emu: GitHubEmulator) -> None:
    base = emu.add_repo(REPO, files={"README.md": "x\n"})
    head = emu.add_commit(REPO, {f"f{i:03}.txt": b"\x00" for i in range(150)})
    emu.add_pull_request(REPO, 5, base, head, author="alice")
    page = raw(
        emu, "GET", f"/repos/{REPO}/pulls/5/files?per_page=500", token=emu.issue_installation_token(99)
    )
    assert len(page.body) == 100


def test_get_content_at_ref(emu: GitHubEmulator) -> None:
    scenario = review_scenario(emu)
    repo = client(emu, scenario.token).get_repo(REPO)
    content = repo.get_contents("Dockerfile", ref=scenario.head)
    assert not isinstance(content, list)
    assert content.decoded_content.decode() == HEAD_DOCKERFILE
    assert content.encoding == "base64"
    # GitHub wraps base64 at 60 characters.
    assert all(len(line) <= 60 for line in content.content.splitlines())
    default_branch = repo.get_contents("Dockerfile")
    assert not isinstance(default_branch, list) and b"--mount" not in default_branch.decoded_content


def test_get_content_errors_raw_media_type_and_directories(emu: GitHubEmulator) -> None:
    scenario = review_scenario(emu)
    emu.add_commit(REPO, {"docker/base/Dockerfile": "FROM a\n", "docker/README": "r\n"}, branch="main")
    token = scenario.token
    assert raw(emu, "GET", f"/repos/{REPO}/contents/missing?ref={scenario.head}", token=token).status == 404
    bad_ref = raw(emu, "GET", f"/repos/{REPO}/contents/Dockerfile?ref=nope", token=token)
    assert (bad_ref.status, bad_ref.body["message"]) == (404, "No commit found for the ref nope")
    raw_file = raw(
        emu,
        "GET",
        f"/repos/{REPO}/contents/Dockerfile?ref={scenario.head}",
        token=token,
        headers={"Accept": "application/vnd.github.raw+json"},
    )
    assert raw_file.status == 200 and raw_file.body == HEAD_DOCKERFILE.encode()
    listing = raw(emu, "GET", f"/repos/{REPO}/contents/docker", token=token)
    assert [(e["name"], e["type"]) for e in listing.body] == [("README", "file"), ("base", "dir")]
    nested = raw(emu, "GET", f"/repos/{REPO}/contents/docker/base/Dockerfile", token=token)
    assert base64.b64decode(nested.body["content"]) == b"FROM a\n"


def test_content_over_one_megabyte_needs_the_raw_media_type(emu: GitHubEmulator) -> None:
    emu.add_repo(REPO, files={"big.bin": b"x" * (1024 * 1024 + 1)})
    token = emu.issue_installation_token(99)
    response = raw(emu, "GET", f"/repos/{REPO}/contents/big.bin", token=token)
    assert response.status == 403 and response.body["errors"][0]["code"] == "too_large"
    raw_file = raw(
        emu,
        "GET",
        f"/repos/{REPO}/contents/big.bin",
        token=token,
        headers={"Accept": "application/vnd.github.raw"},
    )
    assert raw_file.status == 200 and len(raw_file.body) == 1024 * 1024 + 1


def test_collaborator_permission_levels(emu: GitHubEmulator) -> None:
    scenario = review_scenario(emu)
    emu.set_permission(REPO, "maintainer-mo", "maintain")
    emu.set_permission(REPO, "reader-rae", "read")
    repo = client(emu, scenario.token).get_repo(REPO)
    assert repo.get_collaborator_permission("octo") == "admin"
    assert repo.get_collaborator_permission("maintainer-mo") == "write"  # legacy field folds maintain
    assert repo.get_collaborator_permission("reader-rae") == "read"
    assert repo.get_collaborator_permission("alice") == "read"  # public repo, not a collaborator
    role = raw(emu, "GET", f"/repos/{REPO}/collaborators/maintainer-mo/permission", token=scenario.token)
    assert role.body["role_name"] == "maintain"
    assert (
        raw(emu, "GET", f"/repos/{REPO}/collaborators/ghost/permission", token=scenario.token).status == 404
    )
    emu.add_user("ghost")  # known to GitHub now, but not a collaborator
    assert repo.get_collaborator_permission("ghost") == "read"


def test_rate_limit_endpoint_does_not_count(emu: GitHubEmulator) -> None:
    scenario = review_scenario(emu)
    gh = client(emu, scenario.token)
    gh.get_repo(REPO)
    before = gh.get_rate_limit().resources.core.remaining
    after = gh.get_rate_limit().resources.core.remaining
    assert before == after == 4999
