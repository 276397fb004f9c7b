"""Every rule is one registered module whose docstring is its documentation, and the documented
Example fires while the Use-instead does not."""

from __future__ import annotations

import importlib
import pkgutil
import re

import pytest

import bot.rules
from bot.engine import LintOptions, lint_text
from bot.rules import ALL_RULES, RULES_BY_CODE
from bot.rules.base import Rule

SECTIONS = ["## What it does", "## Why is this bad?", "## Example", "Use instead:", "## Fix", "## References"]
_BLOCK = re.compile(r"```dockerfile\n(.*?)```", re.S)


def _rule_modules() -> list[str]:
    return [m.name for m in pkgutil.iter_modules(bot.rules.__path__) if re.match(r"bkm\d{3}_", m.name)]


def test_every_rule_module_is_registered_once() -> None:
    registered = {rule.check.__module__ for rule in ALL_RULES}
    modules = {f"bot.rules.{name}" for name in _rule_modules()}
    assert modules == registered
    assert len(RULES_BY_CODE) == len(ALL_RULES)


def test_codes_and_names_are_unique_and_well_formed() -> None:
    codes = [r.code for r in ALL_RULES]
    names = [r.name for r in ALL_RULES]
    assert len(set(codes)) == len(codes)
    assert len(set(names)) == len(names)
    assert codes == sorted(codes), "the registry lists rules in code order"
    for rule in ALL_RULES:
        assert re.fullmatch(r"BKM\d{3}", rule.code)
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", rule.name), rule.name
        module = importlib.import_module(rule.check.__module__)
        assert module.__name__.endswith(f"{rule.code.lower()}_{rule.name.replace('-', '_')}")


@pytest.mark.parametrize("rule", ALL_RULES, ids=[r.code for r in ALL_RULES])
def test_doc_has_every_section_in_order(rule: Rule) -> None:
    positions = [rule.doc.find(section) for section in SECTIONS]
    assert all(p >= 0 for p in positions), dict(zip(SECTIONS, positions, strict=True))
    assert positions == sorted(positions)
    assert rule.doc.split("## References", 1)[1].strip(), "References must cite sources"


@pytest.mark.parametrize("rule", ALL_RULES, ids=[r.code for r in ALL_RULES])
def test_documented_example_fires_and_use_instead_does_not(rule: Rule) -> None:
    example_part, instead_part = rule.doc.split("Use instead:", 1)
    example = _BLOCK.findall(example_part.split("## Example", 1)[1])[0]
    instead = _BLOCK.findall(instead_part)[0]
    options = LintOptions()
    fired = lint_text(example, "Dockerfile", options)
    assert not fired.problems
    assert rule.code in {f.code for f in fired.findings}
    clean = lint_text(instead, "Dockerfile", options)
    assert not clean.problems
    assert rule.code not in {f.code for f in clean.findings}
