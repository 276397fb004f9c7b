"""The request pipeline: faults -> secondary limit -> auth -> primary limit -> OpenAPI validation ->
handler -> (lost-response faults) -> optional response validation, with every request logged."""

from __future__ import annotations

import hashlib
import json
import threading
import time
import traceback
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

from bot.testing.github_emulator import graphql, web
from bot.testing.github_emulator.auth import Principal, authenticate
from bot.testing.github_emulator.clock import Clock
from bot.testing.github_emulator.context import Context, Response, Settings
from bot.testing.github_emulator.errors import ApiError
from bot.testing.github_emulator.faults import Faults, RateLimits
from bot.testing.github_emulator.handlers import HANDLERS
from bot.testing.github_emulator.render import Renderer
from bot.testing.github_emulator.state import ManifestCode, Store
from bot.testing.github_emulator.validation import (
    Operation,
    RequestInvalid,
    Spec,
    Violation,
    validate_response,
)

GRAPHQL_PATH = "/graphql"
API_VERSION = "2022-11-28"


@dataclass
class RequestRecord:
    method: str
    path: str
    query: dict[str, list[str]]
    operation_id: str | None  # "graphql" for POST /graphql, None when no operation matched
    status: int = 0
    actor: str = ""
    fault: str | None = None  # "fail", "drop", "lost-response", "lost-connection", "delay"
    body: Any = None  # the parsed JSON request body, if any


@dataclass
class HttpResult:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    drop: bool = False  # close the connection without answering


class Dispatcher:
    def __init__(
        self,
        store: Store,
        spec: Spec,
        clock: Clock,
        *,
        settings: Settings,
        faults: Faults,
        rate_limits: RateLimits,
        strict_responses: bool,
    ) -> None:
        self.store = store
        self.spec = spec
        self.clock = clock
        self.settings = settings
        self.faults = faults
        self.rate_limits = rate_limits
        self.strict_responses = strict_responses
        self.base_url = ""
        self.requests: list[RequestRecord] = []
        self.violations: list[Violation] = []
        self._log_lock = threading.Lock()

    def _violation(self, kind: str, record: RequestRecord, message: str) -> None:
        with self._log_lock:
            self.violations.append(Violation(kind, record.method, record.path, record.operation_id, message))

    def handle(self, method: str, target: str, headers: Mapping[str, str], raw_body: bytes) -> HttpResult:
        """Serve one request; `headers` must have lowercase names."""
        parsed = urlsplit(target)
        if web.is_web_path(method, parsed.path):
            return self._web(method, parsed.path, parsed.query, headers, raw_body)
        path, query = parsed.path, parse_qs(parsed.query, keep_blank_values=True)
        matched = self.spec.match(method, path)
        operation = matched[0] if matched else None
        is_graphql = method == "POST" and path == GRAPHQL_PATH
        op_id = "graphql" if is_graphql else operation.operation_id if operation else None
        record = RequestRecord(method, path, query, op_id)
        with self._log_lock:
            self.requests.append(record)
        unknown = not is_graphql and (matched is None or op_id not in HANDLERS)
        if unknown:
            self._violation("request", record, f"no operation in the OpenAPI description for {method} {path}")
        request_id = uuid.uuid4().hex[:20].upper()

        before = self.faults.plan("before", op_id, method)
        if before.delay:
            record.fault = "delay"
            time.sleep(before.delay)
        if before.terminal is not None:
            return self._terminal(record, before.terminal.action, before.terminal.status, request_id, "fail")

        principal: Principal | None = None
        rate_headers: dict[str, str] = {}
        try:
            with self.store.lock:
                self.rate_limits.check_secondary(method, request_id)
                principal = authenticate(self.store, headers.get("authorization"), self.clock.now())
                record.actor = principal.login
                if unknown:
                    raise ApiError(404, "Not Found")
                if op_id != "rate-limit/get":
                    resource = "graphql" if is_graphql else "core"
                    rate_headers = self.rate_limits.hit(principal.rate_key, resource, _describe(principal))
                if is_graphql:
                    response = self._graphql(record, principal, raw_body)
                else:
                    assert matched is not None and operation is not None
                    response = self._rest(
                        record,
                        operation,
                        raw_params=matched[1],
                        query=query,
                        headers=headers,
                        raw_body=raw_body,
                        principal=principal,
                    )
        except ApiError as exc:
            response = self._error(exc, operation)
        except Exception:  # an emulator bug must fail the test, not hang the client
            self._violation("emulator", record, traceback.format_exc())
            response = Response(500, {"message": "Emulator error (see emu.violations)"})

        # Every answer carries x-ratelimit-*, even those refused before the request was counted.
        resource = "graphql" if is_graphql else "core"
        rate_headers = rate_headers or self._rate_snapshot(principal, resource)
        response.headers = {**rate_headers, **response.headers}

        if response.status < 400:
            after = self.faults.plan("after", op_id, method)
            if after.delay:
                record.fault = "delay"
                time.sleep(after.delay)
            if after.terminal is not None:
                kind = "lost-response" if after.terminal.action == "fail" else "lost-connection"
                return self._terminal(record, after.terminal.action, after.terminal.status, request_id, kind)

        if self.strict_responses and operation is not None and not isinstance(response.body, bytes):
            for problem in validate_response(operation, response.status, response.body):
                self._violation("response", record, problem)
        record.status = response.status
        return self._encode(response, request_id)

    def _web(
        self, method: str, path: str, query: str, headers: Mapping[str, str], raw_body: bytes
    ) -> HttpResult:
        """A github.com web page of the manifest flow (`web.py`): HTML, outside the OpenAPI checks."""
        record = RequestRecord(method, path, parse_qs(query), web.operation_name(path))
        with self._log_lock:
            self.requests.append(record)
        result = web.handle(
            self.store,
            path,
            query,
            headers,
            raw_body,
            web_login=self.settings.web_login,
            create_code=self.create_manifest_code,
        )
        record.status = result.status
        return HttpResult(result.status, result.headers, result.body)

    def create_manifest_code(self, manifest: Mapping[str, object], owner: str) -> str:
        """The single-use `code` of the manifest flow (converted by `apps/create-from-manifest`)."""
        with self.store.lock:
            code = hashlib.sha1(f"manifest:{self.store.next_id()}".encode()).hexdigest()[:20]
            self.store.manifest_codes[code] = ManifestCode(code, self.clock.now(), dict(manifest), owner)
            self.store.user(owner)
            return code

    def _rate_snapshot(self, principal: Principal | None, resource: str) -> dict[str, str]:
        key = principal.rate_key if principal else "anonymous:"
        limit, used, reset = self.rate_limits.snapshot(key, resource)
        return {
            "x-ratelimit-limit": str(limit),
            "x-ratelimit-remaining": str(max(0, limit - used)),
            "x-ratelimit-used": str(used),
            "x-ratelimit-reset": str(reset),
            "x-ratelimit-resource": resource,
        }

    def _rest(
        self,
        record: RequestRecord,
        operation: Operation,
        *,
        raw_params: dict[str, str],
        query: dict[str, list[str]],
        headers: Mapping[str, str],
        raw_body: bytes,
        principal: Principal,
    ) -> Response:
        try:
            params = operation.parse_params(raw_params, query)
            body = operation.parse_body(raw_body)
        except RequestInvalid as exc:
            self._violation("request", record, exc.message)
            raise ApiError(exc.status, exc.message) from exc
        record.body = body
        ctx = Context(
            operation=operation,
            method=record.method,
            path=record.path,
            query=query,
            params=params,
            body=body,
            headers={k.lower(): v for k, v in headers.items()},
            principal=principal,
            store=self.store,
            render=Renderer(self.base_url, self.store),
            clock=self.clock,
            settings=self.settings,
            rate_limits=self.rate_limits,
        )
        return HANDLERS[operation.operation_id](ctx)

    def _graphql(self, record: RequestRecord, principal: Principal, raw_body: bytes) -> Response:
        if principal.kind in ("anonymous", "app"):
            # GraphQL needs a user or installation token; app JWTs are not accepted there.
            raise ApiError(401, "This endpoint requires you to be authenticated.")
        try:
            payload = json.loads(raw_body or b"null")
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            self._violation("request", record, "GraphQL body is not JSON")
            raise ApiError(400, "Problems parsing JSON") from exc
        record.body = payload
        result = graphql.execute(self.store, principal, payload)
        if "data" not in result:
            # The document itself was rejected (syntax, unknown field, pagination). NOT_FOUND and
            # FORBIDDEN come with data and are ordinary answers, like REST 404/403.
            for error in result["errors"]:
                self._violation("request", record, f"GraphQL: {error['message']}")
        return Response(200, result)

    @staticmethod
    def _error(exc: ApiError, operation: Operation | None) -> Response:
        body: dict[str, Any] = {"message": exc.message}
        if exc.errors is not None:
            body["errors"] = exc.errors
        body["documentation_url"] = exc.documentation_url or (
            operation.documentation_url if operation else "https://docs.github.com/rest"
        )
        body["status"] = str(exc.status)
        return Response(exc.status, body, dict(exc.headers))

    def _terminal(
        self, record: RequestRecord, action: str, status: int, request_id: str, kind: str
    ) -> HttpResult:
        record.fault = kind
        if action == "drop":
            record.status = 0
            return HttpResult(0, drop=True)
        record.status = status
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Error"
        return self._encode(Response(status, {"message": phrase}), request_id)

    def _encode(self, response: Response, request_id: str) -> HttpResult:
        headers = {
            "X-GitHub-Request-Id": request_id,
            "X-GitHub-Api-Version-Selected": API_VERSION,
            "X-GitHub-Media-Type": "github.v3; format=json",
            **response.headers,
        }
        if response.status == 204 or response.body is None:
            return HttpResult(response.status, headers)
        if isinstance(response.body, bytes):
            headers.setdefault("Content-Type", "application/octet-stream")
            return HttpResult(response.status, headers, response.body)
        headers["Content-Type"] = "application/json; charset=utf-8"
        return HttpResult(response.status, headers, json.dumps(response.body).encode())


def _describe(principal: Principal) -> str:
    if principal.token is not None and principal.token.installation_id is not None:
        return f"installation ID {principal.token.installation_id}"
    if principal.kind == "anonymous":
        return "127.0.0.1"
    return f"user {principal.login}"
