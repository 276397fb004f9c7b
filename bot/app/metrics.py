"""Prometheus metrics shared by the receiver and the worker processes, kept in a SQLite file.

Each process adds to the same rows of `metrics.db` in the data directory (an upsert per event), and
`GET /metrics` on the receiver renders them all, so the figures are correct whichever process, and
however many, did the counting; they also survive restarts (Prometheus copes with counters that
never reset). prometheus_client's own multiprocess mode was the alternative, but it needs an
environment variable set before import in every process and a wiped directory at each start, which
a worker started on its own (`mountie worker`) cannot coordinate with a running receiver.
prometheus_client is used only to write the exposition format.

The receiver buffers its counts (`MetricsStore(path, flush_interval=...)`): an increment is a
dictionary update in memory, written to the file with the others in one transaction every
`flush_interval` seconds (1 s in `mountie serve`) and by `close()` at a clean shutdown, instead of
two SQLite commits per delivery. Its own `GET /metrics` adds the counts not yet written, so they
show at once; other processes reading the file see them within the interval. A receiver that is
killed (SIGKILL, a crash) loses at most the last interval's counts; the deliveries themselves are
in the ledger and the queue whatever happens to their counts. The worker writes at once.

Writing a metric never fails the caller: a database error is logged and the figure dropped
(buffered figures are kept for the next flush instead).
"""

from __future__ import annotations

import functools
import json
import logging
import math
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from bot.jobs.sqlite import SqliteFile

log = logging.getLogger(__name__)

METRICS_FILE = "metrics.db"
LATENCY_BUCKETS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)


@dataclass(frozen=True, slots=True)
class MetricSpec:
    name: str  # counters without the `_total` the exposition format adds
    kind: str  # counter | gauge | histogram
    help: str
    labels: tuple[str, ...] = ()
    buckets: tuple[float, ...] = ()


DELIVERIES = MetricSpec(
    "mountie_webhook_deliveries", "counter", "Webhook deliveries by event and outcome.", ("event", "outcome")
)
JOBS_ENQUEUED = MetricSpec("mountie_jobs_enqueued", "counter", "Jobs put on the queue.", ("kind",))
JOBS_FINISHED = MetricSpec(
    "mountie_jobs_finished", "counter", "Jobs the worker finished, by outcome.", ("kind", "outcome")
)
JOB_RETRIES = MetricSpec(
    "mountie_job_retries", "counter", "Job attempts that failed transiently and were rescheduled.", ("kind",)
)
API_CALLS = MetricSpec(
    "mountie_github_api_calls", "counter", "GitHub API requests by method and status.", ("method", "status")
)
RATE_LIMIT_REMAINING = MetricSpec(
    "mountie_github_rate_limit_remaining",
    "gauge",
    "x-ratelimit-remaining of the latest GitHub API response, by resource.",
    ("resource",),
)
REVIEW_LATENCY = MetricSpec(
    "mountie_review_latency_seconds",
    "histogram",
    "From the webhook delivery's arrival to the job's end, by outcome.",
    ("outcome",),
    LATENCY_BUCKETS,
)
JOBS_RECOVERED = MetricSpec(
    "mountie_jobs_recovered",
    "counter",
    "Jobs the sweeper put back on the queue after a worker lost them, by reason.",
    ("reason",),
)
SPECS: tuple[MetricSpec, ...] = (
    DELIVERIES,
    JOBS_ENQUEUED,
    JOBS_FINISHED,
    JOB_RETRIES,
    JOBS_RECOVERED,
    API_CALLS,
    RATE_LIMIT_REMAINING,
    REVIEW_LATENCY,
)

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS samples ("
    " metric TEXT NOT NULL, labels TEXT NOT NULL, field TEXT NOT NULL, value REAL NOT NULL,"
    " PRIMARY KEY (metric, labels, field)) WITHOUT ROWID",
)
_ADD = (
    "INSERT INTO samples (metric, labels, field, value) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (metric, labels, field) DO UPDATE SET value = value + excluded.value"
)
_SET = (
    "INSERT INTO samples (metric, labels, field, value) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (metric, labels, field) DO UPDATE SET value = excluded.value"
)

Sample = tuple[str, dict[str, str], str, float]  # metric, labels, field ("", "sum", "le=0.5"), value
ExtraGauges = Callable[[], Mapping[str, tuple[str, float]]]  # name -> (help, value), read at scrape


# A buffered change to one row: (True, v) sets it to v, (False, d) adds d.
_Change = tuple[bool, float]
_Key = tuple[str, str, str]  # metric, labels key (JSON), field


class MetricsStore:
    def __init__(self, path: Path, *, flush_interval: float | None = None) -> None:
        """`flush_interval`: buffer in memory and write every so many seconds (see the module
        docstring; call `close()` at shutdown); None: every figure is written at once."""
        self._db = SqliteFile(path, _SCHEMA)
        self._buffered = flush_interval is not None
        self._pending: dict[_Key, _Change] = {}
        self._pending_lock = threading.Lock()  # `_pending` itself
        # Held while a flush moves figures from memory to the file, and while a reader combines
        # the two, so that no scrape sees a flushed count in neither (a counter going down).
        self._flush_lock = threading.Lock()
        self._stop = threading.Event()
        self._flusher: threading.Thread | None = None
        if flush_interval is not None:
            self._flusher = threading.Thread(
                target=self._flush_every, args=(flush_interval,), name="metrics flush", daemon=True
            )
            self._flusher.start()

    def inc(self, spec: MetricSpec, labels: Mapping[str, str] | None = None, amount: float = 1.0) -> None:
        self._write(spec, labels, [(False, "", amount)])

    def set(self, spec: MetricSpec, value: float, labels: Mapping[str, str] | None = None) -> None:
        self._write(spec, labels, [(True, "", value)])

    def observe(self, spec: MetricSpec, value: float, labels: Mapping[str, str] | None = None) -> None:
        """Histogram: one more observation (buckets are stored cumulative, as exposed)."""
        rows = [(False, f"le={bound}", 1.0) for bound in spec.buckets if value <= bound]
        rows += [(False, "le=+Inf", 1.0), (False, "sum", value)]
        self._write(spec, labels, rows)

    def _write(
        self, spec: MetricSpec, labels: Mapping[str, str] | None, rows: list[tuple[bool, str, float]]
    ) -> None:
        key = _labels_key(spec, tuple((labels or {}).items()))
        if self._buffered:
            with self._pending_lock:
                pending = self._pending
                for assign, field, value in rows:
                    row = (spec.name, key, field)
                    pending[row] = _then(pending.get(row), (assign, value))
            return
        try:
            self._store({(spec.name, key, field): (assign, value) for assign, field, value in rows})
        except sqlite3.Error as error:
            log.warning("metric %s not recorded: %s", spec.name, error)

    def _store(self, changes: Mapping[_Key, _Change]) -> None:
        conn = self._db.connection()
        with _transaction(conn):
            for (metric, key, field), (assign, value) in changes.items():
                conn.execute(_SET if assign else _ADD, (metric, key, field, value))

    def flush(self) -> None:
        """Write the buffered figures (if any) to the file; kept in memory if that fails."""
        with self._flush_lock:
            with self._pending_lock:
                changes, self._pending = self._pending, {}
            if not changes:
                return
            try:
                self._store(changes)
            except sqlite3.Error as error:
                log.warning("%d metric figures not written yet: %s", len(changes), error)
                with self._pending_lock:
                    newer, self._pending = self._pending, changes
                    for row, change in newer.items():
                        self._pending[row] = _then(self._pending.get(row), change)

    def _flush_every(self, interval: float) -> None:
        while not self._stop.wait(interval):
            self.flush()

    def close(self) -> None:
        """Stop the periodic flush and write what is buffered (a clean shutdown loses nothing)."""
        self._stop.set()
        if self._flusher is not None and self._flusher is not threading.current_thread():
            self._flusher.join()
        self.flush()

    def _rows(self) -> dict[_Key, float]:
        """Every stored figure, with the buffered changes applied."""
        with self._flush_lock:
            rows = self._db.connection().execute("SELECT metric, labels, field, value FROM samples")
            figures: dict[_Key, float] = {(m, k, f): v for m, k, f, v in rows}
            with self._pending_lock:
                pending = list(self._pending.items())
        for row, (assign, value) in pending:
            figures[row] = value if assign else figures.get(row, 0.0) + value
        return figures

    def samples(self) -> list[Sample]:
        return [
            (metric, json.loads(key), field, value) for (metric, key, field), value in self._rows().items()
        ]

    def value(self, spec: MetricSpec, labels: Mapping[str, str] | None = None, field: str = "") -> float:
        """One figure (0 when never recorded), buffered changes included; for tests and the CLI."""
        row = (spec.name, _labels_key(spec, tuple((labels or {}).items())), field)
        if not self._buffered:
            stored = (
                self._db.connection()
                .execute("SELECT value FROM samples WHERE metric = ? AND labels = ? AND field = ?", row)
                .fetchone()
            )
            return float(stored[0]) if stored else 0.0
        return self._rows().get(row, 0.0)

    def render(self, extra_gauges: ExtraGauges | None = None) -> bytes:
        """Every metric in the Prometheus text exposition format (version 0.0.4)."""
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_Collector(self.samples(), extra_gauges))
        return generate_latest(registry)


def _then(first: _Change | None, then: _Change) -> _Change:
    """One change with the effect of `first` followed by `then`."""
    if first is None or then[0]:
        return then
    return first[0], first[1] + then[1]


def record_api_call(store: MetricsStore, method: str, path: str, status: int, remaining: int | None) -> None:
    """One GitHub API request (status 0: no answer) and the rate limit it reported."""
    store.inc(API_CALLS, {"method": method, "status": str(status) if status else "no-response"})
    if status and remaining is not None:
        resource = "graphql" if path.rstrip("/").endswith("/graphql") else "core"
        store.set(RATE_LIMIT_REMAINING, remaining, {"resource": resource})


class _transaction:  # noqa: N801 (used like a function)
    """BEGIN IMMEDIATE ... COMMIT, so a histogram's rows change together."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        self.conn.execute("COMMIT" if exc_type is None else "ROLLBACK")


@functools.lru_cache(maxsize=4096)
def _labels_key(spec: MetricSpec, labels: tuple[tuple[str, str], ...]) -> str:
    """The stored form of a label set (cached: the same few sets recur on every delivery)."""
    values = dict(labels)
    if set(values) != set(spec.labels):
        raise ValueError(f"{spec.name} takes labels {spec.labels}, got {sorted(values)}")
    return json.dumps({name: str(values[name]) for name in spec.labels}, separators=(",", ":"))


class _Collector(Collector):
    """Turns the stored rows into prometheus_client metric families at scrape time."""

    def __init__(self, samples: list[Sample], extra_gauges: ExtraGauges | None) -> None:
        self._samples = samples
        self._extra = extra_gauges

    def collect(self) -> Iterator[Metric]:
        by_metric: dict[str, list[Sample]] = {}
        for sample in self._samples:
            by_metric.setdefault(sample[0], []).append(sample)
        for spec in SPECS:
            rows = sorted(by_metric.get(spec.name, []), key=lambda s: json.dumps(s[1], sort_keys=True))
            if spec.kind == "histogram":
                histogram = HistogramMetricFamily(spec.name, spec.help, labels=spec.labels)
                for labels, fields in _group(rows).items():
                    buckets = [(_le(b), fields.get(f"le={b}", 0.0)) for b in spec.buckets]
                    buckets.append(("+Inf", fields.get("le=+Inf", 0.0)))
                    histogram.add_metric(list(labels), buckets, fields.get("sum", 0.0))
                yield histogram
                continue
            family: CounterMetricFamily | GaugeMetricFamily
            if spec.kind == "counter":
                family = CounterMetricFamily(spec.name, spec.help, labels=spec.labels)
            else:
                family = GaugeMetricFamily(spec.name, spec.help, labels=spec.labels)
            for _, labels_map, _, value in rows:
                family.add_metric([labels_map[name] for name in spec.labels], value)
            yield family
        for name, (help_text, value) in (self._extra() if self._extra else {}).items():
            yield GaugeMetricFamily(name, help_text, value=value)


def _group(rows: list[Sample]) -> dict[tuple[str, ...], dict[str, float]]:
    grouped: dict[tuple[str, ...], dict[str, float]] = {}
    for _, labels, field, value in rows:
        grouped.setdefault(tuple(labels.values()), {})[field] = value
    return grouped


def _le(bound: float) -> str:
    return "+Inf" if math.isinf(bound) else repr(float(bound))
