"""GitHub App figures: webhook acknowledgement latency, and GitHub API calls per review.

    python -m bench.app [--deliveries N] [--concurrency N] [--warmup N] [--no-latency] [--no-calls]

1. Acknowledgement latency. A real `mountie serve --no-worker` on 127.0.0.1, in its own process
   (a throwaway key, webhook secret and data directory), receives a burst of `--deliveries`
   (default 1,000) signed `pull_request.synchronize` deliveries, each with its own delivery id
   and head SHA, spread over 50 pull requests. This process sends them with httpx over at most
   `--concurrency` (default 16) connections at once, after `--warmup` (default 50) deliveries that
   are not measured. Printed: the time from sending a delivery to having its answer (median, p90,
   p99, max), the answers' statuses and the deliveries per second. With no worker running, every
   job stays queued: this is the signature check, routing, the delivery ledger and the enqueue.

2. API calls per review. A real `mountie serve` with its worker process reviews against the
   GitHub emulator (in this process): one signed delivery per case, in turn. For each case, the
   GitHub requests from the delivery until the check run is complete and no request followed for
   a second, installation-token requests aside (the issue's budget does not count them), by
   operation.

Nothing here is a pass/fail test: the figures are printed for the record. Takes about 30 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bot.app.signature import sign
from bot.testing.github_emulator import GitHubEmulator

ROOT = Path(__file__).resolve().parent.parent
WEBHOOKS = ROOT / "tests" / "data" / "webhooks"
MOTIVATING = (ROOT / "tests" / "data" / "motivating.Dockerfile").read_text(encoding="utf-8")
APP_ID = 4242
INSTALLATION_ID = 77
REPO = "octo/app"
SECRET = "bench-webhook-secret"
TOKEN_REQUEST = "apps/create-installation-access-token"
MS = 1000.0


# -- a real `mountie serve` ------------------------------------------------------------------------


def private_key_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def serve(pem: str, api_url: str, *args: str) -> Iterator[str]:
    """`python -m bot serve` with throwaway settings; yields its base URL, stops it by its pid."""
    with tempfile.TemporaryDirectory(prefix="mountie-bench-") as tmp:
        port = free_port()
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": str(ROOT),
            "GITHUB_APP_ID": str(APP_ID),
            "GITHUB_PRIVATE_KEY": pem,
            "GITHUB_WEBHOOK_SECRET": SECRET,
            "GITHUB_API_URL": api_url,
            "MOUNTIE_DATA_DIR": str(Path(tmp) / "data"),
            "LOG_LEVEL": "warning",
        }
        log = (Path(tmp) / "serve.log").open("wb")
        command = [sys.executable, "-m", "bot", "serve", "--port", str(port), *args]
        process = subprocess.Popen(command, cwd=tmp, env=env, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_ready(process, url, Path(tmp) / "serve.log")
            yield url
        finally:
            stop_process(process)
            log.close()


def stop_process(process: subprocess.Popen[bytes], timeout: float = 20.0) -> int:
    """SIGTERM (the servers' graceful shutdown), then SIGKILL after `timeout` s; the exit status."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


def wait_ready(
    process: subprocess.Popen[bytes], url: str, log: Path, name: str = "mountie serve", timeout: float = 30.0
) -> None:
    """Until `url`/healthz answers 200; exits with the server's log if it dies or never does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{name} exited {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise SystemExit(f"{name} did not start:\n{log.read_text()}")


def pull_request_event(action: str, number: int, head: str, delivery: str) -> tuple[bytes, dict[str, str]]:
    """A signed `pull_request` delivery: body and headers."""
    data: dict[str, Any] = json.loads((WEBHOOKS / f"pull_request.{action}.json").read_text(encoding="utf-8"))
    data["number"] = number
    data["pull_request"].update(number=number, state="open", draft=False)
    data["pull_request"]["head"]["sha"] = head
    data["repository"]["full_name"] = REPO
    data["installation"]["id"] = INSTALLATION_ID
    body = json.dumps(data).encode()
    headers = {
        "X-GitHub-Event": "pull_request",
        "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": sign(SECRET, body),
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/bench",
    }
    return body, headers


# -- 1. acknowledgement latency --------------------------------------------------------------------


@dataclass
class Burst:
    latencies: list[float]  # seconds, one per measured delivery
    statuses: Counter[int]
    elapsed: float


async def _burst(url: str, deliveries: list[tuple[bytes, dict[str, str]]], concurrency: int) -> Burst:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    slots = asyncio.Semaphore(concurrency)
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30.0) as client:

        async def send(body: bytes, headers: dict[str, str]) -> None:
            async with slots:
                start = time.perf_counter()
                response = await client.post("/webhook", content=body, headers=headers)
                latencies.append(time.perf_counter() - start)
                statuses[response.status_code] += 1

        start = time.perf_counter()
        await asyncio.gather(*(send(body, headers) for body, headers in deliveries))
        return Burst(latencies, statuses, time.perf_counter() - start)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def latency(deliveries: int, concurrency: int, warmup: int) -> None:
    print(f"1. Webhook acknowledgement: mountie serve --no-worker, {deliveries:,} signed")
    print(f"   pull_request.synchronize deliveries, at most {concurrency} at once ({warmup} warm-up first)")

    def batch(count: int) -> list[tuple[bytes, dict[str, str]]]:
        return [
            pull_request_event("synchronize", 1 + n % 50, uuid.uuid4().hex + "0" * 8, str(uuid.uuid4()))
            for n in range(count)
        ]

    with serve(private_key_pem(), "http://127.0.0.1:9", "--no-worker") as url:
        asyncio.run(_burst(url, batch(warmup), concurrency))
        burst = asyncio.run(_burst(url, batch(deliveries), concurrency))
    ms = [value * MS for value in burst.latencies]
    statuses = ", ".join(f"{status}: {count}" for status, count in sorted(burst.statuses.items()))
    print(f"   statuses             {statuses}")
    print(
        f"   latency (ms)         median {statistics.median(ms):.1f}  p90 {percentile(ms, 0.9):.1f}  "
        f"p99 {percentile(ms, 0.99):.1f}  max {max(ms):.1f}"
    )
    print(f"   throughput           {deliveries / burst.elapsed:,.0f} deliveries/s ({burst.elapsed:.2f} s)")


# -- 2. API calls per review -----------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    name: str
    prepare: Callable[[GitHubEmulator], tuple[str, int, str]]  # -> action, PR number, head SHA


def _open(emu: GitHubEmulator, number: int, files: dict[str, str | None]) -> str:
    repo = emu.store.repos[REPO]
    base = repo.branches[repo.default_branch]
    head = emu.add_commit(REPO, files, parent=base, branch=f"feature-{number}")
    emu.add_pull_request(REPO, number, base, head, author="alice")
    return head


def _push(emu: GitHubEmulator, number: int, files: dict[str, str | None]) -> str:
    head = emu.add_commit(REPO, files, branch=f"feature-{number}")
    emu.push(REPO, number, head)
    return head


CASES = [
    Case(
        "motivating Dockerfile, first review",
        lambda emu: ("opened", 1, _open(emu, 1, {"Dockerfile": MOTIVATING, "src/main.rs": "fn main() {}\n"})),
    ),
    Case(
        "the same head again: nothing new to post",
        lambda emu: ("synchronize", 1, emu.pull_request(REPO, 1).head_sha),
    ),
    Case(
        "no Dockerfile changed",
        lambda emu: ("opened", 2, _open(emu, 2, {"src/lib.rs": "pub fn f() {}\n"})),
    ),
    Case(
        "3 Dockerfiles, a finding in each",
        lambda emu: (
            "opened",
            3,
            _open(emu, 3, {f"{name}/Dockerfile": MOTIVATING for name in ("api", "web", "worker")}),
        ),
    ),
    Case(
        "the motivating PR drops its Dockerfile: thread resolved",
        lambda emu: ("synchronize", 1, _push(emu, 1, {"Dockerfile": None})),
    ),
]


def _wait(emu: GitHubEmulator, head: str, runs_before: int, timeout: float = 60.0) -> None:
    """Until a new check run on `head` is complete and no request arrived for a second."""
    deadline = time.monotonic() + timeout
    seen, quiet_since = -1, time.monotonic()
    while time.monotonic() < deadline:
        runs = emu.check_runs(REPO, head)
        done = len(runs) > runs_before and all(run.status == "completed" for run in runs)
        count = len(emu.requests)
        if count != seen:
            seen, quiet_since = count, time.monotonic()
        if done and time.monotonic() - quiet_since >= 1.0:
            return
        time.sleep(0.05)
    raise SystemExit(f"no completed review on {head[:12]} within {timeout:.0f} s")


def api_calls() -> None:
    print("2. GitHub API calls per review (real mountie serve + worker against the emulator;")
    print("   installation-token requests not counted)")
    pem = private_key_pem()
    with GitHubEmulator(strict_responses=True) as emu:
        emu.add_app(APP_ID, "mountie", pem)
        emu.add_installation(INSTALLATION_ID, APP_ID, "octo")
        emu.add_repo(REPO, files={"README.md": "# app\n", "src/main.rs": "fn main() {}\n"})
        with serve(pem, emu.url, "--workers", "1") as url, httpx.Client(base_url=url) as client:
            time.sleep(1.0)  # the worker's start-up (it asks GET /app once)
            for case in CASES:
                action, number, head = case.prepare(emu)
                runs_before = len(emu.check_runs(REPO, head))
                emu.clear_requests()
                body, headers = pull_request_event(action, number, head, str(uuid.uuid4()))
                response = client.post("/webhook", content=body, headers=headers)
                if response.status_code != 202:
                    raise SystemExit(f"{case.name}: the delivery was answered {response.status_code}")
                _wait(emu, head, runs_before)
                operations = _operations(emu)
                tokens = sum(1 for r in emu.requests if r.operation_id == TOKEN_REQUEST)
                detail = ", ".join(f"{op} x{n}" if n > 1 else op for op, n in Counter(operations).items())
                print(f"   {len(operations):>2} calls  {case.name}  (+{tokens} token)")
                print(f"             {detail}")
        if emu.violations:
            raise SystemExit(f"the emulator saw requests off GitHub's API description: {emu.violations}")


def _operations(emu: GitHubEmulator) -> list[str]:
    names: list[str] = []
    for request in emu.requests:
        if request.operation_id == TOKEN_REQUEST:
            continue
        query = request.body.get("query", "") if isinstance(request.body, dict) else ""
        if request.operation_id == "graphql":
            names.append(
                "graphql mutation" if str(query).lstrip().startswith("mutation") else "graphql query"
            )
        else:
            names.append(str(request.operation_id))
    return names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.app", description=__doc__.split("\n\n")[0])
    parser.add_argument("--deliveries", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--no-latency", action="store_true", help="skip the acknowledgement burst")
    parser.add_argument("--no-calls", action="store_true", help="skip the API calls per review")
    args = parser.parse_args(argv)
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs\n")
    if not args.no_latency:
        latency(args.deliveries, args.concurrency, args.warmup)
        print()
    if not args.no_calls:
        api_calls()
    return 0


if __name__ == "__main__":
    sys.exit(main())
