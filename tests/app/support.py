"""Helpers for the App tests: a test key, the settings environment, webhook payloads, signed
requests, and `mountie serve` as a real process on a free port."""

from __future__ import annotations

import copy
import functools
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bot.app.signature import sign

ROOT = Path(__file__).resolve().parents[2]
WEBHOOKS = ROOT / "tests" / "data" / "webhooks"
APP_ID = 4242
SECRET = "It's a Secret to Everybody"
START_TIMEOUT = 20.0


@functools.cache
def private_key_pem() -> str:
    """One RSA key for the whole run (generating one takes a noticeable fraction of a second)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def app_env(data_dir: Path, **overrides: str) -> dict[str, str]:
    """A complete, minimal process environment for the App commands (nothing from the caller's)."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(ROOT),
        "GITHUB_APP_ID": str(APP_ID),
        "GITHUB_PRIVATE_KEY": private_key_pem(),
        "GITHUB_WEBHOOK_SECRET": SECRET,
        "MOUNTIE_DATA_DIR": str(data_dir),
        "LOG_LEVEL": "info",
        # Never the real GitHub: a closed loopback port (the worker asks GET /app at start-up).
        "GITHUB_API_URL": "http://127.0.0.1:9",
    }
    env.update(overrides)
    return env


def payload(name: str, **changes: Any) -> dict[str, Any]:
    """A copy of tests/data/webhooks/<name>.json; `changes` maps dotted paths to new values."""
    data: dict[str, Any] = json.loads((WEBHOOKS / f"{name}.json").read_text(encoding="utf-8"))
    data = copy.deepcopy(data)
    for dotted, value in changes.items():
        target = data
        *parents, last = dotted.split(".")
        for key in parents:
            target = target[key]
        if value is _DELETE:
            target.pop(last, None)
        else:
            target[last] = value
    return data


_DELETE = object()
DELETE: Any = _DELETE  # `payload(name, **{"a.b": DELETE})` removes the key


def headers(event: str, delivery: str, body: bytes, secret: str = SECRET) -> dict[str, str]:
    return {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": sign(secret, body),
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/test",
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class LoggedProcess:
    """A `python -m bot ...` child whose output goes to `log_path`; stopped by its process id."""

    log_path: Path
    process: subprocess.Popen[bytes]
    _log: IO[bytes]

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        return self.process.returncode


class ServerProcess(LoggedProcess):
    """`python -m bot serve ...` in its own directory; stopped by its process id."""

    def __init__(self, data_dir: Path, *args: str, env: Mapping[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = data_dir.parent / f"serve-{self.port}.log"
        command = [sys.executable, "-m", "bot", "serve", "--port", str(self.port), *args]
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            command,
            cwd=data_dir.parent,
            env=dict(env) if env is not None else app_env(data_dir),
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mountie serve exited {self.process.returncode}:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"mountie serve did not answer within {START_TIMEOUT}s:\n{self.log()}")

    def post(self, event: str, delivery: str, body: dict[str, Any] | bytes, **extra: str) -> httpx.Response:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        return httpx.post(
            f"{self.url}/webhook", content=raw, headers={**headers(event, delivery, raw), **extra}
        )

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
