"""The receiver as GitHub meets it: `mountie serve --no-worker` as a real process, over HTTP.

Jobs are looked up in the SQLite queue the server writes (nothing consumes it here).
"""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from bot.app.settings import load_settings
from bot.app.signature import sign
from bot.app.webapp import MAX_BODY_BYTES
from bot.jobs.model import Job, JobKind
from bot.jobs.queue import open_queue
from tests.app.support import APP_ID, SECRET, ServerProcess, app_env, payload
from tests.app.test_metrics import parse


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data_dir = tmp_path_factory.mktemp("receiver") / "data"
    with ServerProcess(data_dir, "--no-worker") as process:
        yield process


def jobs_for(server: ServerProcess, delivery: str) -> list[Job]:
    queue = open_queue(load_settings(app_env(server.data_dir)))
    return [job for job in queue.pending_jobs() if job.delivery_id == delivery]


def new_id() -> str:
    return str(uuid.uuid4())


def metric(server: ServerProcess, event: str, outcome: str) -> float:
    samples = parse(httpx.get(f"{server.url}/metrics").content)
    return samples.get("mountie_webhook_deliveries_total", {}).get(
        (("event", event), ("outcome", outcome)), 0.0
    )


def test_missing_or_wrong_signatures_are_401_and_do_nothing(server: ServerProcess) -> None:
    body = json.dumps(payload("pull_request.opened")).encode()
    before = metric(server, "unverified", "unauthorized")
    attempts = {
        "missing": {},
        "wrong secret": {"X-Hub-Signature-256": sign("not the secret", body)},
        "other body": {"X-Hub-Signature-256": sign(SECRET, body + b" ")},
        "sha1 only": {"X-Hub-Signature": "sha1=0123456789abcdef0123456789abcdef01234567"},
    }
    for name, extra in attempts.items():
        delivery = new_id()
        headers = {"X-GitHub-Event": "pull_request", "X-GitHub-Delivery": delivery, **extra}
        response = httpx.post(f"{server.url}/webhook", content=body, headers=headers)
        assert response.status_code == 401, name
        assert response.json()["outcome"] == "unauthorized"
        assert jobs_for(server, delivery) == [], name
    assert metric(server, "unverified", "unauthorized") == before + len(attempts)


def test_a_declared_oversized_body_is_413_before_it_is_read(server: ServerProcess) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as conn:
        conn.sendall(
            b"POST /webhook HTTP/1.1\r\nHost: localhost\r\nX-GitHub-Event: push\r\n"
            b"X-GitHub-Delivery: big-1\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {MAX_BODY_BYTES + 1}\r\n\r\n".encode()
            + b"{}"
        )
        received = b""
        while chunk := conn.recv(65536):  # the server closes the connection after answering
            received += chunk
        reply = received.decode("latin-1")
    assert reply.startswith("HTTP/1.1 413 ")
    assert '"outcome":"too_large"' in reply


def test_a_streamed_oversized_body_is_413(server: ServerProcess) -> None:
    chunk = b" " * (1024 * 1024)

    def body() -> Iterator[bytes]:
        for _ in range(MAX_BODY_BYTES // len(chunk) + 2):
            yield chunk

    delivery = new_id()
    before = metric(server, "unverified", "too_large")
    try:
        response = httpx.post(
            f"{server.url}/webhook",
            content=body(),
            headers={"X-GitHub-Event": "push", "X-GitHub-Delivery": delivery},
            timeout=30,
        )
    except httpx.WriteError:  # the server may close before the client has sent everything
        response = None
    if response is not None:
        assert response.status_code == 413
    assert metric(server, "unverified", "too_large") == before + 1
    assert jobs_for(server, delivery) == []


def test_a_body_at_the_limit_is_read(server: ServerProcess) -> None:
    body = json.dumps({"zen": "x" * (MAX_BODY_BYTES - 20)}).encode()
    assert len(body) <= MAX_BODY_BYTES
    response = server.post("ping", new_id(), body)
    assert response.status_code == 200


@pytest.mark.parametrize("body", [b"{not json", b"", b"\xff\xfe", b"[1, 2]", b'"text"'])
def test_malformed_json_is_400(server: ServerProcess, body: bytes) -> None:
    delivery = new_id()
    response = server.post("pull_request", delivery, body)
    assert response.status_code == 400
    assert response.json()["outcome"] == "bad_request"
    assert jobs_for(server, delivery) == []


def test_a_redelivery_is_202_and_does_nothing(server: ServerProcess) -> None:
    delivery = new_id()
    first = server.post("pull_request", delivery, payload("pull_request.opened"))
    assert (first.status_code, first.json()["outcome"]) == (202, "enqueued")
    again = server.post("pull_request", delivery, payload("pull_request.opened"))
    assert (again.status_code, again.json()["outcome"]) == (202, "duplicate")
    assert len(jobs_for(server, delivery)) == 1


@pytest.mark.parametrize("event", ["push", "star", "pull_request_review_comment", "workflow_run"])
def test_unknown_events_are_202_and_ignored(server: ServerProcess, event: str) -> None:
    delivery = new_id()
    response = server.post(event, delivery, {"action": "created", "installation": {"id": 1}})
    assert (response.status_code, response.json()["outcome"]) == (202, "ignored")
    assert jobs_for(server, delivery) == []


def test_ping_is_200(server: ServerProcess) -> None:
    response = server.post("ping", new_id(), {"zen": "Keep it logically awesome.", "hook_id": 1})
    assert response.status_code == 200
    assert response.json()["zen"] == "Keep it logically awesome."


@pytest.mark.parametrize(
    "name", ["installation.created", "installation.deleted", "installation_repositories.added"]
)
def test_installation_events_are_acknowledged(server: ServerProcess, name: str) -> None:
    delivery = new_id()
    response = server.post(name.split(".", maxsplit=1)[0], delivery, payload(name))
    assert (response.status_code, response.json()["outcome"]) == (202, "acknowledged")
    assert jobs_for(server, delivery) == []


ROUTED: list[tuple[str, str, dict[str, Any], JobKind]] = [
    ("pull_request", "pull_request.opened", {}, JobKind.REVIEW),
    ("pull_request", "pull_request.synchronize", {}, JobKind.REVIEW),
    ("pull_request", "pull_request.reopened", {}, JobKind.REVIEW),
    ("pull_request", "pull_request.ready_for_review", {}, JobKind.REVIEW),
    (
        "pull_request",
        "pull_request.opened",
        {"action": "edited", "changes": {"base": {"ref": {"from": "dev"}}}},
        JobKind.REVIEW,
    ),
    ("issue_comment", "issue_comment.created", {"comment.body": "/mountie recheck"}, JobKind.RECHECK),
    (
        "check_run",
        "check_run.rerequested",
        {"check_run.app.id": APP_ID, "check_run.name": "Mountie"},
        JobKind.RERUN,
    ),
    ("check_suite", "check_suite.rerequested", {"check_suite.app.id": APP_ID}, JobKind.RERUN),
]


@pytest.mark.parametrize(
    ("event", "name", "changes", "kind"), ROUTED, ids=[f"{r[1]}-{r[3].value}" for r in ROUTED]
)
def test_each_routed_event_enqueues_exactly_one_job(
    server: ServerProcess, event: str, name: str, changes: dict[str, Any], kind: JobKind
) -> None:
    delivery = new_id()
    response = server.post(event, delivery, payload(name, **changes))
    assert (response.status_code, response.json()) == (
        202,
        {"outcome": "enqueued", "detail": response.json()["detail"], "job": kind.value},
    )
    jobs = jobs_for(server, delivery)
    assert len(jobs) == 1
    assert jobs[0].kind is kind and jobs[0].event.startswith(event) and jobs[0].received_at > 0


def test_health_and_metrics(server: ServerProcess) -> None:
    assert httpx.get(f"{server.url}/healthz").json() == {"status": "ok"}
    before = metric(server, "ping", "pong")
    server.post("ping", new_id(), {"zen": "z"})
    response = httpx.get(f"{server.url}/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    samples = parse(response.content)
    assert samples["mountie_webhook_deliveries_total"][(("event", "ping"), ("outcome", "pong"))] == before + 1
    assert samples["mountie_jobs_enqueued_total"][(("kind", "review"),)] >= 1
    assert samples["mountie_queue_pending_jobs"][()] >= 1
    assert "mountie_review_latency_seconds" in response.text
