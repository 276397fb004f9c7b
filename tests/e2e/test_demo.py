"""`mountie demo`, run as a user runs it: the real `mountie serve` against the GitHub emulator, a
signed pull_request.opened, the review printed, the suggestion applied, the re-review green."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import pytest

from bot.app.demo import DOCKERFILE, apply_suggestion, suggestion_of, visible
from tests.app.support import ROOT

DEMO_BUDGET_SECONDS = 45.0  # it takes about 8 s; the budget allows for a loaded CI machine


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str, str, float]:
    """One run, from a directory whose .env (and environment) name another App: the demo must
    use neither."""
    directory = tmp_path_factory.mktemp("demo")
    (directory / ".env").write_text("GITHUB_APP_ID=999\nGITHUB_WEBHOOK_SECRET=real\n", encoding="utf-8")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(ROOT),
        "GITHUB_APP_ID": "999",
        "GITHUB_API_URL": "http://127.0.0.1:9",
        "MOUNTIE_DATA_DIR": str(directory / "must-not-be-used"),
    }
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "bot", "demo"],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert not (directory / "must-not-be-used").exists()
    return result.returncode, result.stdout, result.stderr, time.monotonic() - started


def section(output: str, title: str) -> str:
    """The text of the `── title ──` section, up to the next section or arrow line."""
    match = re.search(rf"── {re.escape(title)}[^\n]*\n(.*?)(?=\n── |\n→ |\nDone in )", output, re.S)
    assert match, f"no section {title!r} in:\n{output}"
    return match.group(1)


def test_the_demo_finishes_in_seconds_and_turns_green(demo: tuple[int, str, str, float]) -> None:
    status, out, err, seconds = demo
    assert status == 0, out + err
    assert err == ""
    assert seconds < DEMO_BUDGET_SECONDS
    assert re.search(
        r"→ pull_request\.opened delivered, signed \(X-GitHub-Delivery [0-9a-f-]{36}\): 202 enqueued", out
    )
    assert "→ pull_request.synchronize delivered, signed: 202 enqueued" in out
    assert re.search(r"Done in \d+\.\d s\.\n\Z", out)


def test_the_review_is_printed_as_github_shows_it(demo: tuple[int, str, str, float]) -> None:
    out = demo[1]
    assert "found 1 new BuildKit mount hazard" in section(out, "Review by mountie[bot] · commented")
    comment = section(out, "Dockerfile lines 6-9 · mountie[bot]")
    assert "**[BKM001 artifact-in-cache-mount]" in comment and "· error" in comment
    assert "COPY --from=builder reads /app/target/release/rest" in comment
    assert "<!--" not in out  # the markers are hidden on GitHub, and here
    suggestion = "\n".join(line.removeprefix("    ") for line in comment.splitlines())
    block = suggestion_of(suggestion)
    assert block is not None and "mv target/release/rest /tmp/rest" in block
    check = section(out, "Check run")
    assert "✗ Mountie — failure: 1 finding: 1 error" in check
    assert "Dockerfile:9  failure  BKM001 artifact-in-cache-mount" in check


def test_the_suggestion_is_applied_and_the_re_review_is_green(demo: tuple[int, str, str, float]) -> None:
    out = demo[1]
    assert "-COPY --from=builder /app/target/release/rest /usr/local/bin/rest" in out
    assert "+COPY --from=builder /tmp/rest /usr/local/bin/rest" in out
    assert "✓ Mountie — success: No mount hazards found" in section(out, "Re-review")
    assert "Mountie resolved its 1 review thread: the hazard is gone." in out


def test_applying_a_suggestion_replaces_exactly_the_commented_lines() -> None:
    text = "a\nb\nc\nd\n"
    assert apply_suggestion(text, 2, 3, "x\ny\nz") == "a\nx\ny\nz\nd\n"
    assert apply_suggestion(text, None, 4, "") == "a\nb\nc\n"
    with pytest.raises(ValueError, match="not in the file"):
        apply_suggestion(text, 4, 5, "x")
    body = "intro\n\n````suggestion\n```\ninner\n```\n````\n<!-- mountie:fp -->"
    assert suggestion_of(body) == "```\ninner\n```\n"
    assert visible(body) == "intro\n\n````suggestion\n```\ninner\n```\n````"
    assert suggestion_of("no block") is None


def test_the_demo_dockerfile_is_the_motivating_one() -> None:
    motivating = (ROOT / "tests" / "data" / "motivating.Dockerfile").read_text(encoding="utf-8")
    assert [line for line in motivating.splitlines() if not line.startswith("#")] == DOCKERFILE.splitlines()
