"""Logging for the App processes: text or JSON lines on standard error, with secrets redacted.

`setup_logging` puts one handler on the root logger (uvicorn and huey log through it too). Its
`RedactingFilter` rewrites every record before any formatter sees it: the configured secrets (the
private key, the webhook secret), any PEM private key block, GitHub tokens (`ghs_...`, `ghp_...`,
`github_pat_...`, including the newer long `ghs_APPID_JWT` form), JWTs and `Bearer ...`/`token ...`
credentials. Structured context goes in `extra=` (`delivery`, `event`, `repo`, `pr`, `job`, ...).
"""

from __future__ import annotations

import bisect
import json
import logging
import re
import sys
import time
from collections.abc import Iterable
from typing import IO, Any

REDACTED = "[REDACTED]"
# Shorter configured secrets would blank out ordinary words; they are too weak to matter anyway.
MIN_SECRET_LENGTH = 4
_MIN_LINE = 16

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(
            r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\Z)", re.S
        ),
        REDACTED,
    ),
    (re.compile(r"\b(?:gh[opsuvr]_|github_pat_)[A-Za-z0-9_.\-]+"), REDACTED),
    (re.compile(r"\beyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*"), REDACTED),
    # `Bearer X`/`token X` where X looks like a credential (20+ characters, a digit), not prose.
    (re.compile(r"(?i)\b(bearer|token)(\s+)(?=\S*\d)[A-Za-z0-9_.\-+/=]{20,}"), rf"\1\2{REDACTED}"),
)
# Text without any of these cannot match a pattern above (each needs one): one scan, not four,
# for the usual line.
_ANY_PATTERN = re.compile(r"-----BEGIN |gh[opsuvr]_|github_pat_|eyJ|(?i:bearer|token)")
# Attributes every LogRecord has; anything else came from `extra=` and is context to show.
# (uvicorn adds `color_message`, the same text with terminal colours.)
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {
    "message",
    "asctime",
    "taskName",
    "color_message",
}


class Redactor:
    """Removes secrets from text: exact configured values, then the credential patterns."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        values: set[str] = set()
        for secret in secrets:
            values.update((secret, secret.strip(), secret.strip().replace("\n", "\\n")))
            # Each line of a PEM body too, so that a partial dump leaks no part of the key.
            values.update(
                line.strip()
                for line in secret.splitlines()
                if len(line.strip()) >= _MIN_LINE and not line.startswith("-----")
            )
        values = {value for value in values if len(value) >= MIN_SECRET_LENGTH}
        self._secrets = sorted(values, key=len, reverse=True)  # longest first: a key contains its lines
        # Secrets longer than a text cannot be in it, so each text skips them (a bisection, not a
        # scan each); unless one contains the marker, which a replacement could complete.
        self._negative_lengths = [-len(value) for value in self._secrets]
        self._skip_longer = not any(REDACTED in value for value in self._secrets)

    def __call__(self, text: str) -> str:
        start = bisect.bisect_left(self._negative_lengths, -len(text)) if self._skip_longer else 0
        for index in range(start, len(self._secrets)):
            text = text.replace(self._secrets[index], REDACTED)
        if _ANY_PATTERN.search(text):
            for pattern, replacement in _PATTERNS:
                text = pattern.sub(replacement, text)
        return text


class RedactingFilter(logging.Filter):
    """Formats each record's message, traceback and extras once, redacted, so no formatter can leak."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.redact = Redactor(secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.redact(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        extras = context(record)
        for key, value in extras.items():
            if isinstance(value, str):
                extras[key] = redacted = self.redact(value)
                setattr(record, key, redacted)
        record._context = extras  # for the formatters: the same, without looking again
        return True


def context(record: logging.LogRecord) -> dict[str, Any]:
    """The `extra=` fields of a record (as redacted by `RedactingFilter`, once it has)."""
    extras: dict[str, Any] | None = record.__dict__.get("_context")
    if extras is not None:
        return extras
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")}


class TextFormatter(logging.Formatter):
    """`2024-05-01T12:00:00Z INFO bot.app.webapp: delivery accepted delivery=... event=...`"""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%SZ")
        self.converter = time.gmtime
        self._second: tuple[int, str] = (-1, "")  # the last time shown (to the second) and its text

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        second = int(record.created)
        if second != self._second[0]:
            self._second = (second, super().formatTime(record, datefmt))
        return self._second[1]

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        line = super().formatMessage(record)
        extras = " ".join(f"{key}={value}" for key, value in sorted(context(record).items()))
        return f"{line} {extras}" if extras else line


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, the extras, and `exception` text."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(context(record))
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, default=str, ensure_ascii=False)


def setup_logging(
    level: str, fmt: str, secrets: Iterable[str] = (), stream: IO[str] | None = None
) -> logging.Handler:
    """Replace the root logger's handlers with one redacting handler; returns it."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(RedactingFilter(secrets))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # No formatter here shows the thread, the process or the caller's file and line: not looked
    # up for every record (the logging HOWTO's "Optimization" section; ~4 us of ~16 a record).
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    logging._srcfile = None
    # Their own handlers would bypass the filter: route uvicorn and huey through the root's.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "huey"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    # Per-request chatter from the HTTP client libraries is noise below WARNING.
    for name in ("urllib3", "httpx", "httpcore"):
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLevelName(level)))
    return handler
