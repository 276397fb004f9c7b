"""Metrics kept in SQLite add up across processes and render in the Prometheus text format."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.app.metrics import (
    API_CALLS,
    DELIVERIES,
    JOBS_FINISHED,
    LATENCY_BUCKETS,
    RATE_LIMIT_REMAINING,
    REVIEW_LATENCY,
    SPECS,
    MetricsStore,
)
from tests.app.support import ROOT


def parse(text: bytes) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """sample name -> {sorted label pairs: value}"""
    samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text.decode("utf-8")):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def test_an_empty_store_still_declares_every_metric(tmp_path: Path) -> None:
    text = MetricsStore(tmp_path / "metrics.db").render().decode()
    for spec in SPECS:
        name = spec.name + ("_total" if spec.kind == "counter" else "")
        assert f"# TYPE {name} {spec.kind}\n" in text
        assert f"# HELP {name} {spec.help}\n" in text


def test_counters_gauges_and_histograms(tmp_path: Path) -> None:
    store = MetricsStore(tmp_path / "metrics.db")
    store.inc(DELIVERIES, {"event": "pull_request", "outcome": "enqueued"})
    store.inc(DELIVERIES, {"event": "pull_request", "outcome": "enqueued"})
    store.inc(DELIVERIES, {"event": "ping", "outcome": "pong"})
    store.inc(API_CALLS, {"method": "GET", "status": "200"}, 3)
    store.set(RATE_LIMIT_REMAINING, 4990, {"resource": "core"})
    store.set(RATE_LIMIT_REMAINING, 4987, {"resource": "core"})
    for seconds in (0.2, 1.5, 45.0, 4000.0):
        store.observe(REVIEW_LATENCY, seconds, {"outcome": "reviewed"})
    samples = parse(store.render(lambda: {"mountie_queue_pending_jobs": ("Jobs waiting.", 3)}))

    deliveries = samples["mountie_webhook_deliveries_total"]
    assert deliveries[(("event", "pull_request"), ("outcome", "enqueued"))] == 2
    assert deliveries[(("event", "ping"), ("outcome", "pong"))] == 1
    assert samples["mountie_github_api_calls_total"][(("method", "GET"), ("status", "200"))] == 3
    assert samples["mountie_github_rate_limit_remaining"][(("resource", "core"),)] == 4987
    assert samples["mountie_queue_pending_jobs"][()] == 3

    buckets = {dict(k)["le"]: v for k, v in samples["mountie_review_latency_seconds_bucket"].items()}
    assert buckets["0.5"] == 1 and buckets["2.0"] == 2 and buckets["60.0"] == 3 and buckets["600.0"] == 3
    assert buckets["+Inf"] == 4 and len(buckets) == len(LATENCY_BUCKETS) + 1
    assert samples["mountie_review_latency_seconds_count"][(("outcome", "reviewed"),)] == 4
    assert samples["mountie_review_latency_seconds_sum"][(("outcome", "reviewed"),)] == pytest.approx(4046.7)


def test_label_names_are_checked(tmp_path: Path) -> None:
    store = MetricsStore(tmp_path / "metrics.db")
    with pytest.raises(ValueError, match="takes labels"):
        store.inc(JOBS_FINISHED, {"kind": "review"})


def test_label_values_are_escaped(tmp_path: Path) -> None:
    store = MetricsStore(tmp_path / "metrics.db")
    store.inc(DELIVERIES, {"event": 'odd "event"\nname', "outcome": "ignored"})
    samples = parse(store.render())
    assert samples["mountie_webhook_deliveries_total"] == {
        (("event", 'odd "event"\nname'), ("outcome", "ignored")): 1
    }


_COUNT_IN_CHILD = """
import sys
from pathlib import Path
from bot.app.metrics import DELIVERIES, MetricsStore
store = MetricsStore(Path(sys.argv[1]))
for _ in range(200):
    store.inc(DELIVERIES, {"event": "push", "outcome": "ignored"})
"""


def test_processes_add_to_the_same_figures(tmp_path: Path) -> None:
    path = tmp_path / "metrics.db"
    MetricsStore(path).inc(DELIVERIES, {"event": "push", "outcome": "ignored"})
    children = [
        subprocess.Popen([sys.executable, "-c", _COUNT_IN_CHILD, str(path)], env={"PYTHONPATH": str(ROOT)})
        for _ in range(3)
    ]
    assert [child.wait(60) for child in children] == [0, 0, 0]
    assert MetricsStore(path).value(DELIVERIES, {"event": "push", "outcome": "ignored"}) == 601


def test_a_broken_database_drops_the_figure_without_failing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "metrics.db"
    store = MetricsStore(path)
    store.inc(DELIVERIES, {"event": "push", "outcome": "ignored"})
    with sqlite3.connect(path) as other:
        other.execute("DROP TABLE samples")
    store.inc(DELIVERIES, {"event": "push", "outcome": "ignored"})  # logged, not raised
    assert "metric mountie_webhook_deliveries not recorded: no such table: samples" in caplog.text


def test_buffered_figures_show_at_once_and_reach_the_file_when_flushed(tmp_path: Path) -> None:
    path = tmp_path / "metrics.db"
    store = MetricsStore(path, flush_interval=3600.0)  # no periodic flush within the test
    pushes = {"event": "push", "outcome": "ignored"}
    MetricsStore(path).inc(DELIVERIES, pushes)  # another process's figure, already in the file
    store.inc(DELIVERIES, pushes, 2)
    store.set(RATE_LIMIT_REMAINING, 4990, {"resource": "core"})
    store.set(RATE_LIMIT_REMAINING, 4987, {"resource": "core"})
    store.observe(REVIEW_LATENCY, 1.5, {"outcome": "reviewed"})
    reader = MetricsStore(path)  # what another process sees in the file
    assert reader.value(DELIVERIES, pushes) == 1
    samples = parse(store.render())  # this process's `/metrics`: the file and what it buffered
    assert samples["mountie_webhook_deliveries_total"][(("event", "push"), ("outcome", "ignored"))] == 3
    assert samples["mountie_github_rate_limit_remaining"][(("resource", "core"),)] == 4987
    assert samples["mountie_review_latency_seconds_count"][(("outcome", "reviewed"),)] == 1
    store.flush()
    assert reader.value(DELIVERIES, pushes) == 3
    assert reader.value(RATE_LIMIT_REMAINING, {"resource": "core"}) == 4987
    assert reader.value(REVIEW_LATENCY, {"outcome": "reviewed"}, "le=2.0") == 1
    store.inc(DELIVERIES, pushes)
    store.close()  # a clean shutdown writes what is left
    assert reader.value(DELIVERIES, pushes) == 4
    assert store.value(DELIVERIES, pushes) == 4  # nothing counted twice


def test_buffered_figures_are_flushed_periodically(tmp_path: Path) -> None:
    path = tmp_path / "metrics.db"
    store = MetricsStore(path, flush_interval=0.05)
    store.inc(JOBS_FINISHED, {"kind": "review", "outcome": "reviewed"})
    reader = MetricsStore(path)
    deadline = time.monotonic() + 10
    while reader.value(JOBS_FINISHED, {"kind": "review", "outcome": "reviewed"}) != 1:
        assert time.monotonic() < deadline, "the figure never reached the file"
        time.sleep(0.02)
    store.close()


def test_buffered_figures_survive_a_failed_flush(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "metrics.db"
    store = MetricsStore(path, flush_interval=3600.0)
    pushes = {"event": "push", "outcome": "ignored"}
    store.inc(DELIVERIES, pushes)
    store.flush()
    store.inc(DELIVERIES, pushes)
    with sqlite3.connect(path) as other:
        other.execute("DROP TABLE samples")  # the first figure goes with it
    store.flush()  # fails: kept in memory, logged
    assert "metric figures not written yet" in caplog.text
    store.inc(DELIVERIES, pushes)
    with sqlite3.connect(path) as repair:
        repair.execute(
            "CREATE TABLE samples (metric TEXT NOT NULL, labels TEXT NOT NULL, field TEXT NOT NULL,"
            " value REAL NOT NULL, PRIMARY KEY (metric, labels, field)) WITHOUT ROWID"
        )
    store.close()
    assert MetricsStore(path).value(DELIVERIES, pushes) == 2  # both figures counted since then
