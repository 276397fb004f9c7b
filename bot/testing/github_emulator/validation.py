"""Checks requests (and, optionally, the emulator's own responses) against GitHub's OpenAPI description.

`openapi-subset.json` is a subset of github/rest-api-description `descriptions/api.github.com/
api.github.com.json`, as packaged in the npm package `@octokit/openapi` 23.0.2, with every `$ref`
inlined (provenance: shared/github/README.md). OpenAPI 3.0 schemas are JSON Schema draft 4 plus
`nullable`, which is rewritten into `"type": [..., "null"]` before validating.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache, cached_property
from importlib import resources
from typing import Any
from urllib.parse import unquote

from jsonschema import Draft4Validator, FormatChecker  # type: ignore[import-untyped,unused-ignore]
from jsonschema.exceptions import ValidationError  # type: ignore[import-untyped,unused-ignore]

SPEC_RESOURCE = "openapi-subset.json"
_DROPPED_KEYS = frozenset({"description", "example", "examples", "title", "x-github", "deprecated"})
_SCHEMA_LIST_KEYS = ("allOf", "anyOf", "oneOf")

# Where api.github.com is known to answer outside its own description. Review comments that became
# outdated (or are file-level) carry `line`/`position` = null although the schema says integer.
_KNOWN_RESPONSE_DRIFT: dict[str, tuple[str, ...]] = {
    "diff_hunk": ("line", "original_line", "position", "original_position", "side"),
}


@dataclass(frozen=True)
class Violation:
    """A request GitHub would reject, or (with strict responses) an emulator answer off the spec."""

    kind: str  # "request" | "response"
    method: str
    path: str
    operation_id: str | None
    message: str


class RequestInvalid(Exception):  # noqa: N818 - mirrors GitHub's "Invalid request." wording
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _is_datetime(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return "T" in value


_FORMATS = FormatChecker(formats=())
_FORMATS.checks("date-time")(_is_datetime)


def to_json_schema(schema: Any, *, response: bool = False) -> Any:
    """OpenAPI 3.0 schema object -> JSON Schema draft 4 (handles `nullable`, drops doc-only keys)."""
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _DROPPED_KEYS or key.startswith("x-"):
            continue
        if key == "properties":
            out[key] = {name: to_json_schema(sub, response=response) for name, sub in value.items()}
        elif key in ("items", "additionalProperties", "not"):
            out[key] = to_json_schema(value, response=response)
        elif key in _SCHEMA_LIST_KEYS:
            out[key] = [to_json_schema(sub, response=response) for sub in value]
        elif key in ("nullable", "discriminator", "readOnly", "writeOnly"):
            continue
        else:
            out[key] = value
    if response and "properties" in out:
        for marker, fields in _KNOWN_RESPONSE_DRIFT.items():
            if marker in out["properties"]:
                for name in fields:
                    if name in out["properties"]:
                        out["properties"][name] = _nullable(out["properties"][name])
    return _nullable(out) if schema.get("nullable") is True else out


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    schema = dict(schema)
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        schema["type"] = [*types, "null"] if "null" not in types else types
        if "enum" in schema and None not in schema["enum"]:
            schema["enum"] = [*schema["enum"], None]
        return schema
    return {"anyOf": [{"type": "null"}, schema]}


def _describe(error: ValidationError) -> str:
    """One error in GitHub's "Invalid request." wording."""
    where = (
        "/".join(["properties", *(str(p) for p in error.absolute_path)]) if error.absolute_path else "body"
    )
    value = json.dumps(error.instance)
    if error.validator == "required":
        missing = re.findall(r"'([^']+)' is a required property", error.message)
        return f'"{missing[0] if missing else error.message}" wasn\'t supplied.'
    if error.validator == "type":
        expected = error.validator_value
        names = expected if isinstance(expected, list) else [expected]
        article = "an" if names[0][0] in "aeiou" else "a"
        return f"For '{where}', {value} is not {article} {' or '.join(names)}."
    if error.validator == "enum":
        return f"For '{where}', {value} is not one of {json.dumps(error.validator_value)}."
    if error.validator == "maxLength" and isinstance(error.instance, str):
        return f"Only {error.validator_value} characters are allowed; {len(error.instance)} were supplied."
    if error.validator == "maxItems" and isinstance(error.instance, list):
        count = len(error.instance)
        return f"For '{where}', is too long (maximum is {error.validator_value} items, got {count})."
    return f"For '{where}', {error.message}."


@dataclass(eq=False)
class Operation:
    method: str
    template: str
    operation_id: str
    spec: Mapping[str, Any]
    pattern: re.Pattern[str]
    literal_segments: int

    @property
    def documentation_url(self) -> str:
        docs = self.spec.get("externalDocs", {})
        return str(docs.get("url", "https://docs.github.com/rest"))

    @cached_property
    def body_validator(self) -> Draft4Validator | None:
        body = self.spec.get("requestBody")
        if body is None:
            return None
        schema = body["content"].get("application/json", {}).get("schema")
        if schema is None:
            return None
        return Draft4Validator(to_json_schema(schema), format_checker=_FORMATS)

    @property
    def body_required(self) -> bool:
        return bool(self.spec.get("requestBody", {}).get("required", False))

    def response_validator(self, status: int) -> Draft4Validator | None:
        return _response_validator(self, status)

    def documents_status(self, status: int) -> bool:
        return str(status) in self.spec.get("responses", {})

    def parse_params(self, raw_path: Mapping[str, str], query: Mapping[str, list[str]]) -> dict[str, Any]:
        """Typed path + query parameters with defaults, or RequestInvalid the way GitHub reports it."""
        values: dict[str, Any] = {}
        for param in self.spec.get("parameters", []):
            name, where, schema = param["name"], param["in"], param.get("schema", {})
            if where == "path":
                raw: str | None = raw_path[name]
            elif where == "query":
                raw = query[name][-1] if name in query else None
            else:
                continue
            if raw is None:
                if param.get("required"):
                    raise RequestInvalid(422, f'Invalid request.\n\n"{name}" wasn\'t supplied.')
                if "default" in schema:
                    values[name] = schema["default"]
                continue
            values[name] = self._coerce(name, where, raw, schema)
        return values

    @staticmethod
    def _coerce(name: str, where: str, raw: str, schema: Mapping[str, Any]) -> Any:
        kind = schema.get("type", "string")
        value: Any = raw
        # A non-numeric id in the path simply matches no route on GitHub: 404, not 422.
        bad_status = 404 if where == "path" else 422
        if kind == "integer":
            if not re.fullmatch(r"-?\d+", raw):
                raise RequestInvalid(
                    bad_status, f"Invalid request.\n\nFor '{name}', \"{raw}\" is not an integer."
                )
            value = int(raw)
        elif kind == "boolean":
            if raw not in ("true", "false"):
                raise RequestInvalid(
                    bad_status, f"Invalid request.\n\nFor '{name}', \"{raw}\" is not a boolean."
                )
            value = raw == "true"
        if schema.get("format") == "date-time" and not _is_datetime(raw):
            message = f"Invalid request.\n\nFor '{name}', \"{raw}\" is not a date-time."
            raise RequestInvalid(bad_status, message)
        if "enum" in schema and value not in schema["enum"]:
            allowed = json.dumps(schema["enum"])
            raise RequestInvalid(
                bad_status, f"Invalid request.\n\nFor '{name}', \"{raw}\" is not one of {allowed}."
            )
        return value

    def parse_body(self, raw: bytes) -> Any:
        """The JSON body validated against the requestBody schema; None when the operation takes none."""
        validator = self.body_validator
        if validator is None:
            return None
        if not raw.strip():
            if not self.body_required:
                return None
            document: Any = {}
        else:
            try:
                document = json.loads(raw)
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise RequestInvalid(400, "Problems parsing JSON") from exc
        errors = sorted(validator.iter_errors(document), key=lambda e: (list(e.absolute_path), e.validator))
        if errors:
            raise RequestInvalid(422, "Invalid request.\n\n" + "\n".join(_describe(e) for e in errors))
        return document


_RESPONSE_VALIDATORS: dict[tuple[str, int], Draft4Validator | None] = {}


def _response_validator(operation: Operation, status: int) -> Draft4Validator | None:
    key = (operation.operation_id, status)
    if key not in _RESPONSE_VALIDATORS:
        response = operation.spec.get("responses", {}).get(str(status), {})
        schema = response.get("content", {}).get("application/json", {}).get("schema")
        _RESPONSE_VALIDATORS[key] = (
            Draft4Validator(to_json_schema(schema, response=True), format_checker=_FORMATS)
            if schema
            else None
        )
    return _RESPONSE_VALIDATORS[key]


class Spec:
    """The operations of the OpenAPI description, matchable by method and request path."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.document = document
        self.operations: list[Operation] = []
        for template, item in document["paths"].items():
            pattern = re.compile("^" + re.sub(r"\{(\w+)\}", _param_regex, template) + "$")
            literals = sum(1 for seg in template.split("/") if seg and not seg.startswith("{"))
            for method, spec in item.items():
                if method in ("get", "post", "put", "patch", "delete"):
                    self.operations.append(
                        Operation(method.upper(), template, spec["operationId"], spec, pattern, literals)
                    )
        # Prefer the most specific template: `/pulls/comments/{id}` must win over `/pulls/{number}`.
        self.operations.sort(key=lambda op: -op.literal_segments)
        self.by_id = {op.operation_id: op for op in self.operations}

    @classmethod
    @cache
    def load(cls) -> Spec:
        """The packaged description, parsed once per process (it is 1.5 MB)."""
        text = resources.files(__package__).joinpath(SPEC_RESOURCE).read_text(encoding="utf-8")
        return cls(json.loads(text))

    def match(self, method: str, path: str) -> tuple[Operation, dict[str, str]] | None:
        for operation in self.operations:
            if operation.method != method:
                continue
            found = operation.pattern.match(path)
            if found:
                return operation, {k: unquote(v) for k, v in found.groupdict().items()}
        return None


def _param_regex(found: re.Match[str]) -> str:
    name = found.group(1)
    # `contents/{path}` spans several segments; every other parameter is a single segment.
    return f"(?P<{name}>.+)" if name == "path" else f"(?P<{name}>[^/]+)"


def validate_response(operation: Operation, status: int, body: Any) -> list[str]:
    """Problems with an emulator response, judged by the description of that operation and status."""
    if not operation.documents_status(status):
        return [f"status {status} is not documented for {operation.operation_id}"] if status < 400 else []
    validator = operation.response_validator(status)
    if validator is None:
        return [] if body is None or status >= 400 else [f"status {status} documents no JSON body"]
    return [
        f"{'/'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message}"
        for e in validator.iter_errors(body)
    ]
