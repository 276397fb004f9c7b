from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.config import MAX_CONFIG_BYTES, load_config_file, parse_config
from bot.config_locations import find_config
from bot.engine import LintOptions, lint_text
from bot.rules import RULES_BY_CODE
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


# -- every kind of mistake: mutated documents -----------------------------------------------------

FULL = (
    "rules:\n  disable: [BKM005]\n  severity:\n    BKM006: error\n"
    "fail-level: warning\nfiles:\n  include: ['docker/*.df']\n  exclude: [vendor/**]\n"
    "fix:\n  move-command: mv\n  destination: /tmp\n"
)
# Things a line can be replaced with or gain: other YAML, wrong types, tabs, YAML features.
FRAGMENTS = [
    "", "  ", "\t", "rules:", "rules: []", "disable: BKM001", "disable: [BKM99, nonsense, 3]",
    "severity: {BKM001: loud}", "fail-level: [error]", "fail-level: ~", "files: {include: 3}",
    "fix: {destination: relative}", "- item", "? complex key", ": no key", "&anchor {a: 1}", "*anchor",
    "!!python/object/apply:os.system ['true']", "!!binary aGVsbG8=", "%YAML 1.1", "---", "...",
    "'unterminated", '"\\x"', "{a: [b, {c: d}]}", "key: value: more", "<<: *base", "\ufeffrules:", "\x00",
]  # fmt: skip


@st.composite
def mutated(draw: st.DrawFn) -> str:
    lines = FULL.splitlines()
    for _ in range(draw(st.integers(min_value=1, max_value=6))):
        at = draw(st.integers(min_value=0, max_value=len(lines)))
        action = draw(st.sampled_from(["replace", "insert", "delete", "indent", "dedent", "splice"]))
        fragment = draw(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=30)))
        if action == "insert" or not lines:
            lines.insert(at, fragment)
        elif action == "replace":
            lines[min(at, len(lines) - 1)] = fragment
        elif action == "delete":
            del lines[min(at, len(lines) - 1)]
        elif action == "indent":
            lines[min(at, len(lines) - 1)] = "  " + lines[min(at, len(lines) - 1)]
        elif action == "dedent":
            lines[min(at, len(lines) - 1)] = lines[min(at, len(lines) - 1)].lstrip()
        else:
            line = lines[min(at, len(lines) - 1)]
            cut = draw(st.integers(min_value=0, max_value=len(line)))
            lines[min(at, len(lines) - 1)] = line[:cut] + fragment + line[cut:]
    return "\n".join(lines) + draw(st.sampled_from(["\n", "", "\r\n"]))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_a_mutated_configuration_never_raises_and_never_switches_checks_off(text: str) -> None:
    config = parse_config(text.encode("utf-8", "surrogatepass"))
    lines = max(1, text.count("\n") + 1)
    for error in config.errors:
        assert 1 <= error.line <= lines + 1, error  # every mistake is placed on a line of the file
        assert error.message
    # Only a code or name the file really names can be disabled, and a mistake disables nothing:
    # what the mutations cannot add (every other rule) stays on.
    for code in config.disabled:
        rule = RULES_BY_CODE[code]
        assert re.search(rf"(?i)\b{code}\b", text) or rule.name in text, (code, text)
    assert isinstance(config.fail_level, Severity)
    assert config.fix.move_command in ("mv", "cp") and config.fix.destination.startswith("/")
    # The engine runs with it, and the motivating finding survives unless BKM001 was disabled.
    result = lint_text(MOTIVATING, options=LintOptions.from_config(config))
    assert ("BKM001" in [f.code for f in result.findings]) == ("BKM001" not in config.disabled)


@pytest.mark.parametrize(
    "text",
    [
        b"[" * 5000,
        b"rules: " + b"{a: " * 3000,
        b"- " * 5000 + b"x",
        b"rules:\n  disable:\n" + b"    - " * 4000 + b"BKM001\n",
    ],
    ids=["deep flow list", "deep flow map", "deep block list", "deep disable list"],
)
def test_deeply_nested_yaml_is_a_reported_mistake(text: bytes) -> None:
    config = parse_config(text)
    assert config.errors and config.errors[0].line >= 1
    assert config.disabled == frozenset()


def test_a_billion_laughs_document_is_cheap() -> None:
    """Aliases are nodes shared in the composed tree, never expanded: the reader is not fooled."""
    names = "abcdefghij"
    laughs = [f"a: &a [{', '.join(['lol'] * 9)}]"]
    for level in range(1, 10):
        laughs.append(f"{names[level]}: &{names[level]} [{', '.join([f'*{names[level - 1]}'] * 9)}]")
    text = "\n".join(laughs) + "\nrules:\n  disable: *j\n"
    start = time.process_time()
    config = parse_config(text.encode())
    assert time.process_time() - start < 1
    assert config.disabled == frozenset()
    assert config.errors


def test_a_configuration_over_64_kib_is_refused_unread() -> None:
    text = b"rules:\n  disable: [BKM001]\n" + b"# padding\n" * (MAX_CONFIG_BYTES // 10)
    config = parse_config(text)
    assert [e.message for e in config.errors] == ["configuration file is larger than 64 KiB"]
    assert config.disabled == frozenset()


@pytest.mark.parametrize(
    "tag",
    [
        "!!python/object/apply:os.system",
        "!!python/object/apply:subprocess.check_output",
        "!!python/object/new:os.system",
        "!!python/name:os.system",
        "!!python/module:os",
    ],
)
def test_python_tags_are_never_constructed(tmp_path: Path, tag: str) -> None:
    """The configuration is composed with PyYAML's SafeLoader (nodes only, nothing constructed):
    a `!!python/...` tag is an ordinary (wrong) value, reported, and nothing runs."""
    marker = tmp_path / "pwned"
    for text in (
        f"fail-level: {tag} ['touch {marker}']\n",
        f"rules:\n  disable: {tag} ['touch {marker}']\n",
        f"{tag} ['touch {marker}']\n",
        f"fix:\n  destination: {tag} ['touch {marker}']\n",
    ):
        config = parse_config(text.encode())
        assert config.errors, text
        assert config.disabled == frozenset()
    assert not marker.exists()


def test_no_yaml_is_ever_loaded_unsafely() -> None:
    """Every YAML read in bot/ goes through SafeLoader (`yaml.compose(..., Loader=yaml.SafeLoader)`
    or `yaml.safe_load`): no `yaml.load`, `full_load`, `unsafe_load` or any other Loader."""
    root = Path(__file__).resolve().parent.parent / "bot"
    unsafe = re.compile(r"yaml\.(load|full_load|unsafe_load)\w*\(|Loader\s*=\s*(?!yaml\.SafeLoader\b)")
    offenders = [
        f"{path.relative_to(root)}:{number}: {line.strip()}"
        for path in root.rglob("*.py")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if unsafe.search(line)
    ]
    assert offenders == []
    assert unsafe.search("yaml.load(text, Loader=yaml.FullLoader)")  # the check does catch one
