"""The github.com side of the manifest flow (web.py): HTML pages outside the REST API's checks."""

from __future__ import annotations

import json
import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import httpx

from bot.testing.github_emulator import GitHubEmulator

MANIFEST = {
    "name": "Mountie Dev",
    "url": "https://example.test/mountie",
    "hook_attributes": {"url": "https://example.test/webhook"},
    "redirect_url": "http://127.0.0.1:3000/callback?from=setup",
    "default_permissions": {"contents": "read", "checks": "write"},
    "default_events": ["pull_request"],
}


def new_app(emu: GitHubEmulator, path: str, manifest: object, **headers: str) -> httpx.Response:
    return httpx.post(f"{emu.url}{path}", data={"manifest": json.dumps(manifest)}, headers=headers)


def confirm_fields(page: str) -> dict[str, str]:
    return {unescape(n): unescape(v) for n, v in re.findall(r'name="([^"]+)"[^>]*value="([^"]*)"', page)}


def test_the_organisation_page_confirms_and_redirects_with_a_code_and_the_state(emu: GitHubEmulator) -> None:
    page = new_app(emu, "/organizations/acme/settings/apps/new?state=s%201", MANIFEST)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "Create GitHub App for acme" in page.text and "<code>checks</code>: write" in page.text
    fields = confirm_fields(page.text)
    assert fields["owner"] == "acme" and fields["state"] == "s 1" and fields["name"] == "Mountie Dev"
    fields["name"] = "Renamed"
    redirect = httpx.post(f"{emu.url}/settings/apps/new/confirm", data=fields)
    assert redirect.status_code == 302
    location = urlsplit(redirect.headers["location"])
    assert (location.netloc, location.path) == ("127.0.0.1:3000", "/callback")
    query = parse_qs(location.query)
    assert query["from"] == ["setup"] and query["state"] == ["s 1"]

    app = httpx.post(f"{emu.url}/app-manifests/{query['code'][0]}/conversions").json()
    assert (app["name"], app["owner"]["login"], app["owner"]["type"]) == ("Renamed", "acme", "Organization")
    assert app["permissions"] == MANIFEST["default_permissions"]
    operations = [r.operation_id for r in emu.requests]
    assert operations[:2] == ["web:settings/apps/new", "web:settings/apps/new/confirm"]


def test_the_personal_page_belongs_to_the_signed_in_user(emu: GitHubEmulator) -> None:
    emu.settings.web_login = "alice"
    page = new_app(emu, "/settings/apps/new", MANIFEST)
    assert "Create GitHub App for alice" in page.text
    redirect = httpx.post(f"{emu.url}/settings/apps/new/confirm", data=confirm_fields(page.text))
    assert "state" not in parse_qs(urlsplit(redirect.headers["location"]).query)


def test_bad_manifests_get_githubs_error_page(emu: GitHubEmulator) -> None:
    cases = [
        ({**MANIFEST, "default_permission": {}}, "Unknown manifest keys: default_permission."),
        ({k: v for k, v in MANIFEST.items() if k != "url"}, "`url` is required."),
        ({**MANIFEST, "hook_attributes": {"active": True}}, "`hook_attributes` takes `url`"),
        ({**MANIFEST, "default_permissions": {"checks": "all"}}, "read, write or admin"),
        ({**MANIFEST, "public": "yes"}, "`public` is true or false."),
        ([MANIFEST], "must be a JSON object"),
    ]
    for manifest, message in cases:
        page = new_app(emu, "/settings/apps/new", manifest)
        assert page.status_code == 422 and message in unescape(page.text), message
    assert httpx.post(f"{emu.url}/settings/apps/new", data={"manifest": "{"}).status_code == 422
    as_json = httpx.post(f"{emu.url}/settings/apps/new", json={"manifest": MANIFEST})
    assert as_json.status_code == 415
    blank = confirm_fields(new_app(emu, "/settings/apps/new", MANIFEST).text) | {"name": " "}
    assert "Name can&#x27;t be blank." in httpx.post(f"{emu.url}/settings/apps/new/confirm", data=blank).text
    assert httpx.get(f"{emu.url}/favicon.ico").status_code == 404
    assert emu.violations == []  # web pages are not REST operations
