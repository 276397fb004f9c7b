"""App JWT -> installation token -> API, token expiry, JWT rules, and who may touch what."""

from __future__ import annotations

import json

import github
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from bot.testing.github_emulator import FakeClock, GitHubEmulator
from tests.emulator.support import APP_ID, INSTALLATION_ID, REPO, client, raw, review_scenario


def integration(emu: GitHubEmulator, pem: str) -> github.GithubIntegration:
    return github.GithubIntegration(
        auth=github.Auth.AppAuth(APP_ID, pem),
        base_url=emu.url,
        seconds_between_requests=0,
        seconds_between_writes=0,
        retry=None,
    )


def test_app_jwt_to_installation_token_to_pull_request(emu: GitHubEmulator, app_pem: str) -> None:
    scenario = review_scenario(emu)
    gi = integration(emu, app_pem)
    assert gi.get_app().slug == "mountie"
    installation = gi.get_repo_installation("octo", "app")
    assert installation.id == INSTALLATION_ID
    gh = gi.get_github_for_installation(installation.id)
    pr = gh.get_repo(REPO).get_pull(7)
    assert pr.head.sha == scenario.head
    calls = [(r.method, r.operation_id, r.status) for r in emu.requests]
    assert ("POST", "apps/create-installation-access-token", 201) in calls
    assert calls[-1] == ("GET", "pulls/get", 200)


def test_access_token_response_has_expiry_from_the_emulator_clock(
    emu: GitHubEmulator, app_pem: str, clock: FakeClock
) -> None:
    token = integration(emu, app_pem).get_access_token(INSTALLATION_ID)
    assert abs(token.expires_at.timestamp() - (clock.now() + 3600)) <= 1
    assert token.token.startswith("ghs_")


def test_expired_installation_token_gets_401_bad_credentials(emu: GitHubEmulator, clock: FakeClock) -> None:
    emu.token_lifetime = 60
    scenario = review_scenario(emu)
    gh = client(emu, scenario.token)
    gh.get_repo(REPO)
    clock.advance(61)
    with pytest.raises(github.BadCredentialsException) as caught:
        gh.get_repo(REPO)
    assert caught.value.status == 401
    assert caught.value.data["message"] == "Bad credentials"
    assert caught.value.data["documentation_url"].startswith("https://docs.github.com/")


def test_unknown_token_is_bad_credentials(emu: GitHubEmulator) -> None:
    review_scenario(emu)
    response = raw(emu, "GET", f"/repos/{REPO}", token="ghs_not_a_real_token")
    assert (response.status, response.body["message"]) == (401, "Bad credentials")


def make_jwt(key: RSAPrivateKey, *, iat: int, exp: int, iss: object = APP_ID, alg: str = "RS256") -> str:
    # Signed at the JWS level so `iss` may be a number, as many non-Python clients send it.
    payload = json.dumps({"iat": iat, "exp": exp, "iss": iss}).encode()
    return jwt.api_jws.encode(payload, key if alg == "RS256" else "s" * 32, algorithm=alg)


@pytest.mark.parametrize(
    ("iat_offset", "exp_offset", "message"),
    [
        (-60, 600, "'Expiration time' claim ('exp') is too far in the future"),  # exp - iat = 660
        (-700, -1, "'Expiration time' claim ('exp') must be a numeric value"),  # expired
        (120, 300, "'Issued at' claim ('iat') must be an Integer"),  # issued in the future
    ],
)
def test_jwt_time_rules(
    emu: GitHubEmulator,
    app_key: RSAPrivateKey,
    clock: FakeClock,
    *,
    iat_offset: int,
    exp_offset: int,
    message: str,
) -> None:
    now = int(clock.now())
    token = make_jwt(app_key, iat=now + iat_offset, exp=now + exp_offset)
    response = raw(emu, "GET", "/app", headers={"Authorization": f"Bearer {token}"})
    assert response.status == 401
    assert response.body["message"].startswith(message)


def test_jwt_must_be_rs256_signed_by_the_app_key_and_sent_as_bearer(
    emu: GitHubEmulator, app_key: RSAPrivateKey, clock: FakeClock
) -> None:
    now = int(clock.now())
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    bad = {
        "wrong key": make_jwt(other_key, iat=now - 60, exp=now + 300),
        "HS256": make_jwt(app_key, iat=now - 60, exp=now + 300, alg="HS256"),
        "unknown app": make_jwt(app_key, iat=now - 60, exp=now + 300, iss=1),
    }
    for name, token in bad.items():
        response = raw(emu, "GET", "/app", headers={"Authorization": f"Bearer {token}"})
        assert (name, response.status) == (name, 401)
        assert response.body["message"] == "A JSON web token could not be decoded"
    good = make_jwt(app_key, iat=now - 60, exp=now + 300)
    assert raw(emu, "GET", "/app", headers={"Authorization": f"token {good}"}).status == 401
    assert raw(emu, "GET", "/app", headers={"Authorization": f"Bearer {good}"}).status == 200
    # The client id is also accepted as issuer (GitHub's recommendation).
    by_client_id = make_jwt(app_key, iat=now - 60, exp=now + 300, iss=emu.store.apps[APP_ID].client_id)
    assert raw(emu, "GET", "/app", headers={"Authorization": f"Bearer {by_client_id}"}).status == 200


def test_app_endpoints_reject_installation_tokens_and_repo_endpoints_reject_jwts(
    emu: GitHubEmulator, app_key: RSAPrivateKey, clock: FakeClock
) -> None:
    scenario = review_scenario(emu)
    assert raw(emu, "GET", "/app", token=scenario.token).status == 401
    now = int(clock.now())
    app_jwt = make_jwt(app_key, iat=now - 60, exp=now + 300)
    response = raw(emu, "GET", f"/repos/{REPO}", headers={"Authorization": f"Bearer {app_jwt}"})
    assert (response.status, response.body["message"]) == (403, "Resource not accessible by integration")
    assert raw(emu, "GET", f"/repos/{REPO}").status == 401  # no credentials at all


def test_installation_of_another_account_sees_private_repos_as_404(emu: GitHubEmulator) -> None:
    emu.add_repo("other/secret", private=True, files={"Dockerfile": "FROM a\n"})
    emu.add_repo("other/public", files={"Dockerfile": "FROM a\n"})
    token = emu.issue_installation_token(INSTALLATION_ID)
    assert raw(emu, "GET", "/repos/other/secret", token=token).status == 404
    assert raw(emu, "GET", "/repos/other/public", token=token).status == 200
    created = raw(
        emu, "POST", "/repos/other/public/check-runs", {"name": "x", "head_sha": "0" * 40}, token=token
    )
    assert created.status == 403


def test_down_scoped_token_permissions(emu: GitHubEmulator, app_pem: str) -> None:
    review_scenario(emu)
    gi = integration(emu, app_pem)
    token = gi.get_access_token(INSTALLATION_ID, permissions={"pull_requests": "read"}).token
    gh = client(emu, token)
    pr = gh.get_repo(REPO).get_pull(7)
    with pytest.raises(github.GithubException) as caught:
        pr.create_issue_comment("hello")
    assert caught.value.status == 403
    assert caught.value.data["message"] == "Resource not accessible by integration"
    with pytest.raises(github.GithubException) as too_much:
        gi.get_access_token(INSTALLATION_ID, permissions={"administration": "write"})
    assert too_much.value.status == 422


def test_token_limited_to_named_repositories(emu: GitHubEmulator, app_pem: str) -> None:
    review_scenario(emu)
    emu.add_repo("octo/private-two", private=True, files={"a": "b"})
    jwt_token = github.Auth.AppAuth(APP_ID, app_pem).create_jwt()
    response = raw(
        emu,
        "POST",
        f"/app/installations/{INSTALLATION_ID}/access_tokens",
        {"repositories": ["app"]},
        headers={"Authorization": f"Bearer {jwt_token}"},
    )
    assert response.status == 201
    assert [r["full_name"] for r in response.body["repositories"]] == [REPO]
    token = response.body["token"]
    assert raw(emu, "GET", "/repos/octo/private-two", token=token).status == 404
    listing = raw(emu, "GET", "/installation/repositories", token=token)
    assert listing.body["total_count"] == 1
    unknown = raw(
        emu,
        "POST",
        f"/app/installations/{INSTALLATION_ID}/access_tokens",
        {"repositories": ["nope"]},
        headers={"Authorization": f"Bearer {jwt_token}"},
    )
    assert unknown.status == 422


def test_list_installation_repositories_paginates(emu: GitHubEmulator) -> None:
    for index in range(3):
        emu.add_repo(f"octo/repo{index}", files={"Dockerfile": "FROM a\n"})
    emu.add_repo("someone/else", files={"Dockerfile": "FROM a\n"})
    token = emu.issue_installation_token(INSTALLATION_ID)
    first = raw(emu, "GET", "/installation/repositories?per_page=2", token=token)
    assert first.body["total_count"] == 3
    assert len(first.body["repositories"]) == 2
    assert 'rel="next"' in first.headers["link"]
    assert raw(emu, "GET", "/installation/repositories", token="nope").status == 401


def test_user_token_reads_but_cannot_write_checks_or_without_permission(emu: GitHubEmulator) -> None:
    scenario = review_scenario(emu)
    token = emu.add_user_token("ghp_dryrun", login="carol")
    gh = client(emu, token)
    repo = gh.get_repo(REPO)
    assert [f.filename for f in repo.get_pull(7).get_files()] == ["Dockerfile"]
    with pytest.raises(github.GithubException) as caught:
        repo.create_check_run(name="mountie", head_sha=scenario.head)
    assert caught.value.status == 403
    with pytest.raises(github.GithubException) as no_write:
        repo.get_pull(7).create_issue_comment("hi")
    assert no_write.value.status == 403
    emu.set_permission(REPO, "carol", "write")
    assert repo.get_pull(7).create_issue_comment("hi").user.login == "carol"


def test_user_token_expiry(emu: GitHubEmulator, clock: FakeClock) -> None:
    review_scenario(emu)
    emu.add_user_token("ghp_short", expires_in=10)
    assert raw(emu, "GET", f"/repos/{REPO}", token="ghp_short").status == 200
    clock.advance(11)
    assert raw(emu, "GET", f"/repos/{REPO}", token="ghp_short").status == 401


@pytest.mark.parametrize(("lifetime", "token_requests"), [(3600, 1), (15, 2)])
def test_pygithub_honours_the_token_expiry_it_is_given(
    app_key: RSAPrivateKey, app_pem: str, lifetime: int, token_requests: int
) -> None:
    # Real clock: PyGithub compares `expires_at` with its own datetime.now() and refreshes tokens
    # 20 s before they expire, so a 15 s token is replaced on every request.
    with GitHubEmulator(token_lifetime=lifetime) as emu:
        emu.add_app(APP_ID, "mountie", app_key)
        emu.add_installation(INSTALLATION_ID, APP_ID, "octo")
        review_scenario(emu)
        gh = integration(emu, app_pem).get_github_for_installation(INSTALLATION_ID)
        gh.get_repo(REPO)
        gh.get_repo(REPO)
        assert emu.count_requests(operation="apps/create-installation-access-token") == token_requests
