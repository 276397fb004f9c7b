"""GitHub App credentials: the app's JWT and a cached installation token.

The JWT comes from PyGithub's `Auth.AppAuth`: RS256, `iss` = app id, `iat` 60 s in the past (clock
drift) and `exp` 5 minutes ahead, within GitHub's 10-minute limit. Installation tokens last an hour;
`InstallationTokens` keeps one until a minute before it expires, and `invalidate()` drops it when
GitHub answers 401 anyway (clock skew, revocation). PyGithub's `AppInstallationAuth` caches too,
but offers no way to drop a token GitHub has refused.
"""

from __future__ import annotations

from collections.abc import Callable

from github import Auth, Consts

REFRESH_MARGIN = 60.0  # seconds before `expires_at` at which a token counts as expired

# The claims `AppCredentials` asks PyGithub for (GitHub: `exp` at most 10 minutes ahead).
JWT_ISSUED_AT = Consts.DEFAULT_JWT_ISSUED_AT  # -60
JWT_EXPIRY = Consts.DEFAULT_JWT_EXPIRY  # 300


def app_auth(app_id: int, private_key: str) -> Auth.AppAuth:
    return Auth.AppAuth(app_id, private_key, jwt_expiry=JWT_EXPIRY, jwt_issued_at=JWT_ISSUED_AT)


class InstallationTokens:
    """One installation's token, fetched by `fetch` (which returns the token and its expiry time)."""

    def __init__(self, fetch: Callable[[], tuple[str, float]], clock: Callable[[], float]) -> None:
        self._fetch = fetch
        self._clock = clock
        self._token: str | None = None
        self._expires_at = 0.0

    def current(self) -> str:
        """A token valid for at least `REFRESH_MARGIN` more seconds (fetching one if needed)."""
        if self._token is None or self._expires_at - REFRESH_MARGIN <= self._clock():
            self._token, self._expires_at = self._fetch()
        return self._token

    def invalidate(self) -> None:
        self._token = None


class InstallationTokenAuth(Auth.Auth):
    """PyGithub `Auth` sending the installation token as `Authorization: token ...`."""

    def __init__(self, tokens: InstallationTokens) -> None:
        self._tokens = tokens

    @property
    def token_type(self) -> str:
        return "token"

    @property
    def token(self) -> str:
        return self._tokens.current()

    @property
    def _masked_token(self) -> str:
        return "token (installation token removed)"
