"""The README documents what the code does: its rules table is what `mountie rules` prints."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _between(text: str, start: str, end: str) -> str:
    return text.split(start, 1)[1].split(end, 1)[0].strip()


def test_rules_table_matches_the_command() -> None:
    printed = subprocess.run(
        [sys.executable, "-m", "bot", "rules", "--format", "markdown"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout.strip()
    assert _between(README, "<!-- rules-table:start -->", "<!-- rules-table:end -->") == printed


def test_quick_start_has_exactly_two_commands() -> None:
    section = _between(README, "## Quick start", "\n## ")
    blocks = section.split("```sh")[1:]
    assert len(blocks) == 2
    commands = [block.split("```", 1)[0].strip() for block in blocks]
    assert "mountie check" in commands[0]
    assert commands[1] == "bash .ci/run"
