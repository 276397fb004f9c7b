"""app.yml, the GitHub App manifest: only parameters GitHub accepts, every routed event subscribed,
and exactly the permissions the App's API calls need.

Sources of truth: GitHub's OpenAPI description bundled with the emulator (its `app-permissions`
schema names every permission and level; its `x-webhooks` entries say which permission each
event needs and which events cannot be subscribed to), and the emulator's table of the permission
each REST operation needs (`OPERATION_ACCESS`, from GitHub's "Permissions required for GitHub
Apps"). The App's calls are read from the source of `bot/github/client.py`, its only way to GitHub.
"""

from __future__ import annotations

import ast
import functools
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.app import routing
from bot.app.manifest import PACKAGED_MANIFEST, load_manifest, registration_manifest
from bot.testing.github_emulator.auth import OPERATION_ACCESS
from bot.testing.github_emulator.validation import Spec
from bot.testing.github_emulator.web import HOOK_KEYS, MANIFEST_KEYS, parse_manifest

ROOT = Path(__file__).resolve().parents[2]
APP_YML = ROOT / "app.yml"
CLIENT = ROOT / "bot" / "github" / "client.py"
LEVELS = {"read": 1, "write": 2, "admin": 3}
# Sample values for the client's f-string placeholders, to match its paths against the spec.
SAMPLES = {"repo": "octo/app", "number": "7", "path": "Dockerfile", "comment_id": "5", "run_id": "9"}
# GraphQL: what each document the client sends needs ("Pull requests" covers review threads;
# resolving one is a write; `_read_query` reads files too, and threads as _THREADS_QUERY does).
GRAPHQL_NEEDS = {
    "_THREADS_QUERY": ("pull_requests", "read"),
    "_RESOLVE_MUTATION": ("pull_requests", "write"),
    "_read_query": ("contents", "read"),
}


@functools.cache
def manifest() -> dict[str, Any]:
    data = yaml.safe_load(APP_YML.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


@functools.cache
def spec() -> Spec:
    return Spec.load()


def webhooks() -> dict[str, dict[str, Any]]:
    """x-webhooks entries by event name (`pull_request`, ...): the first entry of each event."""
    events: dict[str, dict[str, Any]] = {}
    for entry in spec().document["x-webhooks"].values():
        post = entry["post"]
        events.setdefault(post["x-github"]["subcategory"], post)
    return events


def permission_schema() -> dict[str, Any]:
    operation = spec().document["paths"]["/app/installations/{installation_id}/access_tokens"]["post"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    properties: dict[str, Any] = schema["properties"]["permissions"]["properties"]
    return properties


def client_calls() -> list[tuple[str, str]]:
    """(method, path) of every REST call in bot/github/client.py (`_request` and `_pages`)."""
    calls: list[tuple[str, str]] = []
    for node in ast.walk(ast.parse(CLIENT.read_text(encoding="utf-8"))):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        if node.func.attr == "_request" and len(node.args) >= 2:
            method, url = node.args[0], node.args[1]
            if isinstance(method, ast.Constant) and isinstance(url, ast.JoinedStr):
                calls.append((str(method.value), _template(url)))
        elif node.func.attr == "_pages" and node.args and isinstance(node.args[0], ast.JoinedStr):
            calls.append(("GET", _template(node.args[0])))
    return calls


def _template(node: ast.JoinedStr) -> str:
    parts: list[str] = []
    for value in node.values:
        if isinstance(value, ast.Constant):
            parts.append(str(value.value))
        else:
            assert isinstance(value, ast.FormattedValue)
            name = ast.unparse(value.value).split("(")[-1].split(",")[0].strip(")")
            parts.append(SAMPLES.get(name.split(".")[-1], "1"))
    return "".join(parts)


def required_permissions() -> dict[str, str]:
    """Each permission at the highest level some call of the client needs."""
    needed: dict[str, str] = {}

    def need(permission: str, level: str) -> None:
        if LEVELS[level] > LEVELS.get(needed.get(permission, ""), 0):
            needed[permission] = level

    for method, path in client_calls():
        if path == "/graphql":
            continue
        matched = spec().match(method, path)
        assert matched is not None, f"{method} {path} is not an operation GitHub documents"
        operation_id = matched[0].operation_id
        assert operation_id in OPERATION_ACCESS, f"no permission known for {operation_id}"
        _, permission, level = OPERATION_ACCESS[operation_id]
        if permission:
            need(permission, level)
    source = CLIENT.read_text(encoding="utf-8")
    for document, (permission, level) in GRAPHQL_NEEDS.items():
        assert re.search(rf"self\._graphql\(\s*{document}\b", source), (
            f"the client no longer sends {document}"
        )
        need(permission, level)
    return needed


def test_the_root_app_yml_is_the_one_the_package_ships() -> None:
    assert PACKAGED_MANIFEST.read_bytes() == APP_YML.read_bytes(), "copy app.yml to bot/app/app.yml"
    assert load_manifest(PACKAGED_MANIFEST) == manifest()


def test_only_parameters_github_accepts_with_their_types() -> None:
    data = manifest()
    assert set(data) <= MANIFEST_KEYS, f"not manifest parameters: {sorted(set(data) - MANIFEST_KEYS)}"
    assert isinstance(data["name"], str) and 0 < len(data["name"]) <= 34  # GitHub's App name limit
    assert isinstance(data["description"], str) and data["description"].strip()
    assert re.fullmatch(r"https://\S+", data["url"])
    assert data["public"] is False  # an organisation registers its own, private App
    hook = data["hook_attributes"]
    assert set(hook) <= HOOK_KEYS and re.fullmatch(r"https://\S+/webhook", hook["url"])
    assert isinstance(data["default_events"], list) and isinstance(data["default_permissions"], dict)


def test_every_permission_is_one_github_has_at_a_level_it_offers() -> None:
    schema = permission_schema()
    for name, level in manifest()["default_permissions"].items():
        assert name in schema, f"{name} is not a GitHub App permission"
        assert level in schema[name]["enum"], f"{name}: {level} is not one of {schema[name]['enum']}"


def test_every_routed_event_is_subscribed_and_nothing_else() -> None:
    routed = set(routing._HANDLERS)
    assert set(manifest()["default_events"]) == routed
    # Installation events are delivered to every App and cannot be subscribed to.
    assert not routing.INSTALLATION_EVENTS & set(manifest()["default_events"])
    for event in routing.INSTALLATION_EVENTS:
        assert "cannot manually subscribe" in webhooks()[event]["summary"]


def test_every_subscribed_event_is_an_app_event_with_the_permission_it_requires() -> None:
    permissions = manifest()["default_permissions"]
    sentence = re.compile(
        r"(?:subscribe to this event|receive the `(?P<actions>[^.]*?)` event types), "
        r"(?:a GitHub App|the app) must have at least (?P<level>read|write)-level access for the "
        r'"(?P<permission>[^"]+)"'
    )
    for event in manifest()["default_events"]:
        hook = webhooks().get(event)
        assert hook is not None, f"{event} is not a webhook event"
        assert "app" in hook["x-github"]["supported-webhook-types"]
        assert "cannot manually subscribe" not in hook["summary"]
        requirements = list(sentence.finditer(hook["summary"]))
        assert requirements, f"no permission requirement found for {event}"
        for match in requirements:
            permission = match["permission"].lower().replace(" ", "_")
            held = LEVELS.get(permissions.get(permission, ""), 0)
            assert held >= LEVELS[match["level"]], f"{event} needs {permission}: {match['level']}"


def test_the_client_calls_are_read_from_its_source() -> None:
    calls = client_calls()
    assert ("POST", "/repos/octo/app/pulls/7/reviews") in calls
    assert ("GET", "/repos/octo/app/collaborators/1/permission") in calls
    assert len(calls) >= 15


def test_permissions_are_exactly_what_the_api_calls_need() -> None:
    needed = required_permissions()
    declared = dict(manifest()["default_permissions"])
    unused = {name: level for name, level in declared.items() if name not in needed}
    assert not unused, f"permissions no call needs: {unused}"
    assert declared == needed, f"declared {declared}, the calls need {needed}"


def test_issue_comment_permission_is_needed_at_write_by_reactions_and_replies() -> None:
    # The reason issues is `write`: the recheck reaction and the refusal reply.
    operations = {
        spec().match(method, path)[0].operation_id  # type: ignore[index]
        for method, path in client_calls()
        if path != "/graphql"
    }
    assert {"reactions/create-for-issue-comment", "issues/create-comment"} <= operations


@pytest.mark.parametrize("public_url", ["https://mountie.example.com", None])
def test_the_manifest_setup_posts_is_accepted_by_the_manifest_flow(public_url: str | None) -> None:
    posted = registration_manifest(
        manifest(), redirect_url="http://127.0.0.1:3000/callback", public_url=public_url, name="Mountie Acme"
    )
    parsed = parse_manifest(json.dumps(posted))
    assert parsed["name"] == "Mountie Acme"
    assert parsed["default_permissions"] == manifest()["default_permissions"]
    if public_url:
        assert parsed["hook_attributes"] == {"url": "https://mountie.example.com/webhook", "active": True}
    else:
        assert parsed["hook_attributes"]["active"] is False
