"""The webhook receiver under bad input, as a real `mountie serve --no-worker` process.

Random bodies and headers (hypothesis, a bounded number), truncated JSON, wrong content types,
replayed deliveries, signatures made for another body, oversized and slow bodies: every answer is
a clean 4xx (or the 2xx a signed, well-formed delivery earns), never a 5xx, and nothing reaches
the queue. The queue is read through `/metrics` (`mountie_queue_pending_jobs`: nothing consumes
it here) and, per delivery id, through the queue itself (`jobs_for`).
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.app import webapp
from bot.app.settings import load_settings
from bot.app.signature import sign
from bot.app.webapp import MAX_BODY_BYTES, create_app
from tests.app.support import SECRET, ServerProcess, app_env, headers, payload
from tests.app.test_metrics import parse
from tests.app.test_webhook_server import jobs_for


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data_dir = tmp_path_factory.mktemp("hostile") / "data"
    with ServerProcess(data_dir, "--no-worker") as process:
        yield process


def pending(server: ServerProcess) -> float:
    samples = parse(httpx.get(f"{server.url}/metrics").content)
    return samples["mountie_queue_pending_jobs"][()]


def post(server: ServerProcess, body: bytes, extra: dict[str, str]) -> httpx.Response:
    return httpx.post(f"{server.url}/webhook", content=body, headers=extra, timeout=10)


def assert_clean(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code < 500, response.text
    answer: dict[str, Any] = response.json()
    assert isinstance(answer.get("outcome"), str) and isinstance(answer.get("detail"), str)
    return answer


# Printable ASCII, without the surrounding blanks HTTP clients refuse to send.
HEADER_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60).map(str.strip)
EVENTS = st.one_of(
    st.sampled_from(["pull_request", "issue_comment", "check_run", "check_suite", "ping", "push", ""]),
    HEADER_TEXT,
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
BODIES = st.one_of(
    st.binary(max_size=300),
    JSON_VALUES.map(lambda value: json.dumps(value).encode()),
    st.sampled_from(["pull_request.opened", "issue_comment.created", "check_run.rerequested"]).map(
        lambda name: json.dumps(payload(name)).encode()[: len(json.dumps(payload(name))) // 2]
    ),
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    event=EVENTS,
    delivery=HEADER_TEXT,
    body=BODIES,
    signature=st.sampled_from(["valid", "none", "garbage", "other body", "sha1"]),
    content_type=st.sampled_from(["application/json", "", "text/plain", "application/x-www-form-urlencoded"]),
)
def test_random_deliveries_get_clean_answers_and_enqueue_nothing(  # noqa: PLR0917 (hypothesis)
    server: ServerProcess, event: str, delivery: str, body: bytes, signature: str, content_type: str
) -> None:
    before = pending(server)
    extra = {"X-GitHub-Event": event, "X-GitHub-Delivery": delivery}
    if content_type:
        extra["Content-Type"] = content_type
    if signature == "valid":
        extra["X-Hub-Signature-256"] = sign(SECRET, body)
    elif signature == "garbage":
        extra["X-Hub-Signature-256"] = "sha256=" + "0" * 64
    elif signature == "other body":
        extra["X-Hub-Signature-256"] = sign(SECRET, body + b"\n")
    elif signature == "sha1":
        extra["X-Hub-Signature"] = "sha1=" + "0" * 40
    answer = assert_clean(post(server, body, extra))
    if content_type and content_type != "application/json":
        assert answer["outcome"] == "unsupported_media_type"
    elif signature != "valid":
        assert answer["outcome"] == "unauthorized"
    assert answer["outcome"] != "enqueued"
    assert pending(server) == before
    if delivery:
        assert jobs_for(server, delivery) == []


def signed_pull_request(delivery: str) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload("pull_request.opened")).encode()
    return body, headers("pull_request", delivery, body)


def test_truncated_json_is_400_and_enqueues_nothing(server: ServerProcess) -> None:
    body, _ = signed_pull_request("x")
    before = pending(server)
    for cut in (0, 1, len(body) // 3, len(body) // 2, len(body) - 1):
        delivery = str(uuid.uuid4())
        truncated = body[:cut]
        response = post(server, truncated, headers("pull_request", delivery, truncated))
        assert (response.status_code, assert_clean(response)["outcome"]) == (400, "bad_request"), cut
        assert jobs_for(server, delivery) == []
    assert pending(server) == before


@pytest.mark.parametrize(
    "content_type",
    ["application/x-www-form-urlencoded", "text/plain", "multipart/form-data; boundary=x", "text/html"],
)
def test_a_signed_payload_with_another_content_type_is_415(server: ServerProcess, content_type: str) -> None:
    delivery = str(uuid.uuid4())
    body, extra = signed_pull_request(delivery)
    if content_type.startswith("application/x-www-form"):
        body = b"payload=" + body  # GitHub's form format (not URL-encoded here: never read anyway)
        extra = headers("pull_request", delivery, body)
    response = post(server, body, {**extra, "Content-Type": content_type})
    assert (response.status_code, assert_clean(response)["outcome"]) == (415, "unsupported_media_type")
    assert jobs_for(server, delivery) == []
    # The same delivery, sent as JSON, is still accepted: the refusal claimed nothing.
    accepted = post(server, *signed_pull_request(delivery))
    assert (accepted.status_code, accepted.json()["outcome"]) == (202, "enqueued")
    assert len(jobs_for(server, delivery)) == 1


def test_json_media_types_with_parameters_are_read(server: ServerProcess) -> None:
    delivery = str(uuid.uuid4())
    body, extra = signed_pull_request(delivery)
    response = post(server, body, {**extra, "Content-Type": "Application/JSON; charset=utf-8"})
    assert (response.status_code, response.json()["outcome"]) == (202, "enqueued")


def test_replays_enqueue_once(server: ServerProcess) -> None:
    delivery = str(uuid.uuid4())
    body, extra = signed_pull_request(delivery)
    outcomes = [post(server, body, extra).json()["outcome"] for _ in range(5)]
    assert outcomes == ["enqueued"] + ["duplicate"] * 4
    assert len(jobs_for(server, delivery)) == 1
    # A replay under a new delivery id with the signature of the first body but another body: 401.
    tampered = body.replace(b'"opened"', b'"closed"')
    assert tampered != body
    response = post(server, tampered, {**extra, "X-GitHub-Delivery": str(uuid.uuid4())})
    assert (response.status_code, response.json()["outcome"]) == (401, "unauthorized")


def test_a_signature_for_another_body_is_401(server: ServerProcess) -> None:
    delivery = str(uuid.uuid4())
    _, extra = signed_pull_request(delivery)
    other = json.dumps(payload("issue_comment.created")).encode()
    response = post(server, other, extra)  # the pull request's signature on the comment's body
    assert (response.status_code, response.json()["outcome"]) == (401, "unauthorized")
    assert jobs_for(server, delivery) == []


def raw_request(port: int, head: bytes, body_chunks: Iterator[bytes], timeout: float = 30) -> bytes:
    """Send a request over a plain socket (chunk by chunk, as given) and read the whole answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as conn:
        conn.sendall(head)
        try:
            for chunk in body_chunks:
                conn.sendall(chunk)
        except OSError:  # the server answered and closed before the client finished
            pass
        received = b""
        while chunk := conn.recv(65536):
            received += chunk
        return received


def test_an_oversized_body_is_413_without_being_read(server: ServerProcess) -> None:
    """A 26 MB body declared up front: the answer comes before the client has sent 1 MB of it."""
    delivery = str(uuid.uuid4())
    size = MAX_BODY_BYTES + 1024 * 1024
    sent = 0

    def chunks() -> Iterator[bytes]:
        nonlocal sent
        block = b" " * 65536
        while sent < size:
            yield block
            sent += len(block)

    head = (
        b"POST /webhook HTTP/1.1\r\nHost: localhost\r\nX-GitHub-Event: push\r\n"
        + f"X-GitHub-Delivery: {delivery}\r\nContent-Type: application/json\r\n".encode()
        + f"Content-Length: {size}\r\n\r\n".encode()
    )
    reply = raw_request(server.port, head, chunks()).decode("latin-1")
    assert reply.startswith("HTTP/1.1 413 ")
    assert sent < size  # the server did not wait for (or read) the rest
    assert jobs_for(server, delivery) == []


def test_a_slow_client_does_not_hold_up_other_deliveries(server: ServerProcess) -> None:
    """A body sent a byte per 100 ms: meanwhile other deliveries are answered at once, and the
    slow one gets its own clean answer (401: it is not signed) when its body is complete."""
    body = json.dumps({"zen": "slow"}).encode()
    head = (
        b"POST /webhook HTTP/1.1\r\nHost: localhost\r\nX-GitHub-Event: ping\r\n"
        b"X-GitHub-Delivery: slow-1\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
    )

    def trickle() -> Iterator[bytes]:
        for byte in body:
            time.sleep(0.1)
            yield bytes([byte])

    replies: list[bytes] = []
    slow = threading.Thread(target=lambda: replies.append(raw_request(server.port, head, trickle())))
    slow.start()
    time.sleep(0.3)
    try:
        for _ in range(5):
            start = time.monotonic()
            fast = post(server, body, headers("ping", str(uuid.uuid4()), body))
            assert fast.status_code == 200
            assert time.monotonic() - start < 1.0
        assert slow.is_alive(), "the slow client should still be sending"
    finally:
        slow.join(timeout=30)
    assert replies and replies[0].decode("latin-1").startswith("HTTP/1.1 401 ")


def test_a_body_still_arriving_after_the_timeout_is_408(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """In process (the real timeout is 10 s): the handler stops waiting for the body."""
    monkeypatch.setattr(webapp, "BODY_TIMEOUT", 0.3)
    app = create_app(load_settings(app_env(tmp_path / "data")))
    sent: list[MutableMapping[str, Any]] = []
    first = True

    async def receive() -> dict[str, Any]:
        nonlocal first
        if first:
            first = False
            return {"type": "http.request", "body": b"{", "more_body": True}
        await asyncio.sleep(5)
        return {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/webhook", "raw_path": b"/webhook", "query_string": b"", "root_path": "",
        "headers": [(b"content-type", b"application/json"), (b"x-github-delivery", b"slow-2")],
        "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80),
    }  # fmt: skip
    start = time.monotonic()
    asyncio.run(app(scope, receive, send))
    assert time.monotonic() - start < 3
    (start_message,) = [m for m in sent if m["type"] == "http.response.start"]
    assert start_message["status"] == 408
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    assert json.loads(body)["outcome"] == "timeout"


@pytest.mark.parametrize(
    ("extra", "status", "outcome"),
    [
        ({"X-GitHub-Delivery": "a" * 5000}, 400, "bad_request"),
        ({"X-GitHub-Delivery": ""}, 400, "bad_request"),
        ({"X-GitHub-Event": "x" * 5000}, 202, "ignored"),
        ({"X-GitHub-Event": "PULL_REQUEST"}, 202, "ignored"),
    ],
    ids=["long delivery", "empty delivery", "long event", "event in capitals"],
)
def test_odd_headers_with_a_valid_signature_enqueue_nothing(
    server: ServerProcess, extra: dict[str, str], status: int, outcome: str
) -> None:
    before = pending(server)
    body, signed = signed_pull_request(str(uuid.uuid4()))
    response = post(server, body, {**signed, **extra})
    assert (response.status_code, assert_clean(response)["outcome"]) == (status, outcome)
    assert pending(server) == before


def test_a_path_like_delivery_id_is_only_a_key(server: ServerProcess) -> None:
    delivery = "../../../../tmp/mountie-owned"
    body, signed = signed_pull_request(delivery)
    response = post(server, body, signed)
    assert (response.status_code, response.json()["outcome"]) == (202, "enqueued")
    assert [job.delivery_id for job in jobs_for(server, delivery)] == [delivery]
    assert not Path("/tmp/mountie-owned").exists()
    assert "../" not in server.log()  # logged with unsafe characters replaced


def test_malformed_http_is_refused_by_the_server_not_the_app(server: ServerProcess) -> None:
    """Broken framing never reaches the app (400 from the HTTP layer); a 70 KB header does, and is
    refused for its missing signature."""
    before = pending(server)
    close = b"Connection: close\r\n"
    for head, status in (
        (b"POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n" + close + b"\r\n", 400),
        (b"POST /webhook HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n" + close + b"\r\nzz\r\n", 400),
        (b"POST /webhook HTTP/1.1\r\nHost: x\r\nBad Header\r\n" + close + b"\r\n", 400),
        (b"POST /webhook HTTP/1.1\r\nHost: x\r\nX-Long: " + b"a" * 70000 + b"\r\n" + close + b"\r\n", 401),
    ):
        reply = raw_request(server.port, head, iter(()), timeout=10).decode("latin-1")
        assert reply.startswith(f"HTTP/1.1 {status} "), reply[:200]
    assert httpx.get(f"{server.url}/healthz").status_code == 200
    assert pending(server) == before
