"""`mountie setup` in headless Chromium against the GitHub emulator: from the button on Mountie's
page, through GitHub's "Create GitHub App" page, to the written .env, as a person would do it."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.app.settings import load_settings, read_env_file
from bot.testing.github_emulator import GitHubEmulator
from tests.app.setup_support import SetupProcess
from tests.e2e.browser_support import browser, page

__all__ = ["browser", "page"]  # fixtures

TIMEOUT_MS = 20_000


@pytest.fixture
def emu() -> Iterator[GitHubEmulator]:
    with GitHubEmulator(strict_responses=True) as emulator:
        emulator.settings.web_login = "alice"
        yield emulator
        assert emulator.violations == []


def test_clicking_through_registers_the_app_and_writes_env(
    emu: GitHubEmulator, tmp_path: Path, page: Any
) -> None:
    setup = SetupProcess(emu, tmp_path, "--org", "acme", "--public-url", "https://mountie.acme.example")
    try:
        page.goto(setup.url, timeout=TIMEOUT_MS)
        assert page.title() == "Mountie setup"
        assert "the organisation acme" in page.inner_text("body")
        permissions = page.inner_text("#permissions")
        assert "pull_requests\twrite" in permissions and "contents\tread" in permissions
        page.click("#create-app")

        # github.com's page (the emulator's): the manifest arrived, the name can be changed.
        page.wait_for_url(f"{emu.url}/organizations/acme/settings/apps/new?state=*", timeout=TIMEOUT_MS)
        assert page.inner_text("h1") == "Create GitHub App for acme"
        assert "pull_request, issue_comment, check_run, check_suite" in page.inner_text("#events")
        page.fill("#app-name", "Mountie for Acme")
        page.click("#create-app")

        # Back on Mountie's page, after the code exchange.
        page.wait_for_url(f"{setup.url}callback?*", timeout=TIMEOUT_MS)
        assert page.inner_text("h1") == "Mountie is registered"
        assert page.inner_text("#app-name") == "Mountie for Acme"
        install = page.get_attribute("#install", "href")
        assert install == f"{emu.url}/apps/mountie-for-acme/installations/new"
        status, out, err = setup.finish()
    finally:
        setup.stop()
    assert status == 0, err
    assert install in out

    app = next(iter(emu.store.apps.values()))
    assert (app.name, app.owner) == ("Mountie for Acme", "acme")
    values = read_env_file(setup.env_file)
    assert values["GITHUB_APP_ID"] == str(app.id)
    assert stat.S_IMODE(setup.env_file.stat().st_mode) == 0o600
    key_file = Path(values["GITHUB_PRIVATE_KEY_PATH"])
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert values["GITHUB_WEBHOOK_SECRET"] not in out + err
    settings = load_settings(environ={}, env_file=setup.env_file)
    assert settings.app_id == app.id and settings.api_url == emu.url


def test_a_used_code_shows_a_clear_error_in_the_browser(
    emu: GitHubEmulator, tmp_path: Path, page: Any
) -> None:
    setup = SetupProcess(emu, tmp_path)
    try:
        code = emu.create_manifest_code({"name": "Mountie", "url": "https://example.com"})
        assert httpx.post(f"{emu.url}/app-manifests/{code}/conversions").status_code == 201
        page.goto(f"{setup.url}callback?code={code}&state={setup.state()}", timeout=TIMEOUT_MS)
        error = page.inner_text("#error")
        assert "expired" in error and "already used" in error and "Nothing was written" in error
        page.click("#start-again")
        page.wait_for_url(setup.url, timeout=TIMEOUT_MS)
        assert page.is_visible("#create-app")
    finally:
        setup.stop()
    assert not setup.env_file.exists()
