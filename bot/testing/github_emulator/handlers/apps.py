"""GitHub App endpoints: the app itself, installation tokens, manifests, rate limit."""

from __future__ import annotations

import re
import secrets
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bot.testing.github_emulator.auth import (
    AUTH_DOCS,
    JWT_UNDECODABLE,
    check_repo_access,
    issue_installation_token,
)
from bot.testing.github_emulator.clock import iso8601
from bot.testing.github_emulator.context import Context, Response
from bot.testing.github_emulator.errors import ApiError, not_found
from bot.testing.github_emulator.handlers.registry import handles
from bot.testing.github_emulator.state import (
    DEFAULT_APP_EVENTS,
    DEFAULT_APP_PERMISSIONS,
    App,
    Installation,
)


def _require_app(ctx: Context) -> App:
    if ctx.principal.kind == "anonymous":
        raise ApiError(401, "Requires authentication", documentation_url=AUTH_DOCS)
    if ctx.principal.kind != "app" or ctx.principal.app is None:
        # App-level endpoints only take the app's JWT, never an installation or user token.
        raise ApiError(401, JWT_UNDECODABLE, documentation_url=AUTH_DOCS)
    return ctx.principal.app


@handles("apps/get-authenticated")
def get_app(ctx: Context) -> Response:
    return Response(200, ctx.render.app(_require_app(ctx)))


@handles("apps/create-installation-access-token")
def create_token(ctx: Context) -> Response:
    app = _require_app(ctx)
    installation = ctx.store.installations.get(ctx.params["installation_id"])
    if installation is None or installation.app_id != app.id:
        raise not_found()
    names: list[str] = ctx.field("repositories", [])
    ids: list[int] = ctx.field("repository_ids", [])
    scoped: set[str] | None = None
    if names or ids:
        covered = [r for r in ctx.store.repos.values() if installation.covers(r)]
        by_name = {r.name.lower(): r for r in covered if r.owner.lower() == installation.account.lower()}
        by_id = {r.id: r for r in covered}
        if any(n.lower() not in by_name for n in names) or any(i not in by_id for i in ids):
            raise ApiError(
                422,
                "There is at least one repository that does not exist or is not accessible "
                "to the parent installation.",
            )
        scoped = {by_name[n.lower()].full_name for n in names} | {by_id[i].full_name for i in ids}
    token = issue_installation_token(
        ctx.store,
        installation,
        ctx.now,
        ctx.settings.token_lifetime,
        permissions=ctx.field("permissions", None),
        repositories=scoped,
    )
    body: dict[str, Any] = {
        "token": token.token,
        "expires_at": iso8601(token.expires_at or ctx.now),
        "permissions": dict(token.permissions),
        "repository_selection": "selected"
        if scoped is not None or installation.repositories is not None
        else "all",
    }
    if scoped is not None:
        body["repositories"] = [ctx.render.repo(ctx.store.repos[n.lower()]) for n in sorted(scoped)]
    return Response(201, body)


@handles("apps/get-repo-installation")
def get_repo_installation(ctx: Context) -> Response:
    app = _require_app(ctx)
    repo = ctx.store.repo(ctx.params["owner"], ctx.params["repo"])
    installation = next(
        (i for i in ctx.store.installations.values() if i.app_id == app.id and i.covers(repo)), None
    )
    if installation is None:
        raise not_found()
    return Response(200, ctx.render.installation(installation))


@handles("apps/list-repos-accessible-to-installation")
def list_installation_repos(ctx: Context) -> Response:
    token = ctx.principal.token
    if ctx.principal.kind != "installation" or token is None or token.installation_id is None:
        raise ApiError(403, "This endpoint can only be accessed with an installation access token.")
    installation: Installation = ctx.store.installations[token.installation_id]
    repos = sorted(
        (
            r
            for r in ctx.store.repos.values()
            if installation.covers(r) and (token.repositories is None or r.full_name in token.repositories)
        ),
        key=lambda r: r.id,
    )
    for repo in repos:
        check_repo_access(ctx.store, ctx.principal, "repos/get", repo)
    selection = "all" if installation.repositories is None else "selected"
    return ctx.paginate(
        repos,
        ctx.render.repo,
        wrap=lambda page: {
            "total_count": len(repos),
            "repositories": page,
            "repository_selection": selection,
        },
    )


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "app"


@handles("apps/create-from-manifest")
def convert_manifest(ctx: Context) -> Response:
    code = ctx.store.manifest_codes.get(ctx.params["code"])
    # Codes are single-use and expire after an hour; both cases are a plain 404 on GitHub.
    if code is None or code.used or ctx.now - code.created_at > ctx.settings.manifest_code_lifetime:
        raise not_found()
    code.used = True
    manifest = code.manifest
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    name = str(manifest.get("name") or "Mountie")
    app = App(
        id=ctx.store.next_id(),
        slug=_slug(name),
        name=name,
        public_key_pem=public_pem,
        client_id="Iv23li" + secrets.token_hex(7),
        owner=code.owner,
        permissions=dict(manifest.get("default_permissions") or DEFAULT_APP_PERMISSIONS),
        events=list(manifest.get("default_events") or DEFAULT_APP_EVENTS),
        created_at=ctx.now,
    )
    ctx.store.apps[app.id] = app
    ctx.store.user(app.bot_login, "Bot")
    hook = manifest.get("hook_attributes") or {}
    body = ctx.render.app(app)
    body.update(
        {
            "client_secret": secrets.token_hex(20),
            "webhook_secret": secrets.token_hex(20) if hook.get("url") else None,
            "pem": pem.decode(),
        }
    )
    return Response(201, body)


@handles("rate-limit/get")
def rate_limit(ctx: Context) -> Response:
    # GitHub: "Accessing this endpoint does not count against your REST API rate limit."
    def resource(name: str) -> dict[str, int]:
        limit, used, reset = ctx.rate_limits.snapshot(ctx.principal.rate_key, name)
        return {"limit": limit, "remaining": max(0, limit - used), "reset": reset, "used": used}

    resources = {name: resource(name) for name in ("core", "graphql", "search", "integration_manifest")}
    return Response(200, {"resources": resources, "rate": resources["core"]})
