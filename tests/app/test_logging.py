"""No secret reaches the log: configured values, PEM keys and GitHub credentials are redacted
wherever they appear in a record (message, arguments, extras, tracebacks), in both formats."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from bot.app.logging import REDACTED, setup_logging
from tests.app.support import SECRET, private_key_pem

INSTALLATION_TOKEN = "ghs_16C7e42F292c6912E7710c838347Ae178B4a"
# The newer, longer form (`ghs_APPID_JWT`): not 40 characters, dots included.
LONG_TOKEN = "ghs_4242_eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiI0MjQyIn0.c2lnbmF0dXJlLXBhcnQ"
JWT = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJpYXQiOjE3MDAwMDAwMDAsImlzcyI6IjQyNDIifQ.c2lnbmF0dXJl"
PAT = "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz"


@pytest.fixture(params=["text", "json"])
def captured(request: pytest.FixtureRequest) -> Iterator[tuple[io.StringIO, str]]:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    stream = io.StringIO()
    setup_logging("DEBUG", request.param, (private_key_pem(), SECRET), stream=stream)
    try:
        yield stream, request.param
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])


def _emit_secrets(log: logging.Logger) -> None:
    key = private_key_pem()
    log.info("loaded key %s", key)
    log.info("secret is %s and key line %s", SECRET, key.splitlines()[1])
    log.info("token %s then %s", INSTALLATION_TOKEN, LONG_TOKEN)
    log.warning("Authorization: Bearer %s", JWT)
    log.warning("headers {'Authorization': 'token %s'}", "0123456789abcdef0123")
    log.info("pat", extra={"credential": PAT, "repo": "octo/app"})
    try:
        raise RuntimeError(f"GitHub said no to {INSTALLATION_TOKEN} with {SECRET}")
    except RuntimeError:
        log.exception("request failed")
    log.info("escaped key %s", key.strip().replace("\n", "\\n"))


def test_secrets_never_reach_the_output(captured: tuple[io.StringIO, str]) -> None:
    stream, fmt = captured
    _emit_secrets(logging.getLogger("tests.redaction"))
    output = stream.getvalue()
    lines = output.splitlines()
    body_line = private_key_pem().splitlines()[1]
    for secret in (
        SECRET,
        body_line,
        INSTALLATION_TOKEN,
        LONG_TOKEN,
        JWT,
        PAT,
        "0123456789abcdef0123",
        "ghs_",
    ):
        assert secret not in output, (fmt, secret)
    assert "BEGIN PRIVATE KEY" not in output
    assert output.count(REDACTED) >= 10
    assert "GitHub said no to" in output and "RuntimeError" in output  # the traceback is kept, redacted
    if fmt == "json":
        entries = [json.loads(line) for line in lines if line.startswith("{")]
        assert [e["message"] for e in entries][:2] == [
            f"loaded key {REDACTED}",
            f"secret is {REDACTED} and key line {REDACTED}",
        ]
        pat_entry = next(e for e in entries if e["message"] == "pat")
        assert pat_entry["credential"] == REDACTED and pat_entry["repo"] == "octo/app"
        assert "Traceback" in next(e for e in entries if e["message"] == "request failed")["exception"]
    else:
        assert any(line.endswith(f"pat credential={REDACTED} repo=octo/app") for line in lines)


def test_ordinary_messages_pass_unchanged(captured: tuple[io.StringIO, str]) -> None:
    stream, fmt = captured
    logging.getLogger("bot.app.receiver").info(
        "webhook %s: %s", "enqueued", "pull_request.opened: review", extra={"delivery": "72d3162e"}
    )
    logging.getLogger("bot.review.service").info("review: 10 API calls, 1 token requests, bearer tokens")
    line, service_line = stream.getvalue().strip().splitlines()
    assert "10 API calls, 1 token requests, bearer tokens" in service_line
    if fmt == "json":
        entry = json.loads(line)
        assert entry["message"] == "webhook enqueued: pull_request.opened: review"
        assert (entry["level"], entry["logger"], entry["delivery"]) == (
            "info",
            "bot.app.receiver",
            "72d3162e",
        )
    else:
        assert line.endswith(
            "INFO bot.app.receiver: webhook enqueued: pull_request.opened: review delivery=72d3162e"
        )


def test_third_party_loggers_go_through_the_filter(captured: tuple[io.StringIO, str]) -> None:
    stream, _ = captured
    logging.getLogger("uvicorn.error").error("upstream sent %s", INSTALLATION_TOKEN)
    logging.getLogger("huey").info("task args contained %s", SECRET)
    output = stream.getvalue()
    assert INSTALLATION_TOKEN not in output and SECRET not in output
    assert "uvicorn.error" in output and "huey" in output
