"""`mountie demo`: the whole App at work, with no GitHub account and no network.

1. The GitHub emulator (`bot.testing.github_emulator`, GitHub's REST API on 127.0.0.1, checked
   against GitHub's OpenAPI description) gets an App with app.yml's permissions and events,
   installed on `octo-org`, a repository `octo-org/rest-service`, and pull request #1 adding the
   motivating Dockerfile (cargo builds the release binary into a cache mount).
2. The real `mountie serve` (receiver and worker processes, a throwaway data directory) runs
   against it: `GITHUB_API_URL` is the emulator, the App key is generated for the run.
3. A signed `pull_request.opened` is delivered to `POST /webhook`; once the check run completes,
   the review is printed as GitHub shows it: the review body, each inline comment with its
   suggestion block, the check run's conclusion, summary and annotations.
4. The suggestion is applied as GitHub's "Commit suggestion" button does (the block replaces the
   commented lines, one commit on the PR branch), a signed `pull_request.synchronize` follows,
   and the re-review is printed: the check run turns green and Mountie resolves its thread.

It prints to standard output and exits 0 when the re-review is green; 1 (with the server's log)
when something did not happen in time.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar

import bot
from bot.app.manifest import PACKAGED_MANIFEST, load_manifest
from bot.app.signature import sign

T = TypeVar("T")

APP_ID = 1
APP_SLUG = "mountie"
INSTALLATION_ID = 10
OWNER = "octo-org"
REPO = f"{OWNER}/rest-service"
AUTHOR = "alice"
PR_NUMBER = 1
PR_TITLE = "Speed up the image build with BuildKit cache mounts"
BRANCH = "cache-mounts"
DOCKERFILE_PATH = "Dockerfile"
CHECK_NAME = "Mountie"
DEFAULT_TIMEOUT = 60.0
START_TIMEOUT = 20.0

# The motivating hazard: the release binary is built into a cache mount, so the COPY takes
# whatever /app/target held in the layer before the build (a local target/ from `COPY . .`).
DOCKERFILE = """\
FROM rust:1.79 AS builder
WORKDIR /app
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \\
    --mount=type=cache,target=/app/target \\
    cargo build --release

FROM debian:bookworm-slim
COPY --from=builder /app/target/release/rest /usr/local/bin/rest
CMD ["rest"]
"""
BASE_FILES = {
    "Cargo.toml": '[package]\nname = "rest"\nversion = "0.1.0"\nedition = "2021"\n',
    "src/main.rs": 'fn main() {\n    println!("rest: listening on :8080");\n}\n',
    "README.md": "# rest-service\n",
}
_SUGGESTION = re.compile(r"^(?P<fence>`{3,})suggestion[ \t]*\n(?P<body>.*?)^(?P=fence)[ \t]*$", re.M | re.S)
_HTML_COMMENT = re.compile(r"<!--.*?-->\n?", re.S)


@dataclass(frozen=True, slots=True)
class ShownComment:
    path: str
    line: int
    start_line: int | None
    body: str  # markdown, without the hidden HTML markers (GitHub does not show them)


@dataclass(frozen=True, slots=True)
class ShownAnnotation:
    path: str
    start_line: int
    end_line: int
    level: str
    title: str
    message: str


@dataclass(frozen=True, slots=True)
class ShownCheck:
    conclusion: str
    title: str
    summary: str
    annotations: tuple[ShownAnnotation, ...]


@dataclass(frozen=True, slots=True)
class Round:
    """One delivery and what Mountie did about it."""

    event: str
    delivery: str
    answer: str  # the receiver's status and outcome, e.g. "202 enqueued"
    head_sha: str
    seconds: float
    review_body: str | None
    comments: tuple[ShownComment, ...]
    check: ShownCheck
    resolved_threads: int


@dataclass(frozen=True, slots=True)
class DemoResult:
    dockerfile: str
    fixed_dockerfile: str
    first: Round
    second: Round | None
    violations: tuple[str, ...]  # requests or answers off GitHub's OpenAPI description
    seconds: float


class DemoError(Exception):
    """The demo did not get where it should; `str()` says where, `log` is the server's output."""

    def __init__(self, message: str, log: str = "") -> None:
        super().__init__(message)
        self.log = log


# -- applying a suggestion, as GitHub's "Commit suggestion" does -----------------------------------


def suggestion_of(body: str) -> str | None:
    """The text of the first ```suggestion block of a comment (None when it has none)."""
    match = _SUGGESTION.search(body)
    return match.group("body") if match else None


def apply_suggestion(text: str, start_line: int | None, line: int, replacement: str) -> str:
    """Lines `start_line..line` (1-based, inclusive) of `text` replaced by the suggestion."""
    lines = text.splitlines(keepends=True)
    first = (start_line or line) - 1
    if not 0 <= first < line <= len(lines):
        raise ValueError(f"the suggestion's lines {first + 1}-{line} are not in the file")
    new = replacement if not replacement or replacement.endswith("\n") else replacement + "\n"
    return "".join(lines[:first]) + new + "".join(lines[line:])


def visible(markdown: str) -> str:
    """Markdown as GitHub shows it: HTML comments (Mountie's markers) are not displayed."""
    return _HTML_COMMENT.sub("", markdown).strip()


# -- the scenario ---------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _private_key() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


class _Serve:
    """`python -m bot serve` as a child process, logging to a file, stopped by its own pid."""

    def __init__(self, directory: Path, env: dict[str, str]) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.secret = env["GITHUB_WEBHOOK_SECRET"]
        self.log_path = directory / "serve.log"
        command = [sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        command += ["--workers", "1", "--shutdown-timeout", "2"]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command, cwd=directory, env=env, stdout=log, stderr=subprocess.STDOUT
            )

    def log(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise DemoError(f"mountie serve exited with status {self.process.returncode}", self.log())
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(f"{self.url}/healthz", timeout=1) as response,
            ):
                if response.status == 200:
                    return
            time.sleep(0.05)
        raise DemoError(f"mountie serve did not answer /healthz within {timeout:g} s", self.log())

    def deliver(self, event: str, payload: dict[str, Any]) -> tuple[str, str]:
        """POST a signed delivery; returns (delivery id, "STATUS outcome")."""
        body = json.dumps(payload).encode()
        delivery = str(uuid.uuid4())
        request = urllib.request.Request(
            f"{self.url}/webhook",
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "User-Agent": "GitHub-Hookshot/mountie-demo",
                "X-GitHub-Event": event,
                "X-GitHub-Delivery": delivery,
                "X-Hub-Signature-256": sign(self.secret, body),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                status, answer = response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            raise DemoError(f"the receiver refused {event}: {error.code}", self.log()) from None
        return delivery, f"{status} {answer.get('outcome', '')}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _server_env(directory: Path, api_url: str, key: str, secret: str) -> dict[str, str]:
    """The child's environment: the caller's, minus any real App settings, plus the demo's."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("GITHUB_", "MOUNTIE_")) and name not in ("LOG_LEVEL", "LOG_FORMAT")
    }
    package_root = str(Path(bot.__file__).resolve().parent.parent)
    python_path = [package_root, *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    env.update(
        PYTHONPATH=os.pathsep.join(python_path),
        GITHUB_APP_ID=str(APP_ID),
        GITHUB_PRIVATE_KEY=key,
        GITHUB_WEBHOOK_SECRET=secret,
        GITHUB_API_URL=api_url,
        MOUNTIE_DATA_DIR=str(directory / "data"),
        LOG_LEVEL="warning",
    )
    return env


def _wait(what: str, probe: Callable[[], T | None], timeout: float, log: Callable[[], str]) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.05)
    raise DemoError(f"timed out after {timeout:g} s waiting for {what}", log())


@contextlib.contextmanager
def _emulator(key: str) -> Iterator[Any]:
    from bot.testing.github_emulator import GitHubEmulator

    manifest = load_manifest(PACKAGED_MANIFEST)
    with GitHubEmulator(strict_responses=True) as emu:
        emu.add_app(
            APP_ID,
            APP_SLUG,
            key,
            name=str(manifest["name"]),
            permissions=manifest["default_permissions"],
            events=manifest["default_events"],
        )
        emu.add_installation(INSTALLATION_ID, APP_ID, OWNER)
        yield emu


def run_scenario(timeout: float = DEFAULT_TIMEOUT, apply_fix: bool = True) -> DemoResult:
    """The demo, returning what it saw (`mountie demo` prints it; the screenshot renders it)."""
    from bot.testing.github_emulator.webhooks import pull_request_event

    started = time.monotonic()
    key, secret = _private_key(), secrets.token_hex(20)
    with (
        tempfile.TemporaryDirectory(prefix="mountie-demo-") as scratch,
        _emulator(key) as emu,
    ):
        base = emu.add_repo(REPO, files=BASE_FILES)
        head = emu.add_commit(
            REPO, {DOCKERFILE_PATH: DOCKERFILE}, branch=BRANCH, message="Build the image with cache mounts"
        )
        emu.add_pull_request(REPO, PR_NUMBER, base, head, AUTHOR, title=PR_TITLE, head_ref=BRANCH)
        server = _Serve(Path(scratch), _server_env(Path(scratch), emu.url, key, secret))
        try:
            server.wait_ready(START_TIMEOUT)
            event = pull_request_event(
                emu, REPO, PR_NUMBER, "opened", installation_id=INSTALLATION_ID, sender=AUTHOR
            )
            first = _round(emu, server, "pull_request.opened", event, head=head, timeout=timeout)
            fixed = DOCKERFILE
            second = None
            if apply_fix:
                fixed = _apply_all(DOCKERFILE, first.comments)
                new_head = emu.add_commit(
                    REPO,
                    {DOCKERFILE_PATH: fixed},
                    branch=BRANCH,
                    message="Apply suggestions from code review",
                )
                emu.push(REPO, PR_NUMBER, new_head)
                event = pull_request_event(
                    emu,
                    REPO,
                    PR_NUMBER,
                    "synchronize",
                    installation_id=INSTALLATION_ID,
                    sender=AUTHOR,
                    before=head,
                )
                second = _round(
                    emu, server, "pull_request.synchronize", event, head=new_head, timeout=timeout
                )
        finally:
            server.stop()
        violations = tuple(f"{v.kind}: {v.method} {v.path}: {v.message}" for v in emu.violations)
    return DemoResult(DOCKERFILE, fixed, first, second, violations, time.monotonic() - started)


def _apply_all(text: str, comments: tuple[ShownComment, ...]) -> str:
    """Every suggestion of the review, bottom-up so earlier line numbers stay valid."""
    with_suggestions = [(c, suggestion_of(c.body)) for c in comments if c.path == DOCKERFILE_PATH]
    chosen = [(c, s) for c, s in with_suggestions if s is not None]
    if not chosen:
        raise DemoError("the review carries no suggestion to apply")
    for comment, suggestion in sorted(chosen, key=lambda pair: pair[0].line, reverse=True):
        assert suggestion is not None
        text = apply_suggestion(text, comment.start_line, comment.line, suggestion)
    return text


def _round(
    emu: Any, server: _Serve, event: str, payload: dict[str, Any], *, head: str, timeout: float
) -> Round:
    reviews_before = {r.id for r in emu.reviews(REPO, PR_NUMBER)}
    resolved_before = sum(t.is_resolved for t in emu.review_threads(REPO, PR_NUMBER))
    started = time.monotonic()
    delivery, answer = server.deliver(event.split(".", maxsplit=1)[0], payload)
    run = _wait(
        f"Mountie's check run on {head[:7]} to complete",
        lambda: next(
            (r for r in emu.check_runs(REPO, head) if r.name == CHECK_NAME and r.status == "completed"), None
        ),
        timeout,
        server.log,
    )
    seconds = time.monotonic() - started
    new_reviews = [r for r in emu.reviews(REPO, PR_NUMBER) if r.id not in reviews_before]
    review = new_reviews[-1] if new_reviews else None
    comments = tuple(
        ShownComment(c.path, c.line or c.original_line or 0, c.start_line, visible(c.body))
        for c in emu.review_comments(REPO, PR_NUMBER)
        if review is not None and c.review_id == review.id
    )
    check = ShownCheck(
        conclusion=run.conclusion or "",
        title=run.title or "",
        summary=visible(run.summary or ""),
        annotations=tuple(
            ShownAnnotation(a.path, a.start_line, a.end_line, a.annotation_level, a.title or "", a.message)
            for a in run.annotations
        ),
    )
    resolved = sum(t.is_resolved for t in emu.review_threads(REPO, PR_NUMBER)) - resolved_before
    return Round(
        event,
        delivery,
        answer,
        head,
        seconds,
        visible(review.body) if review is not None else None,
        comments,
        check,
        resolved,
    )


# -- printing -------------------------------------------------------------------------------------


def _rule(title: str) -> str:
    return f"\n── {title} " + "─" * max(3, 76 - len(title))


def _indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line if line else prefix.rstrip() for line in text.splitlines())


def _numbered(text: str) -> str:
    lines = text.splitlines()
    return "\n".join(f"{number:4} │ {line}".rstrip() for number, line in enumerate(lines, 1))


def _lines(comment: ShownComment) -> str:
    if comment.start_line is not None and comment.start_line < comment.line:
        return f"lines {comment.start_line}-{comment.line}"
    return f"line {comment.line}"


def _check_text(check: ShownCheck) -> str:
    mark = {"success": "✓", "failure": "✗", "neutral": "○"}.get(check.conclusion, "•")
    parts = [f"{mark} Mountie — {check.conclusion}: {check.title}", "", _indent(check.summary)]
    if check.annotations:
        parts += ["", "    Annotations (shown on the Files changed tab):"]
        parts += [f"      {a.path}:{a.start_line}  {a.level}  {a.title}".rstrip() for a in check.annotations]
    return "\n".join(parts)


def render_text(result: DemoResult) -> str:
    """What `mountie demo` prints."""
    import difflib

    first, second = result.first, result.second
    out = [
        "Mountie demo: a GitHub emulator on 127.0.0.1 stands in for github.com; the App is the real",
        "`mountie serve` (receiver and worker), reviewing over the GitHub REST and GraphQL APIs.",
        "",
        f"Repository    {REPO} (the App is installed on {OWNER})",
        f'Pull request  #{PR_NUMBER} "{PR_TITLE}" by @{AUTHOR}, adding {DOCKERFILE_PATH}:',
        "",
        _numbered(result.dockerfile),
        "",
        f"→ {first.event} delivered, signed (X-GitHub-Delivery {first.delivery}): {first.answer}",
        f"→ Mountie reviewed the pull request in {first.seconds:.1f} s",
    ]
    if first.review_body is not None:
        out += [_rule(f"Review by {APP_SLUG}[bot] · commented"), "", _indent(first.review_body)]
    for comment in first.comments:
        out += [_rule(f"{comment.path} {_lines(comment)} · {APP_SLUG}[bot]"), "", _indent(comment.body)]
    out += [_rule("Check run"), "", _check_text(first.check)]
    if second is not None:
        diff = difflib.unified_diff(
            result.dockerfile.splitlines(keepends=True),
            result.fixed_dockerfile.splitlines(keepends=True),
            f"a/{DOCKERFILE_PATH}",
            f"b/{DOCKERFILE_PATH}",
        )
        out += [
            "",
            '→ "Commit suggestion": the suggestion replaces the commented lines, one commit on the branch:',
            "",
            _indent("".join(diff).rstrip("\n")),
            "",
            f"→ {second.event} delivered, signed: {second.answer}",
            f"→ Mountie re-reviewed the new head in {second.seconds:.1f} s",
            _rule("Re-review"),
            "",
            _check_text(second.check),
        ]
        if second.resolved_threads:
            threads = "thread" if second.resolved_threads == 1 else "threads"
            out.append(
                f"\n    Mountie resolved its {second.resolved_threads} review {threads}: the hazard is gone."
            )
        if second.review_body is not None:
            out += ["", _indent(second.review_body)]
    if result.violations:
        out += ["", "Requests off GitHub's OpenAPI description (please report):"]
        out += [f"  {violation}" for violation in result.violations]
    out += ["", f"Done in {result.seconds:.1f} s."]
    return "\n".join(out) + "\n"


def run_demo(out: IO[str], err: IO[str], *, timeout: float = DEFAULT_TIMEOUT) -> int:
    try:
        result = run_scenario(timeout)
    except DemoError as error:
        print(f"mountie demo: error: {error}", file=err)
        if error.log:
            print("--- mountie serve log ---", file=err)
            print(error.log.rstrip()[-4000:], file=err)
        return 1
    out.write(render_text(result))
    out.flush()
    if result.violations:
        print("mountie demo: error: the App sent requests GitHub would refuse (listed above)", file=err)
        return 1
    if result.second is None or result.second.check.conclusion != "success":
        print("mountie demo: error: the re-review did not turn green", file=err)
        return 1
    return 0
