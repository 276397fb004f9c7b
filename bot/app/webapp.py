"""The webhook receiver: a FastAPI app with `POST /webhook`, `GET /healthz` and `GET /metrics`.

It only verifies, records and enqueues (see `bot.app.receiver`); reviews run in the worker process.
Bodies over GitHub's 25 MB payload cap are refused with 413 from `Content-Length` when it is sent,
and by counting while reading otherwise, so an oversized body is never held in memory. A body
that is not JSON by its Content-Type gets 415, and one still arriving after 10 s, 408. The SQLite
work (ledger, queue, metrics) and the Redis calls run in the thread pool, off the event loop.
"""

from __future__ import annotations

import asyncio
import logging

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.concurrency import run_in_threadpool

from bot.app.metrics import METRICS_FILE, MetricsStore
from bot.app.receiver import Answer, Receiver
from bot.app.settings import AppSettings
from bot.app.slugs import SlugStore
from bot.jobs.queue import JobQueue, open_queue

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 25 * 1024 * 1024  # GitHub does not deliver larger payloads
# GitHub gives up on a delivery after 10 s; a client still sending its body by then (a byte at a
# time, say) is not GitHub, and is cut off instead of holding a connection open.
BODY_TIMEOUT = 10.0
_NOT_JSON = "webhooks must be sent as application/json (the App's webhook content type)"


def build_receiver(settings: AppSettings, queue: JobQueue | None = None) -> Receiver:
    """The receiver over the settings' queue (SQLite or Redis), and the data directory's metrics
    and slug files."""
    return Receiver(
        app_id=settings.app_id,
        webhook_secret=settings.webhook_secret,
        queue=queue or open_queue(settings),
        metrics=MetricsStore(settings.data_dir / METRICS_FILE),
        slugs=SlugStore(settings.data_dir),
    )


def create_app(settings: AppSettings, receiver: Receiver | None = None) -> FastAPI:
    receiver = receiver or build_receiver(settings)
    app = FastAPI(title="Mountie", docs_url=None, redoc_url=None, openapi_url=None)
    # One delivery at a time reaches the SQLite files: concurrent writers in one process only wait
    # in SQLite's busy handler, whose sleeps (up to 100 ms each) made the p99 latency ~0.8 s.
    receiving = asyncio.Lock()

    @app.post("/webhook")
    async def webhook(request: Request) -> Response:
        headers = request.headers
        delivery = headers.get("x-github-delivery")
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > MAX_BODY_BYTES:
            return _too_large(receiver, delivery)
        if not _is_json(headers.get("content-type")):
            return _refuse(receiver, 415, "unsupported_media_type", _NOT_JSON, delivery)
        try:
            async with asyncio.timeout(BODY_TIMEOUT):
                body = await _read_body(request, MAX_BODY_BYTES)
        except TimeoutError:
            detail = f"the body did not arrive within {BODY_TIMEOUT:.0f} s"
            return _refuse(receiver, 408, "timeout", detail, delivery)
        if body is None:
            return _too_large(receiver, delivery)
        async with receiving:
            answer = await run_in_threadpool(
                receiver.receive,
                headers.get("x-github-event"),
                delivery,
                headers.get("x-hub-signature-256"),
                body,
            )
        return _json(answer)

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


async def _read_body(request: Request, limit: int) -> bytes | None:
    """The whole body, or None as soon as it passes `limit` bytes."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(receiver: Receiver, delivery: str | None) -> Response:
    return _refuse(receiver, 413, "too_large", f"bodies over {MAX_BODY_BYTES} bytes are refused", delivery)


def _refuse(receiver: Receiver, status: int, outcome: str, detail: str, delivery: str | None) -> Response:
    response = _json(receiver.reject(status, outcome, detail, delivery))
    response.headers["Connection"] = "close"  # the rest of the body is not read
    return response


def _is_json(content_type: str | None) -> bool:
    """A JSON media type, or none given; GitHub's other choice, form-encoded, is not read."""
    if not content_type:
        return True
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def _json(answer: Answer) -> Response:
    return JSONResponse({"outcome": answer.outcome, "detail": answer.detail, **answer.body}, answer.status)
