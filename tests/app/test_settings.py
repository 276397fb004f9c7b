"""Settings from the environment and a .env file; every mistake names its variable in one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from bot.app.settings import AppSettings, SettingsError, ensure_data_dir, load_settings
from tests.app.support import APP_ID, ROOT, SECRET, app_env, private_key_pem


def env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    values = app_env(tmp_path / "data", **overrides)
    return {k: v for k, v in values.items() if v != "<unset>"}


def test_complete_environment(tmp_path: Path) -> None:
    settings = load_settings(
        env(
            tmp_path,
            GITHUB_API_URL="https://ghe.example.com/api/v3/",
            LOG_LEVEL="debug",
            LOG_FORMAT="JSON",
            MOUNTIE_SECONDARY_RATE_LIMIT_WAIT="2.5",
        )
    )
    assert settings.app_id == APP_ID
    assert settings.private_key.strip() == private_key_pem().strip()
    assert settings.webhook_secret == SECRET
    assert settings.api_url == "https://ghe.example.com/api/v3"
    assert settings.graphql_url == "https://ghe.example.com/api/graphql"
    assert settings.data_dir == tmp_path / "data"
    assert (settings.log_level, settings.log_format) == ("DEBUG", "json")
    assert settings.secondary_rate_limit_wait == 2.5


def test_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    values = env(tmp_path, MOUNTIE_DATA_DIR="<unset>", LOG_LEVEL="<unset>", GITHUB_API_URL="<unset>")
    settings = load_settings(values)
    assert settings.api_url == "https://api.github.com"
    assert settings.data_dir == tmp_path / "mountie-data"
    assert (settings.log_level, settings.log_format, settings.secondary_rate_limit_wait) == (
        "INFO",
        "text",
        60.0,
    )


def test_dotenv_file_with_a_quoted_multiline_key_and_the_environment_winning(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text(
        "# written like Probot's .env\n"
        "GITHUB_APP_ID=1\n"
        f'GITHUB_PRIVATE_KEY="{private_key_pem()}"\n'
        "GITHUB_WEBHOOK_SECRET='from the file'\n"
        "LOG_FORMAT=json\n",
        encoding="utf-8",
    )
    settings = load_settings({"GITHUB_APP_ID": "77", "MOUNTIE_DATA_DIR": str(tmp_path)}, dotenv)
    assert settings.app_id == 77  # the real environment wins
    assert settings.webhook_secret == "from the file"
    assert settings.log_format == "json"
    assert settings.private_key.startswith("-----BEGIN PRIVATE KEY-----\n")


def test_escaped_newlines_and_a_key_file(tmp_path: Path) -> None:
    one_line = private_key_pem().strip().replace("\n", "\\n")
    assert load_settings(env(tmp_path, GITHUB_PRIVATE_KEY=one_line)).private_key == private_key_pem()
    key_file = tmp_path / "app.pem"
    key_file.write_text(private_key_pem(), encoding="utf-8")
    from_file = load_settings(
        env(tmp_path, GITHUB_PRIVATE_KEY="<unset>", GITHUB_PRIVATE_KEY_PATH=str(key_file))
    )
    assert from_file.private_key == private_key_pem()


def _ec_key() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@pytest.mark.parametrize(
    ("overrides", "name", "words"),
    [
        ({"GITHUB_APP_ID": "<unset>"}, "GITHUB_APP_ID", "not set"),
        ({"GITHUB_APP_ID": "my-app"}, "GITHUB_APP_ID", "numeric id"),
        ({"GITHUB_APP_ID": "0"}, "GITHUB_APP_ID", "numeric id"),
        ({"GITHUB_PRIVATE_KEY": "<unset>"}, "GITHUB_PRIVATE_KEY", "not set"),
        ({"GITHUB_PRIVATE_KEY": "not a key"}, "GITHUB_PRIVATE_KEY", "not a PEM private key"),
        (
            {"GITHUB_PRIVATE_KEY": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"},
            "GITHUB_PRIVATE_KEY",
            "cannot be loaded",
        ),
        ({"GITHUB_PRIVATE_KEY": "EC"}, "GITHUB_PRIVATE_KEY", "RSA"),
        ({"GITHUB_PRIVATE_KEY_PATH": "/nonexistent/key.pem"}, "GITHUB_PRIVATE_KEY", "not both"),
        (
            {"GITHUB_PRIVATE_KEY": "<unset>", "GITHUB_PRIVATE_KEY_PATH": "/nonexistent/key.pem"},
            "GITHUB_PRIVATE_KEY_PATH",
            "cannot read /nonexistent/key.pem",
        ),
        ({"GITHUB_WEBHOOK_SECRET": "<unset>"}, "GITHUB_WEBHOOK_SECRET", "not set"),
        ({"GITHUB_WEBHOOK_SECRET": "   "}, "GITHUB_WEBHOOK_SECRET", "not set"),
        ({"GITHUB_API_URL": "api.github.com"}, "GITHUB_API_URL", "http(s) URL"),
        ({"GITHUB_API_URL": "ftp://example.com"}, "GITHUB_API_URL", "http(s) URL"),
        ({"LOG_LEVEL": "verbose"}, "LOG_LEVEL", "one of debug, info"),
        ({"LOG_FORMAT": "yaml"}, "LOG_FORMAT", "one of text, json"),
        ({"MOUNTIE_SECONDARY_RATE_LIMIT_WAIT": "soon"}, "MOUNTIE_SECONDARY_RATE_LIMIT_WAIT", "seconds"),
        ({"MOUNTIE_SECONDARY_RATE_LIMIT_WAIT": "-1"}, "MOUNTIE_SECONDARY_RATE_LIMIT_WAIT", "seconds"),
        ({"MOUNTIE_SECONDARY_RATE_LIMIT_WAIT": "nan"}, "MOUNTIE_SECONDARY_RATE_LIMIT_WAIT", "seconds"),
    ],
)
def test_each_mistake_names_its_setting(
    tmp_path: Path, overrides: dict[str, str], name: str, words: str
) -> None:
    if overrides.get("GITHUB_PRIVATE_KEY") == "EC":
        overrides = {**overrides, "GITHUB_PRIVATE_KEY": _ec_key()}
    with pytest.raises(SettingsError) as raised:
        load_settings(env(tmp_path, **overrides))
    message = str(raised.value)
    assert raised.value.name == name
    assert message.startswith(f"{name}: ") and words in message
    assert "\n" not in message
    assert "PRIVATE KEY-----\n" not in message and SECRET not in message


def test_an_unwritable_data_directory_is_a_settings_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory", encoding="utf-8")
    settings = load_settings(env(tmp_path, MOUNTIE_DATA_DIR=str(blocker / "data")))
    with pytest.raises(SettingsError, match=r"^MOUNTIE_DATA_DIR: .* is not writable"):
        ensure_data_dir(settings)


def test_repr_shows_no_secret(tmp_path: Path) -> None:
    settings = load_settings(env(tmp_path))
    shown = repr(settings)
    assert "PRIVATE KEY" not in shown and SECRET not in shown and str(APP_ID) in shown
    assert settings.secrets == (settings.private_key, SECRET)
    assert isinstance(settings, AppSettings)


@pytest.mark.parametrize("command", ["serve", "worker"])
def test_the_commands_stop_with_one_line_and_status_2(tmp_path: Path, command: str) -> None:
    values = env(tmp_path, GITHUB_WEBHOOK_SECRET="<unset>")
    done = subprocess.run(
        [sys.executable, "-m", "bot", command],
        cwd=tmp_path,
        env=values,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr == f"mountie {command}: error: GITHUB_WEBHOOK_SECRET: not set\n"
    assert done.stdout == ""


def test_a_missing_env_file_named_on_the_command_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bot", "worker", "--env-file", "missing.env"],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert (done.returncode, done.stderr) == (
        2,
        "mountie worker: error: --env-file missing.env: no such file\n",
    )
