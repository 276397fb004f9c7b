"""Authentication (app JWTs, installation and personal tokens) and per-operation access checks.

GitHub's JWT rules (docs "Generating a JSON Web Token for a GitHub App"): RS256, `iss` = app id or
client id, `exp` at most 10 minutes ahead, `iat` not in the future. Installation tokens last one
hour. Error texts are GitHub's own where known.
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass
from typing import Literal

import jwt

from bot.testing.github_emulator.errors import ApiError, not_found
from bot.testing.github_emulator.state import App, Installation, Repo, Store, Token

JWT_MAX_LIFETIME = 600
BAD_CREDENTIALS = "Bad credentials"
JWT_UNDECODABLE = "A JSON web token could not be decoded"
JWT_EXPIRED = (
    "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the "
    "assertion expires"
)
JWT_TOO_LONG = "'Expiration time' claim ('exp') is too far in the future"
JWT_BAD_IAT = (
    "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued"
)
NOT_ACCESSIBLE = "Resource not accessible by integration"
NOT_ACCESSIBLE_PAT = "Resource not accessible by personal access token"
AUTH_DOCS = "https://docs.github.com/rest"
_LEVELS = {"none": 0, "read": 1, "write": 2, "admin": 3}
_USER_LEVELS = {"none": 0, "read": 1, "triage": 1, "write": 2, "maintain": 2, "admin": 3}

Access = Literal["app", "installation", "none", "repo"]

# operationId -> (how it is authenticated, app permission it needs, level)
OPERATION_ACCESS: dict[str, tuple[Access, str, str]] = {
    "apps/get-authenticated": ("app", "", ""),
    "apps/create-installation-access-token": ("app", "", ""),
    "apps/get-repo-installation": ("app", "", ""),
    "apps/create-from-manifest": ("none", "", ""),
    "rate-limit/get": ("none", "", ""),
    "apps/list-repos-accessible-to-installation": ("installation", "metadata", "read"),
    "repos/get": ("repo", "metadata", "read"),
    "repos/get-collaborator-permission-level": ("repo", "metadata", "read"),
    "repos/get-content": ("repo", "contents", "read"),
    "pulls/get": ("repo", "pull_requests", "read"),
    "pulls/list-files": ("repo", "pull_requests", "read"),
    "pulls/list-reviews": ("repo", "pull_requests", "read"),
    "pulls/get-review": ("repo", "pull_requests", "read"),
    "pulls/list-review-comments": ("repo", "pull_requests", "read"),
    "pulls/list-comments-for-review": ("repo", "pull_requests", "read"),
    "pulls/get-review-comment": ("repo", "pull_requests", "read"),
    "pulls/create-review": ("repo", "pull_requests", "write"),
    "pulls/submit-review": ("repo", "pull_requests", "write"),
    "pulls/delete-pending-review": ("repo", "pull_requests", "write"),
    "pulls/dismiss-review": ("repo", "pull_requests", "write"),
    "pulls/create-review-comment": ("repo", "pull_requests", "write"),
    "pulls/update-review-comment": ("repo", "pull_requests", "write"),
    "pulls/delete-review-comment": ("repo", "pull_requests", "write"),
    "reactions/create-for-pull-request-review-comment": ("repo", "pull_requests", "write"),
    "checks/create": ("repo", "checks", "write"),
    "checks/update": ("repo", "checks", "write"),
    "checks/get": ("repo", "checks", "read"),
    "checks/list-for-ref": ("repo", "checks", "read"),
    "checks/list-annotations": ("repo", "checks", "read"),
    "issues/list-comments": ("repo", "issues", "read"),
    "issues/get-comment": ("repo", "issues", "read"),
    "issues/create-comment": ("repo", "issues", "write"),
    "issues/update-comment": ("repo", "issues", "write"),
    "reactions/list-for-issue-comment": ("repo", "issues", "read"),
    "reactions/create-for-issue-comment": ("repo", "issues", "write"),
}


@dataclass(frozen=True)
class Principal:
    kind: Literal["app", "installation", "user", "anonymous"]
    login: str  # acting user ("<slug>[bot]" for apps and installations)
    app: App | None = None
    token: Token | None = None

    @property
    def rate_key(self) -> str:
        """Rate limits are counted per installation / user / app, like GitHub does."""
        if self.token is not None and self.token.installation_id is not None:
            return f"installation:{self.token.installation_id}"
        return f"{self.kind}:{self.login}"


ANONYMOUS = Principal("anonymous", "")


def _looks_like_jwt(credential: str) -> bool:
    return credential.count(".") == 2 and credential.startswith("eyJ")


def authenticate(store: Store, header: str | None, now: float) -> Principal:
    if not header:
        return ANONYMOUS
    scheme, _, credential = header.strip().partition(" ")
    scheme, credential = scheme.lower(), credential.strip()
    if scheme not in ("bearer", "token") or not credential:
        raise ApiError(401, BAD_CREDENTIALS, documentation_url=AUTH_DOCS)
    if _looks_like_jwt(credential):
        if scheme != "bearer":  # "JWTs must use the Bearer scheme"
            raise ApiError(401, JWT_UNDECODABLE, documentation_url=AUTH_DOCS)
        app = verify_app_jwt(store, credential, now)
        return Principal("app", app.bot_login, app=app)
    token = store.tokens.get(credential)
    if token is None or (token.expires_at is not None and token.expires_at <= now):
        raise ApiError(401, BAD_CREDENTIALS, documentation_url=AUTH_DOCS)
    if token.kind == "installation":
        assert token.installation_id is not None
        app = store.apps[store.installations[token.installation_id].app_id]
        return Principal("installation", app.bot_login, app=app, token=token)
    return Principal("user", token.login, token=token)


def verify_app_jwt(store: Store, credential: str, now: float) -> App:
    def reject(message: str) -> ApiError:
        return ApiError(401, message, documentation_url=AUTH_DOCS)

    try:
        header = jwt.get_unverified_header(credential)
        unverified = jwt.decode(credential, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise reject(JWT_UNDECODABLE) from exc
    if header.get("alg") != "RS256":
        raise reject(JWT_UNDECODABLE)
    issuer = unverified.get("iss")
    app = next((a for a in store.apps.values() if issuer in (a.id, str(a.id), a.client_id)), None)
    if app is None:
        raise reject(JWT_UNDECODABLE)
    try:
        claims = jwt.decode(
            credential,
            key=app.public_key_pem,
            algorithms=["RS256"],
            # Time claims are checked below against the emulator's (injectable) clock.
            options={"verify_exp": False, "verify_iat": False, "verify_nbf": False, "require": ["iss"]},
        )
    except jwt.PyJWTError as exc:
        raise reject(JWT_UNDECODABLE) from exc
    iat, exp = claims.get("iat"), claims.get("exp")
    if not isinstance(iat, int) or iat > now + 1:
        raise reject(JWT_BAD_IAT)
    if not isinstance(exp, int | float) or exp <= now:
        raise reject(JWT_EXPIRED)
    if exp - iat > JWT_MAX_LIFETIME or exp > now + JWT_MAX_LIFETIME + 1:
        raise reject(JWT_TOO_LONG)
    return app


def new_token(prefix: str) -> str:
    alphabet = string.ascii_letters + string.digits
    return prefix + "".join(secrets.choice(alphabet) for _ in range(36))


def issue_installation_token(
    store: Store,
    installation: Installation,
    now: float,
    lifetime: float,
    *,
    permissions: dict[str, str] | None = None,
    repositories: set[str] | None = None,
) -> Token:
    granted = dict(installation.permissions)
    if permissions:
        for name, level in permissions.items():
            if _LEVELS.get(granted.get(name, "none"), 0) < _LEVELS.get(level, 3):
                raise ApiError(422, "The permissions requested are not granted to this installation.")
        granted = dict(permissions)
    token = Token(
        token=new_token("ghs_"),
        kind="installation",
        expires_at=now + lifetime,
        login=store.apps[installation.app_id].bot_login,
        installation_id=installation.id,
        permissions=granted,
        repositories=repositories,
    )
    store.tokens[token.token] = token
    return token


def user_level(repo: Repo, login: str) -> int:
    if login.lower() == repo.owner.lower():
        return _USER_LEVELS["admin"]
    return _USER_LEVELS[repo.permissions.get(login.lower(), "none")]


def check_repo_access(store: Store, principal: Principal, operation_id: str, repo: Repo) -> None:
    """Raise the 401/403/404 GitHub would answer when `principal` may not run the operation on `repo`."""
    _, permission, level = OPERATION_ACCESS[operation_id]
    writing = level == "write"
    if principal.kind == "anonymous":
        raise ApiError(401, "Requires authentication", documentation_url=AUTH_DOCS)
    if principal.kind == "app":
        raise ApiError(403, NOT_ACCESSIBLE)
    token = principal.token
    assert token is not None
    if principal.kind == "user":
        have = user_level(repo, token.login)
        if have == 0 and repo.private:
            raise not_found()
        if permission == "checks" and writing:  # only GitHub Apps can write check runs
            raise ApiError(403, NOT_ACCESSIBLE_PAT)
        if writing and have < _USER_LEVELS["write"]:
            raise ApiError(403, NOT_ACCESSIBLE_PAT)
        return
    assert token.installation_id is not None
    installation = store.installations[token.installation_id]
    in_scope = installation.covers(repo) and (
        token.repositories is None or repo.full_name.lower() in {r.lower() for r in token.repositories}
    )
    if not in_scope:
        if repo.private:
            raise not_found()
        if writing:
            raise ApiError(403, NOT_ACCESSIBLE)
        return
    # Every installation implicitly has metadata:read, even on down-scoped tokens.
    granted = token.permissions.get(permission, "read" if permission == "metadata" else "none")
    if _LEVELS.get(granted, 0) < _LEVELS[level]:
        raise ApiError(403, NOT_ACCESSIBLE)
