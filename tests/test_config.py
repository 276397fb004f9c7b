from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import find_config, load_config_file, parse_config
from bot.engine import LintOptions, lint_text
from bot.rules.base import Severity

MOTIVATING = (Path(__file__).parent / "data" / "motivating.Dockerfile").read_text()


def test_empty_config_is_all_defaults() -> None:
    config = parse_config(b"")
    assert config.errors == ()
    assert config.disabled == frozenset()
    assert config.fail_level is Severity.WARNING
    assert config.fix.move_command == "mv"


def test_full_config_is_read() -> None:
    config = parse_config(
        b"rules:\n  disable: [BKM001]\n  severity:\n    artifact-in-cache-mount: info\n"
        b"fail-level: error\nfiles:\n  include: ['docker/*.df']\n  exclude: [vendor/**]\n"
        b"fix:\n  move-command: cp\n  destination: /out/\n"
    )
    assert config.errors == ()
    assert config.disabled == {"BKM001"}
    assert config.severity == {"BKM001": Severity.INFO}
    assert config.fail_level is Severity.ERROR
    assert config.include == ("docker/*.df",)
    assert config.exclude == ("vendor/**",)
    assert (config.fix.move_command, config.fix.destination) == ("cp", "/out")


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (b"rules:\n  disable: [BKM99]\n", 2, "unknown rule BKM99"),
        (b"rulez: {}\n", 1, "unknown key 'rulez'"),
        (b"fail-level: loud\n", 1, "unknown severity 'loud'"),
        (b"rules: [\n", 2, "YAML syntax error"),
        (b"rules: 3\n", 1, "rules must be a mapping"),
        (b"fix:\n  move-command: rsync\n", 2, "fix.move-command must be mv or cp"),
        (b"fix:\n  destination: relative/dir\n", 2, "fix.destination must be an absolute"),
        (b"\xff\xfe\x00", 1, "not UTF-8"),
        (b"files:\n  include: 3\n", 2, "files.include must be a list"),
    ],
)
def test_mistakes_are_reported_with_their_line(text: bytes, line: int, message: str) -> None:
    config = parse_config(text)
    assert any(e.line == line and message in e.message for e in config.errors), config.errors


def test_a_broken_entry_never_switches_checks_off() -> None:
    config = parse_config(b"rules:\n  disable: [BKM99, nonsense]\nfail-level: nope\n")
    assert config.disabled == frozenset()
    assert config.fail_level is Severity.WARNING
    result = lint_text(MOTIVATING, options=LintOptions.from_config(config))
    assert "BKM001" in [f.code for f in result.findings]


def test_disabled_rule_and_severity_override_apply() -> None:
    off = lint_text(MOTIVATING, options=LintOptions.from_config(parse_config(b"rules: {disable: [BKM001]}")))
    assert off.findings == ()
    info = lint_text(
        MOTIVATING, options=LintOptions.from_config(parse_config(b"rules: {severity: {BKM001: info}}"))
    )
    assert [f.severity for f in info.findings if f.code == "BKM001"] == [Severity.INFO]


def test_fix_options_change_the_suggested_move() -> None:
    config = parse_config(b"fix: {move-command: cp, destination: /out}")
    result = lint_text(MOTIVATING, options=LintOptions.from_config(config))
    fix = next(f.fix for f in result.findings if f.code == "BKM001")
    assert fix is not None
    assert "mkdir -p /out && cp -a target/release/rest /out/rest" in fix.edits[0].new_text


def test_config_files_are_found_in_order(tmp_path: Path) -> None:
    assert find_config(tmp_path) is None
    (tmp_path / ".mountie.yml").write_text("fail-level: info\n")
    assert find_config(tmp_path) == tmp_path / ".mountie.yml"
    (tmp_path / ".github").mkdir()
    (tmp_path / ".github" / "mountie.yml").write_text("fail-level: error\n")
    found = find_config(tmp_path)
    assert found == tmp_path / ".github" / "mountie.yml"
    assert load_config_file(found).fail_level is Severity.ERROR


def test_unreadable_config_is_an_error_not_a_crash(tmp_path: Path) -> None:
    config = load_config_file(tmp_path / "missing.yml")
    assert config.errors and "cannot read" in config.errors[0].message
