"""github.com's web side of the App manifest flow: HTML pages, NOT the REST API.

These pages are what a browser sees on github.com while registering an App from a manifest
(docs: "Registering a GitHub App from a manifest"). They are served outside the OpenAPI
validation of the REST emulator, and are recorded with `operation_id` "web:..." so tests can
count them:

    POST /settings/apps/new?state=S                    form field `manifest` (a JSON string):
    POST /organizations/ORG/settings/apps/new?state=S  the "Create GitHub App" page (for ORG)
    POST /settings/apps/new/confirm                    that page's button (an emulator-only path):
                                                       302 to the manifest's `redirect_url`
                                                       with `?code=...&state=S`
    GET /favicon.ico                                   404 (browsers ask for it)

The code converts once, within an hour, at `POST /app-manifests/{code}/conversions` (REST). The
personal account that is "signed in" is `Settings.web_login`. The emulator is stricter than
github.com in one way: a manifest key GitHub does not document is refused rather than ignored,
so a typo in app.yml shows.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

from bot.testing.github_emulator.state import Store

# The keys the manifest docs list ("GitHub App Manifest parameters").
MANIFEST_KEYS = frozenset(
    {
        "name",
        "url",
        "hook_attributes",
        "redirect_url",
        "callback_urls",
        "setup_url",
        "description",
        "public",
        "default_events",
        "default_permissions",
        "request_oauth_on_install",
        "setup_on_update",
    }
)
HOOK_KEYS = frozenset({"url", "active"})
PERMISSION_LEVELS = frozenset({"read", "write", "admin"})
CONFIRM_PATH = "/settings/apps/new/confirm"
FAVICON_PATH = "/favicon.ico"
_NEW_APP = re.compile(r"\A(?:/organizations/(?P<org>[A-Za-z0-9-]+))?/settings/apps/new\Z")


@dataclass
class WebResult:
    status: int
    headers: dict[str, str]
    body: bytes


def is_web_path(method: str, path: str) -> bool:
    if method == "GET":
        return path == FAVICON_PATH  # browsers ask for it on every page
    return method == "POST" and (path == CONFIRM_PATH or _NEW_APP.match(path) is not None)


def operation_name(path: str) -> str:
    if path == FAVICON_PATH:
        return "web:favicon"
    return "web:settings/apps/new/confirm" if path == CONFIRM_PATH else "web:settings/apps/new"


def handle(
    store: Store,
    path: str,
    query: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    web_login: str,
    create_code: Callable[[Mapping[str, object], str], str],
) -> WebResult:
    """One page; `create_code(manifest, owner)` issues the single-use conversion code."""
    if path == FAVICON_PATH:
        return WebResult(404, {"Content-Type": "text/plain"}, b"")
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        return _page(415, "Unsupported form", "The manifest must be posted as an HTML form.")
    form = {key: values[-1] for key, values in parse_qs(body.decode("utf-8", "replace")).items()}
    if path == CONFIRM_PATH:
        return _confirm(form, create_code)
    match = _NEW_APP.match(path)
    assert match is not None
    org = match.group("org")
    owner = org or web_login
    with store.lock:
        store.user(owner, "Organization" if org else "User")
    state = {key: values[-1] for key, values in parse_qs(query).items()}.get("state", "")
    try:
        manifest = parse_manifest(form.get("manifest", ""))
    except ValueError as error:
        return _page(422, "Invalid GitHub App configuration", str(error))
    return _create_form(manifest, owner, state)


def parse_manifest(text: str) -> dict[str, Any]:
    """The manifest as GitHub reads it; ValueError names what is wrong."""
    if not text.strip():
        raise ValueError("The form has no `manifest` field.")
    try:
        manifest = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"The manifest is not JSON ({error.msg}).") from None
    if not isinstance(manifest, dict):
        raise ValueError("The manifest must be a JSON object.")
    unknown = sorted(set(manifest) - MANIFEST_KEYS)
    if unknown:
        raise ValueError(f"Unknown manifest keys: {', '.join(unknown)}.")
    for key in ("name", "url", "redirect_url"):
        if not isinstance(manifest.get(key), str) or not manifest[key].strip():
            raise ValueError(f"`{key}` is required.")
    hook = manifest.get("hook_attributes")
    if hook is not None and (
        not isinstance(hook, dict) or set(hook) - HOOK_KEYS or not isinstance(hook.get("url"), str)
    ):
        raise ValueError("`hook_attributes` takes `url` (required) and `active`.")
    permissions = manifest.get("default_permissions", {})
    if not isinstance(permissions, dict) or any(
        not isinstance(level, str) or level not in PERMISSION_LEVELS for level in permissions.values()
    ):
        raise ValueError("`default_permissions` maps permission names to read, write or admin.")
    events = manifest.get("default_events", [])
    if not isinstance(events, list) or not all(isinstance(event, str) for event in events):
        raise ValueError("`default_events` is a list of event names.")
    if not isinstance(manifest.get("public", False), bool):
        raise ValueError("`public` is true or false.")
    return manifest


def _create_form(manifest: dict[str, Any], owner: str, state: str) -> WebResult:
    permissions = "".join(
        f"<li><code>{html.escape(name)}</code>: {html.escape(level)}</li>"
        for name, level in sorted(manifest.get("default_permissions", {}).items())
    )
    events = ", ".join(html.escape(event) for event in manifest.get("default_events", [])) or "none"
    owner_text = html.escape(owner)
    body = f"""
<h1>Create GitHub App for {owner_text}</h1>
<form method="post" action="{CONFIRM_PATH}">
  <p><label>GitHub App name
    <input id="app-name" name="name" value="{html.escape(manifest["name"])}" required></label></p>
  <p>Permissions:</p><ul id="permissions">{permissions}</ul>
  <p>Events: <span id="events">{events}</span></p>
  <input type="hidden" name="manifest" value="{html.escape(json.dumps(manifest))}">
  <input type="hidden" name="owner" value="{owner_text}">
  <input type="hidden" name="state" value="{html.escape(state)}">
  <button type="submit" id="create-app">Create GitHub App for {owner_text}</button>
</form>"""
    return _html(200, "Create GitHub App", body)


def _confirm(form: Mapping[str, str], create_code: Callable[[Mapping[str, object], str], str]) -> WebResult:
    try:
        manifest = parse_manifest(form.get("manifest", ""))
    except ValueError as error:
        return _page(422, "Invalid GitHub App configuration", str(error))
    name = form.get("name", "").strip()
    if not name:
        return _page(422, "Invalid GitHub App configuration", "Name can't be blank.")
    manifest["name"] = name
    owner = form.get("owner", "").strip()
    if not owner:
        return _page(422, "Invalid GitHub App configuration", "The form names no owner.")
    code = create_code(manifest, owner)
    parts = urlsplit(manifest["redirect_url"])
    extra = {"code": code, **({"state": form["state"]} if form.get("state") else {})}
    query = f"{parts.query}&{urlencode(extra)}" if parts.query else urlencode(extra)
    location = urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))
    return WebResult(302, {"Location": location, "Content-Type": "text/html; charset=utf-8"}, b"")


def _page(status: int, title: str, message: str) -> WebResult:
    return _html(status, title, f'<h1>{html.escape(title)}</h1><p id="error">{html.escape(message)}</p>')


def _html(status: int, title: str, body: str) -> WebResult:
    document = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)} · GitHub"
        f"</title></head><body>{body}</body></html>"
    )
    return WebResult(status, {"Content-Type": "text/html; charset=utf-8"}, document.encode("utf-8"))
