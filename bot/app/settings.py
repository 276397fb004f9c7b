"""App settings from the environment (and a `.env` file). Loading and validation: `load_settings`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DEFAULT_API_URL = "https://api.github.com"


@dataclass(frozen=True, slots=True)
class AppSettings:
    app_id: int
    private_key: str  # PEM text; never logged
    webhook_secret: str  # never logged
    api_url: str = DEFAULT_API_URL
    data_dir: Path = Path("./mountie-data")
    log_level: str = "INFO"
    log_format: str = "text"  # text | json
    # Seconds to wait on a secondary rate limit when GitHub sends no Retry-After.
    secondary_rate_limit_wait: float = 60.0

    @property
    def graphql_url(self) -> str:
        """`{api}/graphql`, or `https://HOST/api/graphql` for GitHub Enterprise Server."""
        base = self.api_url.rstrip("/")
        if base.endswith("/api/v3"):
            return base[: -len("/v3")] + "/graphql"
        return base + "/graphql"
