"""Webhook receiver throughput and acknowledgement latency under wrk, against a bare-HMAC floor.

    python -m bench.receiver [--duration S] [--rounds N] [--connections 1,10,16,100]
                             [--body-bytes B] [--log-level L] [--warmup S]

Two servers on 127.0.0.1, each in its own process:

* **mountie**: a real `mountie serve --no-worker` (a throwaway key, webhook secret and data
  directory; the default SQLite queue, ledger and metrics; `LOG_LEVEL` info unless `--log-level`:
  one log line per delivery, to a file). Every delivery is verified, routed, claimed in the ledger
  and its job durably enqueued before the 202; nothing consumes the queue.
* **floor**: a bare FastAPI route that reads the body, verifies its HMAC-SHA256 signature and
  answers 202, under the same uvicorn settings as `mountie serve` (`bot.app.server.uvicorn_config`).
  Nothing can acknowledge a signed delivery with less work, so its throughput is the ceiling.

`wrk` (Debian package `wrk`) drives each from a second process with one thread and `--connections`
kept-alive connections (default 1, 10, 16 and 100) for `--duration` seconds (default 10), posting
the same signed `pull_request.synchronize` delivery padded to `--body-bytes` (default 25,000; the
padding is in the PR description, inside the signed JSON) with a random UUID as X-GitHub-Delivery
each time (a Lua script): GitHub's ids are UUIDs too, so the ledger's and the queue's inserts land
at random places in their indexes, as in production, not at the end. Rounds alternate which
server goes first (`--rounds`, default 2), so a noisy 2-vCPU machine penalises both alike; each
server gets a `--warmup` run (default 2 s) first. One mountie serves every round, so its SQLite
files grow (some 350,000 queued jobs by the end, as nothing consumes them), which is harder than
production, where a worker keeps the queue short.

Printed per connection count and round: requests/s, p50 and p99 latency (wrk's, from sending the
request to reading the whole answer) of both, and the ratio mountie/floor; then the means, and
whether the issue's target holds at 16 connections (at least half the floor's requests/s, p99
under 50 ms). Checked:
every answer was a 202 (mountie's saying "enqueued"), no socket errors; afterwards, the queue depth
and the delivery and job counters on mountie's `/metrics` match the enqueued answers, and once
mountie has stopped, so do the ledger and queue rows in its SQLite file and the counters it wrote to
its metrics file (nothing lost at shutdown). wrk may stop with requests in flight that the server
still completes, so those figures may exceed the counted answers by at most the open connections.
Exits 1 if a check fails. Takes about 3 minutes with the defaults.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from bench.app import ROOT, free_port, private_key_pem, stop_process, wait_ready
from bot.app import signature
from bot.app.server import uvicorn_config

SECRET = "bench-webhook-secret"
APP_ID = 4242
INSTALLATION_ID = 77
REPO = "octo/app"
PAYLOAD = ROOT / "tests" / "data" / "webhooks" / "pull_request.synchronize.json"
START_TIMEOUT = 30.0
RESULT_MARK = "MOUNTIE-BENCH-RESULT "

# One Lua state per wrk thread: `init` seeds its random numbers from the run's seed (the script's
# first argument) and its thread id (set in `setup`), reads the body file (the second) and builds
# the request head once; `request` joins head, a random UUID-shaped delivery id and body;
# `response` counts statuses and mountie's "enqueued" answers; `done` (a state of its own) adds up
# the threads' counters and prints one JSON line.
WRK_SCRIPT = r"""
wrk.method = "POST"
local threads = {}
local next_tid = 0

function setup(thread)
   next_tid = next_tid + 1
   thread:set("tid", next_tid)
   table.insert(threads, thread)
end

function init(args)
   math.randomseed(tonumber(args[1]) + tid)
   sent = 0
   statuses = {}
   enqueued = 0
   local file = assert(io.open(args[2], "rb"))
   local body = file:read("*a")
   file:close()
   wrk.headers["Content-Length"] = nil
   local lines = {wrk.method .. " " .. wrk.path .. " HTTP/1.1"}
   for name, value in pairs(wrk.headers) do
      table.insert(lines, name .. ": " .. value)
   end
   table.insert(lines, "Content-Length: " .. string.len(body))
   head = table.concat(lines, "\r\n") .. "\r\nX-GitHub-Delivery: "
   tail = "\r\n\r\n" .. body
end

local random = math.random

function request()
   sent = sent + 1
   local id = string.format("%04x%04x-%04x-4%03x-%04x-%04x%04x%04x", random(0, 0xffff),
      random(0, 0xffff), random(0, 0xffff), random(0, 0xfff), random(0x8000, 0xbfff),
      random(0, 0xffff), random(0, 0xffff), random(0, 0xffff))
   return head .. id .. tail
end

function response(status, headers, body)
   local key = tostring(status)
   statuses[key] = (statuses[key] or 0) + 1
   if status == 202 and string.find(body, '"outcome":"enqueued"', 1, true) then
      enqueued = enqueued + 1
   end
end

function done(summary, latency, requests)
   local counts = {}
   local total_enqueued = 0
   for _, thread in ipairs(threads) do
      local s = thread:get("statuses")
      for key, n in pairs(s) do
         counts[key] = (counts[key] or 0) + n
      end
      total_enqueued = total_enqueued + thread:get("enqueued")
   end
   local parts = {}
   for key, n in pairs(counts) do
      table.insert(parts, string.format('"%s": %d', key, n))
   end
   local e = summary.errors
   io.write(string.format(
      'MOUNTIE-BENCH-RESULT {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, ' ..
      '"max_us": %d, "enqueued": %d, "statuses": {%s}, "errors": {"connect": %d, "read": %d, ' ..
      '"write": %d, "timeout": %d, "status": %d}}\n',
      summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
      latency.max, total_enqueued, table.concat(parts, ", "), e.connect, e.read, e.write, e.timeout,
      e.status))
end
"""


# -- the two servers -------------------------------------------------------------------------------


def floor_app(secret: str) -> FastAPI:
    """The floor: read the body, verify its HMAC, answer 202; nothing else."""
    app = FastAPI(title="floor", docs_url=None, redoc_url=None, openapi_url=None)

    @app.post("/webhook")
    async def webhook(request: Request) -> Response:
        body = await request.body()
        if not signature.verify(secret, body, request.headers.get("x-hub-signature-256")):
            return JSONResponse({"outcome": "unauthorized"}, 401)
        return JSONResponse({"outcome": "verified"}, 202)

    @app.get("/healthz")
    async def healthz() -> Response:
        return JSONResponse({"status": "ok"})

    return app


def floor_main(port: int) -> int:
    """The floor server's process (`--floor PORT`), with `mountie serve`'s uvicorn settings."""
    app = floor_app(os.environ["BENCH_WEBHOOK_SECRET"])
    uvicorn.Server(uvicorn_config(app, host="127.0.0.1", port=port)).run()
    return 0


@dataclass
class Server:
    name: str
    url: str
    process: subprocess.Popen[bytes]
    log: Path
    data_dir: Path | None = None

    def stop(self) -> int:
        return stop_process(self.process, timeout=30)


@contextmanager
def start(name: str, command: list[str], env: dict[str, str], tmp: Path, port: int) -> Iterator[Server]:
    log = tmp / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=tmp, env=env, stdout=out, stderr=subprocess.STDOUT)
    server = Server(name, f"http://127.0.0.1:{port}", process, log)
    try:
        wait_ready(process, server.url, log, name, START_TIMEOUT)
        yield server
    finally:
        server.stop()


def base_env() -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(ROOT)}


@contextmanager
def mountie(tmp: Path, log_level: str) -> Iterator[Server]:
    port = free_port()
    data_dir = tmp / "data"
    env = base_env() | {
        "GITHUB_APP_ID": str(APP_ID),
        "GITHUB_PRIVATE_KEY": private_key_pem(),
        "GITHUB_WEBHOOK_SECRET": SECRET,
        "GITHUB_API_URL": "http://127.0.0.1:9",  # never called: no worker
        "MOUNTIE_DATA_DIR": str(data_dir),
        "LOG_LEVEL": log_level,
    }
    command = [sys.executable, "-m", "bot", "serve", "--no-worker", "--port", str(port)]
    with start("mountie", command, env, tmp, port) as server:
        server.data_dir = data_dir
        yield server


@contextmanager
def floor(tmp: Path) -> Iterator[Server]:
    port = free_port()
    env = base_env() | {"BENCH_WEBHOOK_SECRET": SECRET}
    with start("floor", [sys.executable, "-m", "bench.receiver", "--floor", str(port)], env, tmp, port) as s:
        yield s


# -- the delivery and wrk ---------------------------------------------------------------------------


def delivery_body(size: int) -> bytes:
    """A compact `pull_request.synchronize` payload for our App, padded to `size` bytes."""
    data: dict[str, Any] = json.loads(PAYLOAD.read_text(encoding="utf-8"))
    data["number"] = 1
    data["pull_request"].update(number=1, state="open", draft=False, body="")
    data["repository"]["full_name"] = REPO
    data["installation"]["id"] = INSTALLATION_ID
    bare = len(json.dumps(data, separators=(",", ":")).encode())
    data["pull_request"]["body"] = "x" * max(0, size - bare)
    return json.dumps(data, separators=(",", ":")).encode()


@dataclass
class Run:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    enqueued: int
    statuses: dict[str, int]
    errors: dict[str, int]

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def problems(self, expect_enqueued: bool) -> list[str]:
        found = [f"{n} x {status}" for status, n in self.statuses.items() if status != "202" and n]
        found += [f"{n} {kind} errors" for kind, n in self.errors.items() if kind != "status" and n]
        if expect_enqueued and self.enqueued != self.requests:
            found.append(f"{self.requests - self.enqueued} answers not 'enqueued'")
        return found


def wrk(url: str, body: bytes, script: Path, connections: int, seconds: float) -> Run:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "10s"]
    command += ["--latency", "-s", str(script)]
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/bench",
        "X-GitHub-Event": "pull_request",
        "X-Hub-Signature-256": signature.sign(SECRET, body),
    }
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    body_file = script.with_suffix(".body")
    body_file.write_bytes(body)
    command += [f"{url}/webhook", "--", str(random.randrange(1, 2**31)), str(body_file)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith(RESULT_MARK)), None)
    if done.returncode != 0 or line is None:
        raise SystemExit(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    data = json.loads(line[len(RESULT_MARK) :])
    return Run(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        p50_ms=data["p50_us"] / 1e3,
        p99_ms=data["p99_us"] / 1e3,
        max_ms=data["max_us"] / 1e3,
        enqueued=data["enqueued"],
        statuses=data["statuses"],
        errors=data["errors"],
    )


# -- the checks ------------------------------------------------------------------------------------


def scrape(url: str) -> dict[str, float]:
    """The figures the checks need from `GET /metrics`."""
    from prometheus_client.parser import text_string_to_metric_families

    wanted = {
        ("mountie_queue_pending_jobs", ()): "pending",
        (
            "mountie_webhook_deliveries_total",
            (("event", "pull_request"), ("outcome", "enqueued")),
        ): "deliveries",
        ("mountie_jobs_enqueued_total", (("kind", "review"),)): "jobs",
    }
    found = dict.fromkeys(wanted.values(), 0.0)
    text = httpx.get(f"{url}/metrics", timeout=10.0).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            key = wanted.get((sample.name, tuple(sorted(sample.labels.items()))))
            if key is not None:
                found[key] = sample.value
    return found


def settle(url: str) -> dict[str, float]:
    """`/metrics` once the queue depth stops moving (the last requests wrk left in flight)."""
    last = scrape(url)
    while True:
        time.sleep(0.3)
        now = scrape(url)
        if now == last:
            return now
        last = now


def stored(data_dir: Path) -> dict[str, float]:
    """Rows in the stopped receiver's SQLite files: ledger, queue, and the metrics it wrote."""

    def count(path: Path, query: str) -> float:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            row = conn.execute(query).fetchone()
        return float(row[0]) if row and row[0] is not None else 0.0

    queue, metrics = data_dir / "queue.db", data_dir / "metrics.db"
    sample = "SELECT value FROM samples WHERE metric = '{}' AND labels = '{}' AND field = ''"
    return {
        "ledger": count(queue, "SELECT count(*) FROM mountie_deliveries"),
        "queued": count(queue, "SELECT count(*) FROM task"),
        "deliveries": count(
            metrics,
            sample.format("mountie_webhook_deliveries", '{"event":"pull_request","outcome":"enqueued"}'),
        ),
        "jobs": count(metrics, sample.format("mountie_jobs_enqueued", '{"kind":"review"}')),
    }


def check_counts(what: str, figures: dict[str, float], answered: int, slack: int) -> list[str]:
    """Each figure between the enqueued answers and that plus the requests wrk left in flight."""
    line = ", ".join(f"{name} {value:,.0f}" for name, value in figures.items())
    print(f"   {what}: {line}")
    problems = [
        f"{what}: {name} {value:,.0f} is not within [{answered:,}, {answered + slack:,}]"
        for name, value in figures.items()
        if not answered <= value <= answered + slack
    ]
    if len(set(figures.values())) > 1:
        problems.append(f"{what}: the figures disagree ({line})")
    return problems


# -- the run ---------------------------------------------------------------------------------------


def row(label: str, ours: list[Run], floors: list[Run]) -> str:
    rate, floor_rate = statistics.fmean(r.rate for r in ours), statistics.fmean(r.rate for r in floors)

    def ms(runs: list[Run], attribute: str) -> float:
        return statistics.fmean(getattr(r, attribute) for r in runs)

    return (
        f"{label:>12}  {rate:>12,.0f} {ms(ours, 'p50_ms'):>7.1f} {ms(ours, 'p99_ms'):>7.1f}"
        f"  {floor_rate:>12,.0f} {ms(floors, 'p50_ms'):>7.1f} {ms(floors, 'p99_ms'):>7.1f}"
        f"  {rate / floor_rate:>6.2f}x"
    )


def bench(args: argparse.Namespace) -> int:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk)")
    body = delivery_body(args.body_bytes)
    connections = [int(c) for c in args.connections.split(",")]
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs; wrk -t1, {args.duration:g} s a run,")
    print(f"{len(body):,}-byte signed pull_request deliveries, a random delivery id (UUID) each;")
    print(f"mountie serve --no-worker (SQLite, LOG_LEVEL {args.log_level}) vs the bare-HMAC floor\n")
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="mountie-bench-receiver-") as name:
        tmp = Path(name)
        script = tmp / "deliveries.lua"
        script.write_text(WRK_SCRIPT, encoding="utf-8")
        runs: dict[tuple[str, int], list[Run]] = {}
        ours_all: list[Run] = []  # every run against mountie, warm-up included
        with mountie(tmp, args.log_level) as ours, floor(tmp) as bare:
            servers = {"mountie": ours, "floor": bare}
            for server in servers.values():
                warm = wrk(server.url, body, script, 16, args.warmup)
                if server is ours:
                    ours_all.append(warm)
            print(f"{'connections':>12}  {'mountie req/s':>12} {'p50 ms':>7} {'p99 ms':>7}", end="")
            print(f"  {'floor req/s':>12} {'p50 ms':>7} {'p99 ms':>7}  {'ratio':>7}")
            for count in connections:
                for round_ in range(args.rounds):
                    order = ("mountie", "floor") if round_ % 2 == 0 else ("floor", "mountie")
                    for server_name in order:
                        run = wrk(servers[server_name].url, body, script, count, args.duration)
                        runs.setdefault((server_name, count), []).append(run)
                        if server_name == "mountie":
                            ours_all.append(run)
                        problems += [
                            f"{server_name}, {count} connections: {p}"
                            for p in run.problems(expect_enqueued=server_name == "mountie")
                        ]
                    label = f"{count} r{round_ + 1}"
                    print(row(label, runs[("mountie", count)][-1:], runs[("floor", count)][-1:]), flush=True)
                if args.rounds > 1:
                    print(row(f"{count} mean", runs[("mountie", count)], runs[("floor", count)]), flush=True)
            answered = sum(r.enqueued for r in ours_all)
            slack = sum(connections) * args.rounds + 16  # requests wrk may leave in flight
            print(f"\nChecks ({answered:,} deliveries answered 202 'enqueued' by mountie):")
            problems += check_counts("/metrics while running", settle(ours.url), answered, slack)
            status = ours.stop()
            if status != 0:
                problems.append(f"mountie serve exited {status}")
            assert ours.data_dir is not None
            problems += check_counts("SQLite files after shutdown", stored(ours.data_dir), answered, slack)
    if 16 in connections:
        ours16, floor16 = runs[("mountie", 16)], runs[("floor", 16)]
        ratio = statistics.fmean(r.rate for r in ours16) / statistics.fmean(r.rate for r in floor16)
        p99 = max(r.p99_ms for r in ours16)
        met = "met" if ratio >= 0.5 and p99 < 50 else "NOT met"
        print(f"\nTarget at 16 connections (>= 0.5x the floor, p99 < 50 ms): {ratio:.2f}x,", end=" ")
        print(f"worst p99 {p99:.1f} ms: {met}")
    for problem in problems:
        print(f"PROBLEM: {problem}")
    return 1 if problems else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.receiver", description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per wrk run (default 10)")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds per level (default 2)")
    parser.add_argument("--connections", default="1,10,16,100", help="comma-separated (default 1,10,16,100)")
    parser.add_argument("--body-bytes", type=int, default=25_000, help="delivery size (default 25,000)")
    parser.add_argument("--log-level", default="info", help="mountie's LOG_LEVEL (default info)")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up per server (default 2)")
    parser.add_argument("--floor", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.floor is not None:
        return floor_main(args.floor)
    return bench(args)


if __name__ == "__main__":
    sys.exit(main())
