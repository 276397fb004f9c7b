"""`mountie setup` as a real process against the GitHub emulator, for the setup flow tests (HTTP
client and headless browser alike)."""

from __future__ import annotations

import html
import os
import re
import select
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx

from bot.testing.github_emulator import GitHubEmulator
from tests.app.support import ROOT

START_TIMEOUT = 20.0


class SetupProcess:
    """`python -m bot setup --no-browser ...` pointed at `emu` for both the web and the API."""

    def __init__(self, emu: GitHubEmulator, directory: Path, *args: str, timeout: float = 60.0) -> None:
        self.directory = directory
        self.env_file = directory / ".env"
        command = [sys.executable, "-m", "bot", "setup", "--no-browser", "--github-url", emu.url]
        command += ["--api-url", emu.url, "--env-file", str(self.env_file), "--timeout", str(timeout), *args]
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": str(ROOT),
            "HOME": str(directory),
        }
        self.process = subprocess.Popen(
            command, cwd=directory, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.first_line = self._first_line()
        found = re.search(r"Open (http://\S+/) in your browser", self.first_line)
        assert found, f"unexpected first line: {self.first_line!r}"
        self.url = found.group(1)

    def _first_line(self) -> str:
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], START_TIMEOUT)
        if not ready:
            self.process.kill()
            raise AssertionError("mountie setup printed nothing")
        line = self.process.stdout.readline()
        if not line:
            _, err = self.process.communicate(timeout=10)
            raise AssertionError(f"mountie setup exited {self.process.returncode}: {err}")
        return line

    def start_page(self) -> str:
        return httpx.get(self.url, timeout=10).text

    def state(self) -> str:
        action = html.unescape(re.search(r'action="([^"]+)"', self.start_page()).group(1))  # type: ignore[union-attr]
        return parse_qs(urlsplit(action).query)["state"][0]

    def finish(self, timeout: float = 20.0) -> tuple[int, str, str]:
        """Wait for the process; (status, stdout after the first line, stderr)."""
        try:
            out, err = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            out, err = self.process.communicate()
        return self.process.returncode, out, err

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


def wait_for_exit(process: subprocess.Popen[str], timeout: float = 20.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return process.returncode
        time.sleep(0.05)
    raise AssertionError("mountie setup did not exit")


def form_fields(page: str) -> tuple[str, dict[str, str]]:
    """The first form of an HTML page: its action and its named input values."""
    action = html.unescape(re.search(r'<form[^>]*action="([^"]*)"', page).group(1))  # type: ignore[union-attr]
    fields = {
        html.unescape(name): html.unescape(value)
        for name, value in re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', page)
    }
    return action, fields
