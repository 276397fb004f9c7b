"""The receiver as GitHub meets it: `mountie serve --no-worker` as a real process, over HTTP.

Jobs are looked up in the SQLite queue the server writes (nothing consumes it here).
"""

from __future__ import annotations

import json
import socket
import sqlite3
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.app.metrics import DELIVERIES, JOBS_ENQUEUED, METRICS_FILE, MetricsStore
from bot.app.settings import load_settings
from bot.app.signature import sign
from bot.app.webapp import INLINE_BODY_BYTES, MAX_BODY_BYTES
from bot.jobs.model import Job, JobKind
from bot.jobs.queue import QUEUE_FILE, open_queue
from tests.app.support import APP_ID, SECRET, ServerProcess, app_env, headers, payload
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


def test_a_large_delivery_is_examined_off_the_loop_and_enqueued(server: ServerProcess) -> None:
    data = payload("pull_request.opened")
    data["pull_request"]["body"] = "x" * (INLINE_BODY_BYTES + 1024)
    delivery = new_id()
    response = server.post("pull_request", delivery, data)
    assert (response.status_code, response.json()["outcome"]) == (202, "enqueued")
    assert len(jobs_for(server, delivery)) == 1


def test_other_methods_and_a_trailing_slash_are_routed_as_before(server: ServerProcess) -> None:
    response = httpx.get(f"{server.url}/webhook")
    assert (response.status_code, response.headers["allow"]) == (405, "POST")
    response = httpx.post(f"{server.url}/webhook/", content=b"{}")
    assert (response.status_code, response.headers["location"]) == (307, f"{server.url}/webhook")


def post_concurrently(url: str, deliveries: list[tuple[str, bytes]], senders: int = 16) -> list[str]:
    """Each (delivery id, body) as a signed pull_request delivery, `senders` at a time; the outcomes."""

    def send(chunk: list[tuple[str, bytes]]) -> list[str]:
        with httpx.Client(base_url=url, timeout=30) as client:
            return [
                client.post("/webhook", content=body, headers=headers("pull_request", delivery, body)).json()[
                    "outcome"
                ]
                for delivery, body in chunk
            ]

    chunks = [deliveries[n::senders] for n in range(senders)]
    with ThreadPoolExecutor(senders) as pool:
        return [outcome for outcomes in pool.map(send, chunks) for outcome in outcomes]


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[ServerProcess]:
    with ServerProcess(tmp_path / "data", "--no-worker") as process:
        yield process


def test_concurrent_deliveries_are_each_enqueued_once_and_counted(own_server: ServerProcess) -> None:
    body = json.dumps(payload("pull_request.synchronize")).encode()
    ids = [new_id() for _ in range(300)]
    outcomes = post_concurrently(own_server.url, [(delivery, body) for delivery in ids * 2])
    assert Counter(outcomes) == {"enqueued": 300, "duplicate": 300}
    queued = open_queue(load_settings(app_env(own_server.data_dir))).pending_jobs()
    assert sorted(job.delivery_id for job in queued) == sorted(ids)
    assert metric(own_server, "pull_request", "enqueued") == 300  # at once, from memory
    assert metric(own_server, "pull_request", "duplicate") == 300
    assert own_server.stop() == 0
    # A clean shutdown writes the figures it held in memory: none is lost.
    stored = MetricsStore(own_server.data_dir / METRICS_FILE)
    assert stored.value(DELIVERIES, {"event": "pull_request", "outcome": "enqueued"}) == 300
    assert stored.value(DELIVERIES, {"event": "pull_request", "outcome": "duplicate"}) == 300
    assert stored.value(JOBS_ENQUEUED, {"kind": "review"}) == 300


def test_the_wal_stays_small_under_a_stream_of_deliveries(own_server: ServerProcess) -> None:
    """The loop's commits never checkpoint; the receiver's own checkpoints must keep up."""
    body = json.dumps(payload("pull_request.synchronize")).encode()
    outcomes = post_concurrently(own_server.url, [(new_id(), body) for _ in range(2000)])
    assert Counter(outcomes) == {"enqueued": 2000}
    wal = own_server.data_dir / f"{QUEUE_FILE}-wal"
    assert wal.stat().st_size < 8 * 1024 * 1024, wal.stat().st_size  # ~60 MB without checkpoints


def test_deliveries_wait_for_another_writer_without_blocking_the_server(own_server: ServerProcess) -> None:
    """While another process holds the queue's write lock, deliveries are answered once it lets go
    (admitted from a thread), and the server meanwhile answers health checks."""
    body = json.dumps(payload("pull_request.synchronize")).encode()
    ids = [new_id() for _ in range(40)]
    with sqlite3.connect(own_server.data_dir / QUEUE_FILE, isolation_level=None) as other:
        other.execute("BEGIN IMMEDIATE")
        with ThreadPoolExecutor(1) as pool:
            pending = pool.submit(post_concurrently, own_server.url, [(d, body) for d in ids], 8)
            time.sleep(0.5)
            assert not pending.done()  # nothing is answered before it is enqueued
            start = time.monotonic()
            assert httpx.get(f"{own_server.url}/healthz", timeout=5).status_code == 200
            assert time.monotonic() - start < 1.0
            other.execute("COMMIT")
            outcomes = pending.result(timeout=30)
    assert Counter(outcomes) == {"enqueued": 40}
    queued = open_queue(load_settings(app_env(own_server.data_dir))).pending_jobs()
    assert sorted(job.delivery_id for job in queued) == sorted(ids)
