"""Helpers for the deployment tests: the settings the App reads, compose-style interpolation, the
CLI's parser, and the JSON schemas check-jsonschema ships (Compose spec, GitHub Actions)."""

from __future__ import annotations

import argparse
import functools
import json
import re
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]

from bot.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
SETTINGS_SOURCE = ROOT / "bot" / "app" / "settings.py"
# Variables `mountie setup` writes that the App itself does not read (kept for OAuth uses).
SETUP_ONLY = frozenset({"GITHUB_CLIENT_ID", "GITHUB_CLIENT_SECRET"})
SECRET_VARIABLES = frozenset({"GITHUB_PRIVATE_KEY", "GITHUB_WEBHOOK_SECRET", "GITHUB_CLIENT_SECRET"})
_INTERPOLATION = re.compile(r"\$(?:\$|\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\})")


@functools.cache
def settings_variables() -> frozenset[str]:
    """Every environment variable `load_settings` reads (from its source: `get("NAME")`)."""
    source = SETTINGS_SOURCE.read_text(encoding="utf-8")
    names = frozenset(re.findall(r"\bget\(\s*\"([A-Z][A-Z0-9_]*)\"", source))
    assert {"GITHUB_APP_ID", "GITHUB_WEBHOOK_SECRET", "MOUNTIE_DATA_DIR"} <= names
    return names


def interpolate(value: Any, env: Mapping[str, str]) -> Any:
    """Docker Compose's variable substitution (`${VAR}`, `${VAR:-default}`, `${VAR:?error}`, `$$`)."""
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        name = match["name"]
        if name is None:
            return "$"
        op, arg, current = match["op"], match["arg"] or "", env.get(name)
        unset = current is None or (current == "" and op is not None and op.startswith(":"))
        if op is not None and op.endswith("-") and unset:
            return str(interpolate(arg, env))
        if op is not None and op.endswith("?") and unset:
            raise ValueError(f"{name}: {arg}")
        return current or ""

    text = _INTERPOLATION.sub(substitute, value)
    return int(text) if text.isdigit() and "$" in value else text


@functools.cache
def vendored_schema(name: str) -> dict[str, Any]:
    """A schema check-jsonschema vendors (`compose-spec`, `github-actions`, `github-workflows`)."""
    text = (
        resources.files("check_jsonschema.builtin_schemas.vendor").joinpath(f"{name}.json").read_text("utf-8")
    )
    schema: dict[str, Any] = json.loads(text)
    return schema


def schema_errors(document: Any, name: str) -> list[str]:
    validator = jsonschema.validators.validator_for(vendored_schema(name))(vendored_schema(name))
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]


def parse_cli(arguments: list[str]) -> argparse.Namespace:
    """The arguments as `mountie` parses them (a usage error fails the test)."""
    parser = build_parser()
    try:
        return parser.parse_args(arguments)
    except Exception as error:  # _ParserExitError: argparse refused them
        raise AssertionError(f"mountie refuses {arguments}: {error!r}") from None


def env_file_names(path: Path) -> set[str]:
    names = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        match = re.match(r"\s*#?\s*([A-Z][A-Z0-9_]*)=", line)
        if match:
            names.add(match.group(1))
    return names
