"""`mountie rules`, `mountie explain`, `mountie --version`."""

from __future__ import annotations

import json

import pytest

from bot import __version__
from bot.rules import ALL_RULES
from tests.cli.conftest import run_process


def test_version(cli, tmp_path) -> None:
    done = cli("--version")
    assert (done.code, done.out) == (0, f"mountie {__version__}\n")
    assert run_process("--version", cwd=tmp_path).out == f"mountie {__version__}\n"


def test_rules_text(cli) -> None:
    done = cli("rules")
    assert done.code == 0
    lines = done.out.splitlines()
    assert lines[0].split() == ["CODE", "NAME", "SEVERITY", "FIX", "SUMMARY"]
    assert len(lines) == 1 + len(ALL_RULES)
    for line, rule in zip(lines[1:], ALL_RULES, strict=True):
        code, name, severity, fix, summary = line.split(maxsplit=4)
        assert (code, name, severity, summary) == (rule.code, rule.name, rule.severity.label, rule.summary)
        assert fix == {"always": "yes", "sometimes": "sometimes", "never": "no"}[rule.fix.value]


def test_rules_markdown_is_a_table(cli) -> None:
    done = cli("rules", "--format", "markdown")
    assert done.code == 0
    lines = done.out.splitlines()
    assert lines[:2] == ["| Code | Name | Severity | Fix | Summary |", "| --- | --- | --- | --- | --- |"]
    assert len(lines) == 2 + len(ALL_RULES)
    for line, rule in zip(lines[2:], ALL_RULES, strict=True):
        assert line.startswith(f"| {rule.code} | `{rule.name}` | {rule.severity.label} | ")
        assert line.count(" | ") == 4  # a summary never breaks the table


def test_rules_json(cli) -> None:
    rules = json.loads(cli("rules", "-f", "json").out)
    assert [r["code"] for r in rules] == [r.code for r in ALL_RULES]
    assert set(rules[0]) == {"code", "name", "severity", "fix", "summary", "doc"}


@pytest.mark.parametrize(
    "key", ["BKM001", "bkm001", " Bkm001 ", "artifact-in-cache-mount", "ARTIFACT_IN_CACHE_MOUNT"]
)
def test_explain(cli, key: str) -> None:
    done = cli("explain", key)
    assert done.code == 0
    rule = ALL_RULES[0]
    assert done.out.startswith(f"{rule.code} {rule.name}: {rule.summary}\n")
    assert rule.doc.strip() in done.out


def test_explain_every_rule(cli) -> None:
    for rule in ALL_RULES:
        assert "## What it does" in cli("explain", rule.code).out


def test_explain_unknown(cli) -> None:
    done = cli("explain", "BKM999")
    assert (done.code, done.out) == (2, "")
    assert done.err.startswith("mountie explain: error: unknown rule 'BKM999' (known: BKM001")
    assert cli("explain").code == 2  # usage error
