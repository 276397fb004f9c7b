"""`Rule.needs_mounts` is a promise the engine relies on: `Analysis.findings` does not run such a
rule on a Dockerfile without any `--mount`. Check the promise on every rule fixture with its
`--mount` flags taken out, running the rules directly (no skip)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.analysis import Analysis
from bot.dockerfile.model import parse_dockerfile
from bot.rules import ALL_RULES

FIXTURES = sorted((Path(__file__).parent / "fixtures" / "rules").glob("*/*.Dockerfile"))
_MOUNT_FLAG = re.compile(r"--mount=\S+")


def test_the_skip_covers_every_rule_but_bkm015() -> None:
    assert [rule.code for rule in ALL_RULES if not rule.needs_mounts] == ["BKM015"]


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_rules_that_need_mounts_find_nothing_without_them(path: Path) -> None:
    dockerfile = parse_dockerfile(_MOUNT_FLAG.sub("", path.read_text(encoding="utf-8")))
    if not dockerfile.ok or any(step.mounts for step in dockerfile.steps()):
        pytest.skip("the fixture does not parse, or keeps a mount, without its --mount flags")
    analysis = Analysis(dockerfile)
    for rule in ALL_RULES:
        if rule.needs_mounts:
            assert list(rule.check(analysis)) == [], rule.code
            assert analysis.findings(rule) == ()
