"""The webhook receiver: a FastAPI app with `POST /webhook`, `GET /healthz` and `GET /metrics`.

It only verifies, records and enqueues (see `bot.app.receiver`); reviews run in the worker process.
Bodies over GitHub's 25 MB payload cap are refused with 413 from `Content-Length` when it is sent,
and by counting while reading otherwise, so an oversized body is never held in memory. A body
that is not JSON by its Content-Type gets 415, and one still arriving after 10 s, 408.

`POST /webhook` is a plain ASGI endpoint that FastAPI hands requests to before its own
middleware and routing (`ReceiverApp`), which cost as much as verifying and parsing a delivery.
Over SQLite (the default queue) a delivery is handled on the event loop, in turns (`_Turns`):
each turn examines a few deliveries (signature, JSON, routing: tens of microseconds for GitHub's
usual payloads; bodies over `INLINE_BODY_BYTES` are examined in the thread pool first), claims
and enqueues their jobs in one SQLite transaction on the loop (`BatchedAdmission`), and answers
them once it has committed. A thread hop per delivery had cost more than the work itself. The
loop never waits for SQLite's locks: when another process writes, the turn's jobs are admitted
from a thread; WAL checkpoints also run in a thread. Over Redis, each delivery is handled in the
thread pool, one at a time, as network calls must not block the loop. Metrics are counted in
memory (see `bot.app.metrics`): call `Receiver.close()` at shutdown.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
from collections.abc import Sequence

from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.concurrency import run_in_threadpool
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from bot.app.metrics import METRICS_FILE, MetricsStore
from bot.app.receiver import Admission, Answer, Receiver, shown
from bot.app.settings import AppSettings
from bot.app.slugs import SlugStore
from bot.jobs.queue import BatchedAdmission, Entry, HueyJobQueue, JobQueue, open_queue
from bot.jobs.store_sqlite import StoreBusyError

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 25 * 1024 * 1024  # GitHub does not deliver larger payloads
# GitHub gives up on a delivery after 10 s; a client still sending its body by then (a byte at a
# time, say) is not GitHub, and is cut off instead of holding a connection open.
BODY_TIMEOUT = 10.0
# Larger bodies are verified and parsed in the thread pool (parsing takes ~1 ms a megabyte).
INLINE_BODY_BYTES = 256 * 1024
# Deliveries examined and admitted per turn of the event loop (see `_Turns`).
TURN_DELIVERIES = 8
# How often the receiver writes its buffered metrics to the shared metrics file.
METRICS_FLUSH_SECONDS = 1.0
_NOT_JSON = "webhooks must be sent as application/json (the App's webhook content type)"


def build_receiver(settings: AppSettings, queue: JobQueue | None = None) -> Receiver:
    """The receiver over the settings' queue (SQLite or Redis), and the data directory's metrics
    (buffered: `Receiver.close()` writes them) and slug files."""
    return Receiver(
        app_id=settings.app_id,
        webhook_secret=settings.webhook_secret,
        queue=queue or open_queue(settings),
        metrics=MetricsStore(settings.data_dir / METRICS_FILE, flush_interval=METRICS_FLUSH_SECONDS),
        slugs=SlugStore(settings.data_dir),
    )


class ReceiverApp(FastAPI):
    """FastAPI, with `POST /webhook` taken straight to its endpoint: FastAPI's middleware, routing
    and request objects cost about 50 us a request, as much as verifying and parsing the delivery.
    The same endpoint is also routed as usual (`/webhook/` redirects, other methods get 405)."""

    webhook: WebhookEndpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/webhook" and scope["method"] == "POST":
            await self.webhook(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)


def create_app(settings: AppSettings, receiver: Receiver | None = None) -> ReceiverApp:
    receiver = receiver or build_receiver(settings)
    app = ReceiverApp(title="Mountie", docs_url=None, redoc_url=None, openapi_url=None)
    app.webhook = WebhookEndpoint(receiver)
    app.router.routes.append(Route("/webhook", app.webhook, methods=["POST"]))

    @app.get("/healthz")
    async def healthz() -> Response:
        """200 when the ledger and the queue can be read (a receiver that cannot enqueue is down)."""

        def check() -> None:
            receiver.queue.ping()
            receiver.queue.depth()

        try:
            await run_in_threadpool(check)
        except Exception as error:
            log.warning("health check failed: %s", error)
            return JSONResponse({"status": "unavailable", "detail": str(error)}, status_code=503)
        return JSONResponse({"status": "ok"})

    @app.get("/metrics")
    async def metrics() -> Response:
        def render() -> bytes:
            depth = receiver.queue.depth()
            return receiver.metrics.render(
                lambda: {
                    "mountie_queue_pending_jobs": ("Jobs waiting in the queue.", depth["pending"]),
                    "mountie_queue_scheduled_jobs": ("Jobs waiting for a retry.", depth["scheduled"]),
                }
            )

        return Response(await run_in_threadpool(render), media_type=CONTENT_TYPE_LATEST)

    return app


class WebhookEndpoint:
    """`POST /webhook` as a plain ASGI app."""

    def __init__(self, receiver: Receiver) -> None:
        self.receiver = receiver
        queue = receiver.queue
        batched = queue.batched() if isinstance(queue, HueyJobQueue) else None
        self.turns = _Turns(receiver, batched) if batched is not None else None
        # Without group commit, one delivery at a time reaches the store: concurrent SQLite writers
        # in one process only wait in its busy handler, whose sleeps (up to 100 ms) made the p99 ~0.8 s.
        self.receiving = asyncio.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = _headers(scope)
        delivery = headers.get("x-github-delivery")
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > MAX_BODY_BYTES:
            return await self._refuse(send, 413, "too_large", _TOO_LARGE, delivery)
        if not _is_json(headers.get("content-type")):
            return await self._refuse(send, 415, "unsupported_media_type", _NOT_JSON, delivery)
        try:
            async with asyncio.timeout(BODY_TIMEOUT):
                body = await _read_body(receive, MAX_BODY_BYTES)
        except TimeoutError:
            detail = f"the body did not arrive within {BODY_TIMEOUT:.0f} s"
            return await self._refuse(send, 408, "timeout", detail, delivery)
        except _DisconnectedError:
            log.warning("webhook not read: the client disconnected", extra={"delivery": shown(delivery)})
            return None
        if body is None:
            return await self._refuse(send, 413, "too_large", _TOO_LARGE, delivery)
        await _send(send, await self._answer(headers, delivery, body))
        return None

    async def _answer(self, headers: dict[str, str], delivery: str | None, body: bytes) -> Answer:
        receiver = self.receiver
        delivered = (headers.get("x-github-event"), delivery, headers.get("x-hub-signature-256"), body)
        if self.turns is None:
            async with self.receiving:
                return await run_in_threadpool(receiver.receive, *delivered)
        if len(body) <= INLINE_BODY_BYTES:
            return await self.turns.answer(delivered)
        step = await run_in_threadpool(receiver.examine, *delivered)
        return step if isinstance(step, Answer) else await self.turns.answer(delivered, step)

    async def _refuse(self, send: Send, status: int, outcome: str, detail: str, delivery: str | None) -> None:
        """Answered before the body was (all) read: the connection is closed after the answer."""
        await _send(send, self.receiver.reject(status, outcome, detail, delivery), close=True)


_Delivered = tuple[str | None, str | None, str | None, bytes]  # event, delivery id, signature, body
_Waiting = tuple[_Delivered, Admission | None, "asyncio.Future[Answer]"]
_Admitting = tuple[Admission, Entry, "asyncio.Future[Answer]"]


class _Turns:
    """Deliveries handled on the event loop in turns of at most `TURN_DELIVERIES`.

    Each turn examines its deliveries, admits their jobs in one transaction (`BatchedAdmission`)
    and hands over their answers, which go out before the next turn. (With every delivery at hand
    in one turn, they were all answered at once, and senders waiting for their answers left the
    receiver idle while they sent the next ones; one delivery a turn would cost a commit each.)
    While the store is busy in a thread (a WAL checkpoint, an admission waiting for another
    process's write lock, the hourly purge), turns go on examining, and the jobs wait to be
    admitted together once it is done.
    """

    def __init__(self, receiver: Receiver, batched: BatchedAdmission) -> None:
        self.receiver = receiver
        self.batched = batched
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiting: collections.deque[_Waiting] = collections.deque()
        self._admitting: list[_Admitting] = []  # examined, to admit at the next commit
        self._scheduled = False  # a turn is on the loop's ready queue
        self._busy: asyncio.Task[None] | None = None  # holds commits: the store's work in a thread
        self._checkpointing: asyncio.Task[None] | None = None

    async def answer(self, delivered: _Delivered, examined: Admission | None = None) -> Answer:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a new loop (tests run several): nothing carries over
            self._loop, self._scheduled, self._busy, self._checkpointing = loop, False, None, None
            self._waiting, self._admitting = collections.deque(), []
        future: asyncio.Future[Answer] = loop.create_future()
        self._waiting.append((delivered, examined, future))
        self._schedule(loop)
        return await future

    def _schedule(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._waiting and not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._turn, loop)

    def _turn(self, loop: asyncio.AbstractEventLoop) -> None:
        self._scheduled = False
        if loop is not self._loop:
            return
        for _ in range(min(TURN_DELIVERIES, len(self._waiting))):
            delivered, examined, future = self._waiting.popleft()
            if future.done():  # cancelled: the sender went away before it was examined
                continue
            try:
                step = examined or self.receiver.examine(*delivered)
                if isinstance(step, Answer):
                    future.set_result(step)
                else:
                    self._admitting.append((step, self.batched.entry(step.job), future))
            except Exception as error:
                future.set_exception(error)
        self._commit(loop)
        self._schedule(loop)

    def _commit(self, loop: asyncio.AbstractEventLoop) -> None:
        """Admit the examined jobs now, on the loop, unless the store is busy in a thread."""
        if self._busy is not None or not self._admitting:
            return
        admitting, self._admitting = self._admitting, []
        entries = [entry for _, entry, _ in admitting]
        outcomes: list[bool] | list[Exception]
        try:
            if self.batched.purge_due():
                raise StoreBusyError("the hourly purge is due")
            outcomes = self.batched.admit_now(entries)
        except StoreBusyError:
            self._busy = loop.create_task(self._in_thread(loop, admitting, entries))
            return
        except Exception as error:
            outcomes = [error] * len(admitting)
        self._settle(admitting, outcomes)
        if self.batched.checkpoint_due() and self._checkpointing is None:
            self._checkpointing = loop.create_task(self._checkpoint(loop))

    async def _in_thread(
        self, loop: asyncio.AbstractEventLoop, admitting: list[_Admitting], entries: list[Entry]
    ) -> None:
        """Admit `entries` from a thread (commits held meanwhile), then commit what waited."""
        outcomes: list[bool] | list[Exception]
        try:
            outcomes = await self.batched.admit_waiting(entries)
        except Exception as error:
            outcomes = [error] * len(admitting)
        finally:
            self._busy = None
        self._settle(admitting, outcomes)
        self._commit(loop)

    async def _checkpoint(self, loop: asyncio.AbstractEventLoop) -> None:
        """The WAL into the database, in two passes from a thread: the bulk while commits go on,
        then what they added, with commits held, so that it finishes and the WAL starts over."""
        try:
            await self.batched.checkpoint()
            while self._busy is not None:  # an admission waiting for the lock in a thread
                await asyncio.shield(self._busy)
            self._busy = asyncio.current_task()
            try:
                await self.batched.checkpoint()
            finally:
                self._busy = None
        finally:
            self._checkpointing = None
        self._commit(loop)

    def _settle(self, admitting: list[_Admitting], outcomes: Sequence[bool | Exception]) -> None:
        for (admission, _, future), outcome in zip(admitting, outcomes, strict=True):
            answer = self.receiver.admitted(admission, outcome)  # counted and logged even if
            if not future.done():  # the sender has gone
                future.set_result(answer)


_WANTED_HEADERS = {
    name.encode("latin-1"): name
    for name in (
        "content-length",
        "content-type",
        "x-github-delivery",
        "x-github-event",
        "x-hub-signature-256",
    )
}
_TOO_LARGE = f"bodies over {MAX_BODY_BYTES} bytes are refused"
_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))  # JSONResponse's


class _DisconnectedError(Exception):
    """The client went away before sending the whole body."""


def _headers(scope: Scope) -> dict[str, str]:
    """The request headers the endpoint reads (the first of each name, as Starlette's `get`)."""
    found: dict[str, str] = {}
    for raw, value in scope["headers"]:
        name = _WANTED_HEADERS.get(raw)
        if name is not None and name not in found:
            found[name] = value.decode("latin-1")
    return found


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole body, or None as soon as it passes `limit` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _DisconnectedError
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _send(send: Send, answer: Answer, *, close: bool = False) -> None:
    """The answer as JSON, as FastAPI's JSONResponse writes it."""
    body = _ENCODER.encode({"outcome": answer.outcome, "detail": answer.detail, **answer.body}).encode()
    headers = [(b"content-length", str(len(body)).encode()), (b"content-type", b"application/json")]
    if close:
        headers.append((b"connection", b"close"))  # the rest of the body is not read
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _is_json(content_type: str | None) -> bool:
    """A JSON media type, or none given; GitHub's other choice, form-encoded, is not read."""
    if not content_type:
        return True
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")
