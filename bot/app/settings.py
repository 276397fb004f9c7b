"""App settings from the environment (and a `.env` file). Loading and validation: `load_settings`.

| Variable | Meaning | Default |
| --- | --- | --- |
| `GITHUB_APP_ID` | the App's numeric id | required |
| `GITHUB_PRIVATE_KEY` | the App's RSA key, PEM text (`\\n` escapes allowed) | one of the two |
| `GITHUB_PRIVATE_KEY_PATH` | a file holding that PEM key | is required |
| `GITHUB_WEBHOOK_SECRET` | the webhook secret | required |
| `GITHUB_API_URL` | REST API root (GitHub Enterprise Server: `https://HOST/api/v3`) | api.github.com |
| `MOUNTIE_DATA_DIR` | queue, delivery ledger, leases, metrics (SQLite files) | `./mountie-data` |
| `MOUNTIE_QUEUE_URL` | `redis://[:PASSWORD@]HOST[:PORT][/DB][?prefix=NAME]`: queue, ledger, leases | SQLite |
| `MOUNTIE_SWEEP_INTERVAL` | seconds between sweeps for reviews lost with a worker | `60` |
| `MOUNTIE_RETRY_DELAY` | seconds before a failed job runs again (doubling); a request: a tenth | `10` |
| `MOUNTIE_GITHUB_THROTTLE` | `off`: no pause between a job's requests (a GHES without limits; tests) | `on` |
| `LOG_LEVEL` | `debug`, `info`, `warning`, `error`, `critical` | `info` |
| `LOG_FORMAT` | `text` or `json` (one object a line) | `text` |
| `MOUNTIE_SECONDARY_RATE_LIMIT_WAIT` | wait (s) on a secondary rate limit without Retry-After | `60` |

The real environment wins over the `.env` file, as python-dotenv and Probot do. A problem raises
`SettingsError` naming the variable; its message never contains a secret.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

DEFAULT_API_URL = "https://api.github.com"
DEFAULT_DATA_DIR = "./mountie-data"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_FORMATS = ("text", "json")


@dataclass(frozen=True, slots=True)
class AppSettings:
    app_id: int
    private_key: str = field(repr=False)  # PEM text; never logged
    webhook_secret: str = field(repr=False)  # never logged
    api_url: str = DEFAULT_API_URL
    data_dir: Path = Path(DEFAULT_DATA_DIR)
    log_level: str = "INFO"
    log_format: str = "text"  # text | json
    # Seconds to wait on a secondary rate limit when GitHub sends no Retry-After.
    secondary_rate_limit_wait: float = 60.0
    # "" keeps the queue, ledger and leases in SQLite in `data_dir`; redis://... puts them in Redis.
    queue_url: str = field(default="", repr=False)  # may hold a password
    sweep_interval: float = 60.0
    retry_delay: float = 10.0
    # PyGithub's pacing of each job's requests (0.25 s apart, writes 1 s apart), as GitHub asks.
    github_throttle: bool = True

    @property
    def graphql_url(self) -> str:
        return graphql_url(self.api_url)

    @property
    def secrets(self) -> tuple[str, ...]:
        """Values the log filter must never let through."""
        password = urlsplit(self.queue_url).password if self.queue_url else None
        return (self.private_key, self.webhook_secret, *([password] if password else []))


def graphql_url(api_url: str) -> str:
    """`{api}/graphql`, or `https://HOST/api/graphql` for GitHub Enterprise Server."""
    base = api_url.rstrip("/")
    if base.endswith("/api/v3"):
        return base[: -len("/v3")] + "/graphql"
    return base + "/graphql"


class SettingsError(Exception):
    """A missing or invalid setting: `str()` is the one line shown at start-up."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"{name}: {problem}")
        self.name = name


def read_env_file(path: Path) -> dict[str, str]:
    """The variables a `.env` file sets (quoting and multi-line PEM values as python-dotenv reads them)."""
    from dotenv import dotenv_values

    try:
        values = dotenv_values(path, encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise SettingsError(str(path), f"cannot read the settings file ({error})") from None
    return {key: value for key, value in values.items() if value is not None}


def load_settings(
    environ: Mapping[str, str] | None = None, env_file: Path | None = None, *, webhook: bool = True
) -> AppSettings:
    """Settings from `environ` (default: os.environ) over `env_file` (when given and present).

    `webhook=False` (commands that receive no webhook, e.g. `mountie review`): the secret is optional."""
    variables: dict[str, str] = {}
    if env_file is not None and env_file.is_file():
        variables.update(read_env_file(env_file))
    variables.update(os.environ if environ is None else environ)

    def get(name: str) -> str:
        return variables.get(name, "").strip()

    return AppSettings(
        app_id=_app_id(get("GITHUB_APP_ID")),
        private_key=_private_key(variables.get("GITHUB_PRIVATE_KEY", ""), get("GITHUB_PRIVATE_KEY_PATH")),
        webhook_secret=_required("GITHUB_WEBHOOK_SECRET", variables.get("GITHUB_WEBHOOK_SECRET", ""))
        if webhook
        else variables.get("GITHUB_WEBHOOK_SECRET", ""),
        api_url=_api_url(get("GITHUB_API_URL") or DEFAULT_API_URL),
        data_dir=Path(get("MOUNTIE_DATA_DIR") or DEFAULT_DATA_DIR).expanduser().absolute(),
        log_level=_choice("LOG_LEVEL", (get("LOG_LEVEL") or "INFO").upper(), LOG_LEVELS),
        log_format=_choice("LOG_FORMAT", (get("LOG_FORMAT") or "text").lower(), LOG_FORMATS),
        secondary_rate_limit_wait=_seconds(
            "MOUNTIE_SECONDARY_RATE_LIMIT_WAIT", get("MOUNTIE_SECONDARY_RATE_LIMIT_WAIT") or "60"
        ),
        queue_url=_queue_url(get("MOUNTIE_QUEUE_URL")),
        sweep_interval=_positive_seconds("MOUNTIE_SWEEP_INTERVAL", get("MOUNTIE_SWEEP_INTERVAL") or "60"),
        retry_delay=_seconds("MOUNTIE_RETRY_DELAY", get("MOUNTIE_RETRY_DELAY") or "10"),
        github_throttle=_choice(
            "MOUNTIE_GITHUB_THROTTLE", (get("MOUNTIE_GITHUB_THROTTLE") or "on").lower(), ("on", "off")
        )
        == "on",
    )


def ensure_data_dir(settings: AppSettings) -> None:
    """Create the data directory (the queue, ledger and metrics live there) or explain why not."""
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        probe = settings.data_dir / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        reason = error.strerror or str(error)
        raise SettingsError("MOUNTIE_DATA_DIR", f"{settings.data_dir} is not writable ({reason})") from None


def _required(name: str, value: str) -> str:
    if not value.strip():
        raise SettingsError(name, "not set")
    return value


def _app_id(value: str) -> int:
    if not value:
        raise SettingsError("GITHUB_APP_ID", "not set")
    if not value.isdigit() or int(value) <= 0:
        raise SettingsError("GITHUB_APP_ID", f"must be the App's numeric id (got {value[:40]!r})")
    return int(value)


def _private_key(text: str, path: str) -> str:
    if text.strip() and path:
        raise SettingsError("GITHUB_PRIVATE_KEY", "set either it or GITHUB_PRIVATE_KEY_PATH, not both")
    name = "GITHUB_PRIVATE_KEY"
    if path:
        name = "GITHUB_PRIVATE_KEY_PATH"
        try:
            text = Path(path).expanduser().read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            reason = getattr(error, "strerror", None) or type(error).__name__
            raise SettingsError(name, f"cannot read {path} ({reason})") from None
    elif not text.strip():
        raise SettingsError("GITHUB_PRIVATE_KEY", "not set (nor GITHUB_PRIVATE_KEY_PATH)")
    # One-line environment variables often carry the PEM's newlines as `\n`.
    pem = text.strip().replace("\\n", "\n") + "\n"
    _check_rsa_key(name, pem)
    return pem


def _check_rsa_key(name: str, pem: str) -> None:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    if "-----BEGIN" not in pem or "PRIVATE KEY-----" not in pem:
        raise SettingsError(name, "is not a PEM private key (expected -----BEGIN ... PRIVATE KEY-----)")
    try:
        key = load_pem_private_key(pem.encode("utf-8"), password=None)
    except (ValueError, TypeError) as error:
        # The library's message says what is wrong with the encoding, never the key itself.
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise SettingsError(name, f"the PEM private key cannot be loaded ({reason})") from None
    if not isinstance(key, RSAPrivateKey):
        raise SettingsError(name, "GitHub App keys are RSA keys; this is another kind of key")


def _api_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise SettingsError(
            "GITHUB_API_URL", f"must be an http(s) URL such as https://HOST/api/v3 (got {value[:80]!r})"
        )
    return value.rstrip("/")


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        choices = ", ".join(choice.lower() for choice in allowed)
        raise SettingsError(name, f"must be one of {choices} (got {value.lower()[:40]!r})")
    return value


QUEUE_SCHEMES = ("redis", "rediss", "unix")
_PREFIX = re.compile(r"[A-Za-z0-9_]{1,64}")


def _queue_url(value: str) -> str:
    """A Redis URL redis-py understands, with an optional `prefix` for Mountie's keys; never echoed
    back whole in an error, since it may carry a password."""
    if not value:
        return ""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise SettingsError("MOUNTIE_QUEUE_URL", "is not a URL") from None
    if parts.scheme not in QUEUE_SCHEMES or not (parts.hostname or parts.path):
        raise SettingsError(
            "MOUNTIE_QUEUE_URL", f"must be a redis://HOST[:PORT][/DB] URL (got scheme {parts.scheme!r})"
        )
    prefix = parse_qs(parts.query).get("prefix", [""])[-1]
    if prefix and not _PREFIX.fullmatch(prefix):
        raise SettingsError("MOUNTIE_QUEUE_URL", "prefix= may hold only letters, digits and _")
    return value


def _positive_seconds(name: str, value: str) -> float:
    seconds = _seconds(name, value)
    if seconds <= 0:
        raise SettingsError(name, f"must be a number of seconds above 0 (got {value[:40]!r})")
    return seconds


def _seconds(name: str, value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or seconds < 0:
        raise SettingsError(name, f"must be a number of seconds, 0 or more (got {value[:40]!r})")
    return seconds
