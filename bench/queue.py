"""The App's queue under load: acknowledgements, end-to-end review latency, memory.

    python -m bench.queue [--quick] [--prs N] [--seconds S] [--redis-url URL] [--throttle]

Real processes (`mountie serve --no-worker`, `mountie worker`) against the GitHub emulator in this
process, with no added latency. Prints:

* **Acknowledgements**: one receiver process, SQLite and Redis queues. Client threads (1, 2, 4, 8,
  16, each with a kept-alive connection) post signed `pull_request.opened` deliveries (GitHub's
  28 KB example payload, a new delivery id each) for `--seconds` (default 5) per level; for each,
  deliveries acknowledged per second and the median and p99 acknowledgement latency. The
  sustained figure is the best rate whose p99 stays under 50 ms. The client runs on the same 2
  cores as the receiver, so these are lower bounds.
* **Burst**: `--prs` (default 200) pull requests, each adding the motivating Dockerfile, delivered
  as fast as one client can; then the time from each delivery to its posted review (the review's
  time at the emulator): median, p99 and the whole burst, with 1 and with 4 `mountie worker`
  processes (2 threads each) on Redis, and the ratio. The workers' requests are not paced
  (MOUNTIE_GITHUB_THROTTLE=off) unless `--throttle`: paced, a job spends ~3 s waiting between
  its requests whatever the machine, which would measure PyGithub's pacing, not Mountie.
* **Peak memory** (VmHWM) of the receiver after the acknowledgement runs, and of a worker after
  a burst.

Redis: `--redis-url` (default MOUNTIE_TEST_REDIS_URL or redis://127.0.0.1:6379/0), under a key
prefix of its own, deleted afterwards. `--quick`: 2 s per level, levels 1-4, 50 PRs. The full run
takes about 2 minutes on a 2-vCPU machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import redis

from bench.app import free_port, private_key_pem, stop_process, wait_ready
from bot.app.signature import sign
from bot.testing.github_emulator import GitHubEmulator

ROOT = Path(__file__).resolve().parents[1]
PAYLOAD = ROOT / "tests" / "data" / "webhooks" / "pull_request.opened.json"
MOTIVATING = (ROOT / "tests" / "data" / "motivating.Dockerfile").read_text(encoding="utf-8")
APP_ID, INSTALLATION_ID, SECRET = 4242, 77, "bench-secret"
ACK_BUDGET_MS = 50.0


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def peak_memory_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text(encoding="utf-8").splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Process:
    """`python -m bot ...`, logging to a file, stopped with SIGTERM by its pid."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        self._out = log.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot", *args], env=env, stdout=self._out, stderr=subprocess.STDOUT
        )

    def stop(self) -> None:
        stop_process(self.process)
        self._out.close()


class Bench:
    def __init__(self, work: Path, redis_url: str, throttle: bool) -> None:
        self.work = work
        self.redis_url = redis_url
        self.throttle = throttle
        self.pem = private_key_pem()
        self.emu = GitHubEmulator()  # no response validation: as fast as it goes
        self.emu.start()
        self.emu.add_app(APP_ID, "mountie-bot", self.pem)
        self.emu.add_installation(INSTALLATION_ID, APP_ID, "octo")
        self.template = json.loads(PAYLOAD.read_text(encoding="utf-8"))
        self.prefixes: list[str] = []

    def env(self, data_dir: Path, queue: str) -> dict[str, str]:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": str(ROOT),
            "GITHUB_APP_ID": str(APP_ID),
            "GITHUB_PRIVATE_KEY": self.pem,
            "GITHUB_WEBHOOK_SECRET": SECRET,
            "GITHUB_API_URL": self.emu.url,
            "MOUNTIE_DATA_DIR": str(data_dir),
            "LOG_LEVEL": "warning",
            "MOUNTIE_GITHUB_THROTTLE": "on" if self.throttle else "off",
        }
        if queue == "redis":
            prefix = f"bench{uuid.uuid4().hex[:12]}"
            self.prefixes.append(prefix)
            env["MOUNTIE_QUEUE_URL"] = f"{self.redis_url}?prefix={prefix}"
        return env

    def cleanup(self) -> None:
        client = redis.Redis.from_url(self.redis_url)
        for prefix in self.prefixes:
            keys = list(client.scan_iter(match=f"*mountie_{prefix}*", count=1000))
            if keys:
                client.delete(*keys)
        client.close()
        self.emu.stop()

    @contextmanager
    def receiver(self, env: dict[str, str], name: str) -> Iterator[tuple[str, Process]]:
        port = free_port()
        process = Process(["serve", "--no-worker", "--port", str(port)], env, self.work / f"{name}.log")
        url = f"http://127.0.0.1:{port}"
        try:
            wait_ready(process.process, url, process.log, "the receiver")
            yield url, process
        finally:
            process.stop()

    def delivery(self, number: int, head: str, repo: str = "octo/app") -> tuple[bytes, dict[str, str]]:
        data: dict[str, Any] = json.loads(json.dumps(self.template))
        data["number"] = number
        data["pull_request"].update(number=number, draft=False, state="open")
        data["pull_request"]["head"]["sha"] = head
        data["repository"]["full_name"] = repo
        data["installation"] = {"id": INSTALLATION_ID}
        body = json.dumps(data).encode()
        headers = {
            "X-GitHub-Event": "pull_request",
            "X-GitHub-Delivery": str(uuid.uuid4()),
            "X-Hub-Signature-256": sign(SECRET, body),
            "Content-Type": "application/json",
        }
        return body, headers

    # -- acknowledgements -------------------------------------------------------------------------

    def acknowledgements(self, queue: str, levels: Sequence[int], seconds: float) -> dict[str, float]:
        print(f"\n== acknowledgements, one receiver, {queue} queue ({seconds:g} s per level)")
        print(f"{'clients':>8} {'acks/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'non-202':>8}")
        env = self.env(self.work / f"ack-{queue}", queue)
        best = 0.0
        with self.receiver(env, f"ack-{queue}") as (url, process):
            for clients in levels:
                latencies, failures = self._load(url, clients, seconds)
                rate = len(latencies) / seconds
                p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
                print(f"{clients:>8} {rate:>8.0f} {p50:>8.1f} {p99:>8.1f} {failures:>8}")
                if p99 < ACK_BUDGET_MS and failures == 0:
                    best = max(best, rate)
            memory = peak_memory_mb(process.process.pid)
        print(f"sustained: {best:.0f} deliveries/s with p99 under {ACK_BUDGET_MS:g} ms")
        print(f"receiver peak memory: {memory:.0f} MB")
        return {"sustained": best, "memory": memory}

    def _load(self, url: str, clients: int, seconds: float) -> tuple[list[float], int]:
        latencies: list[float] = []
        failures = [0]
        lock = threading.Lock()
        stop_at = time.monotonic() + seconds
        prepared = [self.delivery(n, f"{n:040x}") for n in range(1, 41)]

        def client(index: int) -> None:
            mine: list[float] = []
            bad = 0
            with httpx.Client(timeout=10) as http:
                n = index
                while time.monotonic() < stop_at:
                    body, headers = prepared[n % len(prepared)]
                    headers = {**headers, "X-GitHub-Delivery": str(uuid.uuid4())}
                    started = time.perf_counter()
                    status = http.post(f"{url}/webhook", content=body, headers=headers).status_code
                    mine.append((time.perf_counter() - started) * 1000)
                    bad += status != 202
                    n += clients
            with lock:
                latencies.extend(mine)
                failures[0] += bad

        threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return latencies, failures[0]

    # -- end to end -------------------------------------------------------------------------------

    def burst(self, prs: int, workers: int) -> dict[str, float]:
        repo = f"octo/burst{workers}w"
        base = self.emu.add_repo(repo, files={"README.md": "# app\n"})
        heads = {}
        for number in range(1, prs + 1):
            head = self.emu.add_commit(repo, {f"svc{number}/Dockerfile": MOTIVATING}, parent=base)
            self.emu.add_pull_request(repo, number, base, head, author="alice")
            heads[number] = head
        label = f"burst-{workers}w"
        env = self.env(self.work / label / "receiver", "redis")
        procs = []
        with self.receiver(env, f"{label}-receiver") as (url, _):
            for index in range(workers):
                worker_env = {**env, "MOUNTIE_DATA_DIR": str(self.work / label / f"worker{index}")}
                procs.append(
                    Process(["worker", "--workers", "2"], worker_env, self.work / f"{label}-w{index}.log")
                )
            time.sleep(3)  # the workers are up (a real fleet is running before the burst)
            sent: dict[int, float] = {}
            with httpx.Client(timeout=10) as http:
                started = time.time()
                for number, head in heads.items():
                    body, headers = self.delivery(number, head, repo)
                    sent[number] = time.time()
                    assert http.post(f"{url}/webhook", content=body, headers=headers).status_code == 202
            delivered = time.time() - started
            latencies = self._wait_reviews(repo, sent, timeout=900)
            memory = max(peak_memory_mb(p.process.pid) for p in procs)
            for proc in procs:
                proc.stop()
        whole = max(latencies.values())
        values = list(latencies.values())
        result = {
            "median": statistics.median(values),
            "p99": percentile(values, 99),
            "whole": whole,
            "delivered": delivered,
            "memory": memory,
        }
        print(
            f"{workers:>8} {result['median']:>10.2f} {result['p99']:>10.2f} {whole:>10.2f} "
            f"{prs / whole:>10.1f} {delivered:>11.2f} {memory:>8.0f}"
        )
        return result

    def _wait_reviews(self, repo: str, sent: dict[int, float], timeout: float) -> dict[int, float]:
        deadline = time.monotonic() + timeout
        latencies: dict[int, float] = {}
        while len(latencies) < len(sent):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{len(sent) - len(latencies)} PRs not reviewed after {timeout} s")
            for number, at in sent.items():
                if number in latencies:
                    continue
                reviews = self.emu.reviews(repo, number)
                if reviews:
                    latencies[number] = reviews[0].created_at - at
            time.sleep(0.2)
        for number in sent:
            assert len(self.emu.reviews(repo, number)) == 1, f"PR {number} has more than one review"
        return latencies


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.queue", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--prs", type=int, default=0, help="pull requests in the burst (default 200)")
    parser.add_argument("--seconds", type=float, default=0, help="seconds per load level (default 5)")
    default_url = os.environ.get("MOUNTIE_TEST_REDIS_URL") or "redis://127.0.0.1:6379/0"
    parser.add_argument("--redis-url", default=default_url)
    parser.add_argument("--throttle", action="store_true", help="pace each job's requests as in production")
    args = parser.parse_args(argv)
    prs = args.prs or (50 if args.quick else 200)
    seconds = args.seconds or (2.0 if args.quick else 5.0)
    levels = (1, 2, 4) if args.quick else (1, 2, 4, 8, 16)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, Redis at {args.redis_url}")
    with tempfile.TemporaryDirectory(prefix="mountie-bench-") as scratch:
        bench = Bench(Path(scratch), args.redis_url, args.throttle)
        try:
            acks = {queue: bench.acknowledgements(queue, levels, seconds) for queue in ("sqlite", "redis")}
            paced = "paced as in production" if args.throttle else "requests not paced"
            print(f"\n== burst of {prs} PRs on Redis, 2 threads per worker process ({paced})")
            print(
                f"{'workers':>8} {'median s':>10} {'p99 s':>10} {'burst s':>10} {'reviews/s':>10} "
                f"{'delivered s':>11} {'peak MB':>8}"
            )
            one = bench.burst(prs, 1)
            four = bench.burst(prs, 4)
        finally:
            bench.cleanup()
    print(f"\nscaling, 1 -> 4 worker processes: whole burst {one['whole'] / four['whole']:.2f}x faster")
    print("\n== for the README")
    print(render(acks, one, four, prs, args.throttle))
    return 0


def render(
    acks: dict[str, dict[str, float]], one: dict[str, float], four: dict[str, float], prs: int, throttle: bool
) -> str:
    line: Callable[[str, dict[str, float]], str] = lambda name, r: (  # noqa: E731 - two uses
        f"| {name} | {r['median']:.1f} s | {r['p99']:.1f} s | {r['whole']:.1f} s | {prs / r['whole']:.1f} |"
    )
    rows = [
        f"- One receiver acknowledges {acks['sqlite']['sustained']:.0f} deliveries/s (SQLite queue) and "
        f"{acks['redis']['sustained']:.0f}/s (Redis) with p99 under {ACK_BUDGET_MS:g} ms.",
        f"- A burst of {prs} pull requests, delivery to posted review"
        f"{'' if throttle else ' (requests not paced)'}:",
        "",
        "| worker processes | median | p99 | whole burst | reviews/s |",
        "| --- | --- | --- | --- | --- |",
        line("1", one),
        line("4", four),
        "",
        f"- Peak memory: receiver {acks['redis']['memory']:.0f} MB, "
        f"worker {max(one['memory'], four['memory']):.0f} MB.",
    ]
    return "\n".join(rows)


if __name__ == "__main__":
    sys.exit(main())
