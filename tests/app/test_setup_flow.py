"""`mountie setup` (bot/app/setup_flow.py): the manifest flow against the GitHub emulator's web
pages and REST API, driven over HTTP the way a browser would (tests/e2e/test_setup_browser.py
clicks through it in headless Chromium), plus the .env writing on its own."""

from __future__ import annotations

import io
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import github
import httpx
import pytest

from bot.app.manifest import load_manifest
from bot.app.settings import load_settings, read_env_file
from bot.app.setup_flow import (
    Registration,
    SetupOptions,
    existing_app_id,
    install_url,
    new_app_url,
    options_from_args,
    run_setup,
    write_credentials,
)
from bot.cli import build_parser
from bot.testing.github_emulator import FakeClock, GitHubEmulator
from tests.app.setup_support import SetupProcess, form_fields
from tests.app.support import APP_ID, private_key_pem
from tests.deploy.support import ROOT

MANIFEST = load_manifest(ROOT / "app.yml")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def emu(clock: FakeClock) -> Iterator[GitHubEmulator]:
    with GitHubEmulator(clock=clock, strict_responses=True) as emulator:
        yield emulator
        assert emulator.violations == []


@pytest.fixture
def setup(emu: GitHubEmulator, tmp_path: Path) -> Iterator[SetupProcess]:
    process = SetupProcess(emu, tmp_path, "--public-url", "https://mountie.example.com")
    yield process
    process.stop()


def post_confirmation(setup: SetupProcess, emu: GitHubEmulator, name: str | None = None) -> httpx.Response:
    action, fields = form_fields(setup.start_page())
    confirm = httpx.post(action, data=fields, timeout=10)
    assert confirm.status_code == 200, confirm.text
    confirm_action, confirm_fields = form_fields(confirm.text)
    if name is not None:
        confirm_fields["name"] = name
    redirect = httpx.post(emu.url + confirm_action, data=confirm_fields, timeout=10)
    assert redirect.status_code == 302
    return httpx.get(redirect.headers["location"], timeout=30)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_flow_registers_the_app_and_writes_its_credentials(
    setup: SetupProcess, emu: GitHubEmulator, tmp_path: Path
) -> None:
    page = setup.start_page()
    assert "your personal account" in page and "https://mountie.example.com/webhook" in page
    done = post_confirmation(setup, emu, name="Mountie Acme")
    assert done.status_code == 200 and "Mountie is registered" in done.text
    status, out, err = setup.finish()
    assert status == 0, err

    app = next(a for a in emu.store.apps.values() if a.name == "Mountie Acme")
    assert (app.owner, app.slug) == ("octocat", "mountie-acme")
    assert app.permissions == MANIFEST["default_permissions"]
    assert app.events == MANIFEST["default_events"]
    values = read_env_file(setup.env_file)
    assert values["GITHUB_APP_ID"] == str(app.id)
    assert set(values) == {
        "GITHUB_APP_ID",
        "GITHUB_PRIVATE_KEY_PATH",
        "GITHUB_WEBHOOK_SECRET",
        "GITHUB_CLIENT_ID",
        "GITHUB_CLIENT_SECRET",
        "GITHUB_API_URL",
    }
    key_file = Path(values["GITHUB_PRIVATE_KEY_PATH"])
    assert key_file.parent == tmp_path and key_file.name.startswith("mountie-acme.")
    assert mode(setup.env_file) == 0o600 and mode(key_file) == 0o600
    # Never printed: the key, the webhook secret, the client secret.
    for secret in (values["GITHUB_WEBHOOK_SECRET"], values["GITHUB_CLIENT_SECRET"], "PRIVATE KEY"):
        assert secret not in out + err + setup.first_line + done.text
    assert install_url(emu.url, "mountie-acme") in out and install_url(emu.url, "mountie-acme") in done.text

    # The written settings work: load them and authenticate as the new App.
    settings = load_settings(environ={}, env_file=setup.env_file)
    assert settings.app_id == app.id and settings.api_url == emu.url
    integration = github.GithubIntegration(
        auth=github.Auth.AppAuth(settings.app_id, settings.private_key), base_url=emu.url, retry=None
    )
    assert integration.get_app().slug == "mountie-acme"


def test_an_organisation_gets_the_organisation_form(emu: GitHubEmulator, tmp_path: Path) -> None:
    setup = SetupProcess(emu, tmp_path, "--org", "acme", "--key-in-env")
    try:
        action, _ = form_fields(setup.start_page())
        assert urlsplit(action).path == "/organizations/acme/settings/apps/new"
        assert "the organisation <b>acme</b>" in setup.start_page()
        assert "inactive for now" in setup.start_page()  # no --public-url
        post_confirmation(setup, emu)
        status, out, err = setup.finish()
        assert status == 0, err
        assert "The webhook is inactive" in out
    finally:
        setup.stop()
    app = next(iter(emu.store.apps.values()))
    assert app.owner == "acme"
    values = read_env_file(setup.env_file)
    assert "GITHUB_PRIVATE_KEY_PATH" not in values and "BEGIN RSA PRIVATE KEY" in values["GITHUB_PRIVATE_KEY"]
    assert load_settings(environ={}, env_file=setup.env_file).app_id == app.id
    assert list(tmp_path.glob("*.pem")) == []


def test_a_callback_without_the_state_of_this_run_is_refused(
    setup: SetupProcess, emu: GitHubEmulator
) -> None:
    code = emu.create_manifest_code(MANIFEST)
    for query in (f"code={code}&state=forged", f"code={code}"):
        answer = httpx.get(f"{setup.url}callback?{query}", timeout=10)
        assert (
            answer.status_code == 400 and "did not come from the GitHub page this setup opened" in answer.text
        )
    assert not setup.env_file.exists() and not emu.store.manifest_codes[code].used
    answer = httpx.get(f"{setup.url}callback?state={setup.state()}", timeout=10)
    assert answer.status_code == 400 and "no code" in answer.text


def test_a_reused_code_is_a_clear_error_and_the_flow_can_start_again(
    setup: SetupProcess, emu: GitHubEmulator
) -> None:
    code = emu.create_manifest_code(MANIFEST)
    assert httpx.post(f"{emu.url}/app-manifests/{code}/conversions").status_code == 201  # used once
    answer = httpx.get(f"{setup.url}callback?code={code}&state={setup.state()}", timeout=30)
    assert answer.status_code == 400
    assert "expired (codes are valid for one hour) or it was already used" in answer.text
    assert "Start again" in answer.text and not setup.env_file.exists()
    # The page stays up: going through it again works.
    assert post_confirmation(setup, emu).status_code == 200
    assert setup.finish()[0] == 0


def test_an_expired_code_is_a_clear_error(setup: SetupProcess, emu: GitHubEmulator, clock: FakeClock) -> None:
    code = emu.create_manifest_code(MANIFEST)
    clock.advance(3601)
    answer = httpx.get(f"{setup.url}callback?code={code}&state={setup.state()}", timeout=30)
    assert answer.status_code == 400 and "expired" in answer.text
    assert not setup.env_file.exists()
    setup.stop()
    status, _, err = setup.finish()
    assert status != 0 and "no App was registered" not in err  # stopped by a signal, not timed out


def test_giving_up_reports_why(emu: GitHubEmulator, tmp_path: Path) -> None:
    code = emu.create_manifest_code(MANIFEST)
    httpx.post(f"{emu.url}/app-manifests/{code}/conversions")
    setup = SetupProcess(emu, tmp_path, timeout=3.0)
    try:
        httpx.get(f"{setup.url}callback?code={code}&state={setup.state()}", timeout=30)
        status, _, err = setup.finish()
    finally:
        setup.stop()
    assert status == 2
    assert "already used" in err and "no App was registered within 3 s" in err


def test_an_env_file_with_an_app_is_not_overwritten_without_force(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text('LOG_LEVEL=debug\nGITHUB_APP_ID="77"\n', encoding="utf-8")
    err = io.StringIO()
    status = run_setup(SetupOptions(env_file=env_file, open_browser=False, timeout=0.1), io.StringIO(), err)
    assert status == 2 and "GITHUB_APP_ID=77" in err.getvalue() and "--force" in err.getvalue()
    assert existing_app_id(env_file) == "77"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (SetupOptions(org="no/such org"), "--org"),
        (SetupOptions(public_url="mountie.example.com"), "--public-url must be an http(s) URL"),
        (SetupOptions(key_in_env=True, key_file=Path("k.pem")), "exclude each other"),
        (SetupOptions(manifest=Path("/no/such/app.yml")), "cannot read the App manifest"),
    ],
)
def test_wrong_options_are_refused_before_anything_starts(
    options: SetupOptions, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    err = io.StringIO()
    assert run_setup(options, io.StringIO(), err) == 2
    assert message in err.getvalue()


def test_the_form_posts_to_githubs_new_app_pages() -> None:
    assert new_app_url("https://github.com", None, "s1") == "https://github.com/settings/apps/new?state=s1"
    assert (
        new_app_url("https://ghe.example.com/", "acme", "a b")
        == "https://ghe.example.com/organizations/acme/settings/apps/new?state=a+b"
    )
    assert install_url("https://github.com", "mountie") == "https://github.com/apps/mountie/installations/new"


def registration(**changes: object) -> Registration:
    data = {
        "id": APP_ID,
        "slug": "mountie",
        "name": "Mountie",
        "owner": {"login": "acme"},
        "client_id": "Iv23li0c1d",
        "client_secret": 'se"cret\\',
        "webhook_secret": "hook-secret",
        "pem": private_key_pem(),
        **changes,
    }
    return Registration.from_json(data)


def test_credentials_replace_an_apps_lines_and_keep_the_rest(tmp_path: Path) -> None:
    env_file = tmp_path / "deploy" / ".env"
    env_file.parent.mkdir()
    env_file.write_text(
        "# mine\nLOG_LEVEL=debug\nGITHUB_APP_ID=1\n"
        'GITHUB_PRIVATE_KEY="-----BEGIN RSA PRIVATE KEY-----\nold-key-body\n-----END RSA PRIVATE KEY-----"\n'
        "export GITHUB_WEBHOOK_SECRET='old'\nMOUNTIE_DATA_DIR=/data\n",
        encoding="utf-8",
    )
    os.chmod(env_file, 0o644)
    written = write_credentials(registration(), SetupOptions(env_file=env_file, force=True))
    text = env_file.read_text(encoding="utf-8")
    assert text.startswith("# mine\nLOG_LEVEL=debug\n") and "MOUNTIE_DATA_DIR=/data" in text
    assert "old-key-body" not in text and "old" not in text and "GITHUB_API_URL" not in text
    values = read_env_file(env_file)
    assert values["GITHUB_CLIENT_SECRET"] == 'se"cret\\'  # quoting survives python-dotenv
    assert values["GITHUB_WEBHOOK_SECRET"] == "hook-secret"
    assert written.key_file is not None and written.key_file.read_text(encoding="utf-8") == private_key_pem()
    assert mode(env_file) == 0o600 and mode(written.key_file) == 0o600
    assert load_settings(environ={}, env_file=env_file).app_id == APP_ID


def test_without_a_webhook_secret_from_github_one_is_generated(tmp_path: Path) -> None:
    written = write_credentials(
        registration(webhook_secret=None), SetupOptions(env_file=tmp_path / ".env", key_in_env=True)
    )
    assert written.generated_webhook_secret and written.key_file is None
    values = read_env_file(tmp_path / ".env")
    assert len(values["GITHUB_WEBHOOK_SECRET"]) == 40
    assert load_settings(environ={}, env_file=tmp_path / ".env").private_key == private_key_pem()


@pytest.mark.parametrize(
    ("argv", "environ", "api_url"),
    [
        ([], {}, "https://api.github.com"),
        (["--github-url", "https://ghe.example.com/"], {}, "https://ghe.example.com/api/v3"),
        (
            ["--github-url", "https://ghe.example.com"],
            {"GITHUB_API_URL": "https://api.ghe.test"},
            "https://api.ghe.test",
        ),
        (["--api-url", "http://127.0.0.1:9"], {"GITHUB_API_URL": "https://x.test"}, "http://127.0.0.1:9"),
    ],
)
def test_the_api_url_follows_the_github_url(
    argv: list[str], environ: dict[str, str], api_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_API_URL", raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    args = build_parser().parse_args(["setup", *argv])
    options = options_from_args(args)
    assert options.api_url == api_url
    assert (options.env_file, options.port, options.open_browser) == (Path(".env"), 0, True)
