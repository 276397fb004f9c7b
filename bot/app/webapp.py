"""The webhook receiver: a FastAPI app with `POST /webhook`, `GET /healthz` and `GET /metrics`.

It only verifies, records and enqueues (see `bot.app.receiver`); reviews run in the worker process.
Bodies over GitHub's 25 MB payload cap are refused with 413 from `Content-Length` when it is sent,
and by counting while reading otherwise, so an oversized body is never held in memory. The SQLite
work (ledger, queue, metrics) runs in the thread pool, off the event loop.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.concurrency import run_in_threadpool

from bot.app.metrics import METRICS_FILE, MetricsStore
from bot.app.receiver import Answer, Receiver
from bot.app.settings import AppSettings
from bot.app.slugs import SlugStore
from bot.jobs.ledger import LEDGER_FILE, DeliveryLedger
from bot.jobs.queue import HueyJobQueue, JobQueue, create_huey
from bot.jobs.tasks import register_tasks

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 25 * 1024 * 1024  # GitHub does not deliver larger payloads


def build_receiver(settings: AppSettings, queue: JobQueue | None = None) -> Receiver:
    """The receiver over the data directory's ledger, queue, metrics and slug files."""
    if queue is None:
        huey = create_huey(settings.data_dir)
        queue = HueyJobQueue(huey, register_tasks(huey))
    return Receiver(
        app_id=settings.app_id,
        webhook_secret=settings.webhook_secret,
        ledger=DeliveryLedger(settings.data_dir / LEDGER_FILE),
        queue=queue,
        metrics=MetricsStore(settings.data_dir / METRICS_FILE),
        slugs=SlugStore(settings.data_dir),
    )


def create_app(settings: AppSettings, receiver: Receiver | None = None) -> FastAPI:
    receiver = receiver or build_receiver(settings)
    app = FastAPI(title="Mountie", docs_url=None, redoc_url=None, openapi_url=None)

    @app.post("/webhook")
    async def webhook(request: Request) -> Response:
        headers = request.headers
        delivery = headers.get("x-github-delivery")
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > MAX_BODY_BYTES:
            return _too_large(receiver, delivery)
        body = await _read_body(request, MAX_BODY_BYTES)
        if body is None:
            return _too_large(receiver, delivery)
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
            receiver.ledger.ping()
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
    answer = receiver.reject(413, "too_large", f"bodies over {MAX_BODY_BYTES} bytes are refused", delivery)
    response = _json(answer)
    response.headers["Connection"] = "close"  # the rest of the body is not read
    return response


def _json(answer: Answer) -> Response:
    return JSONResponse({"outcome": answer.outcome, "detail": answer.detail, **answer.body}, answer.status)
