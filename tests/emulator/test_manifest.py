"""App manifest flow: a code converts once, within an hour, into a working app."""

from __future__ import annotations

import github

from bot.testing.github_emulator import FakeClock, GitHubEmulator
from tests.emulator.support import raw

MANIFEST = {
    "name": "Mountie Dev",
    "url": "https://example.test/mountie",
    "hook_attributes": {"url": "https://example.test/webhook"},
    "default_permissions": {"contents": "read", "pull_requests": "write", "checks": "write"},
    "default_events": ["pull_request", "issue_comment"],
}


def test_manifest_code_converts_once_into_an_app_that_can_authenticate(emu: GitHubEmulator) -> None:
    code = emu.create_manifest_code(MANIFEST, owner="octo")
    created = raw(emu, "POST", f"/app-manifests/{code}/conversions")
    assert created.status == 201
    app = created.body
    assert (app["slug"], app["name"], app["owner"]["login"]) == ("mountie-dev", "Mountie Dev", "octo")
    assert app["permissions"] == MANIFEST["default_permissions"]
    assert app["events"] == ["pull_request", "issue_comment"]
    assert app["webhook_secret"] and app["client_secret"] and app["client_id"]
    assert app["pem"].startswith("-----BEGIN RSA PRIVATE KEY-----")

    integration = github.GithubIntegration(
        auth=github.Auth.AppAuth(app["id"], app["pem"]),
        base_url=emu.url,
        retry=None,
        seconds_between_requests=0,
        seconds_between_writes=0,
    )
    assert integration.get_app().slug == "mountie-dev"

    reused = raw(emu, "POST", f"/app-manifests/{code}/conversions")
    assert (reused.status, reused.body["message"]) == (404, "Not Found")


def test_manifest_code_expires_after_an_hour(emu: GitHubEmulator, clock: FakeClock) -> None:
    code = emu.create_manifest_code(MANIFEST)
    clock.advance(3601)
    assert raw(emu, "POST", f"/app-manifests/{code}/conversions").status == 404
    assert raw(emu, "POST", "/app-manifests/unknown/conversions").status == 404
