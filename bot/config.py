"""Per-repository configuration: `.github/mountie.yml` (the App and the CLI), or `.mountie.yml` at
a repository root, or `mountie check --config FILE`.

```yaml
rules:
  disable: [BKM005]          # codes to switch off
  severity:                  # per-rule severity overrides
    BKM006: error
fail-level: warning          # info | warning | error
files:
  include: ["docker/*.df"]   # extra globs to treat as Dockerfiles (beside the usual names)
  exclude: ["vendor/**"]     # globs never checked
fix:
  move-command: mv           # mv, or cp to keep the cache warm
  destination: /tmp          # where artifacts are moved out of a mount
```

A broken configuration never crashes a run and never silently switches checks off: every mistake
is reported with its key and line, the faulty entry is ignored, and everything else keeps its
default.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from bot.analysis import FixOptions
from bot.rules import RULES_BY_CODE
from bot.rules.base import Severity

MAX_CONFIG_BYTES = 64 * 1024
_TOP_KEYS = {"rules", "fail-level", "files", "fix"}
_RULE_KEYS = {"disable", "severity"}
_FILE_KEYS = {"include", "exclude"}
_FIX_KEYS = {"move-command", "destination"}

if TYPE_CHECKING:
    import yaml

# PyYAML (about 10 ms to import) is imported where a configuration is parsed, not with this
# module: `mountie check` in a repository without a configuration file never needs it.


@dataclass(frozen=True, slots=True)
class ConfigError:
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.message} at line {self.line}"


@dataclass(frozen=True, slots=True)
class RepoConfig:
    disabled: frozenset[str] = frozenset()
    severity: dict[str, Severity] = field(default_factory=dict)
    fail_level: Severity = Severity.WARNING
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    fix: FixOptions = field(default_factory=FixOptions)
    source: str | None = None
    errors: tuple[ConfigError, ...] = ()


def load_config_file(path: Path) -> RepoConfig:
    try:
        data = path.read_bytes()
    except OSError as exc:
        return RepoConfig(source=str(path), errors=(ConfigError(0, f"cannot read {path}: {exc.strerror}"),))
    return parse_config(data, str(path))


def parse_config(data: bytes | str, source: str = ".github/mountie.yml") -> RepoConfig:
    if isinstance(data, bytes):
        if len(data) > MAX_CONFIG_BYTES:
            return RepoConfig(
                source=source, errors=(ConfigError(1, "configuration file is larger than 64 KiB"),)
            )
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            return RepoConfig(source=source, errors=(ConfigError(1, "configuration file is not UTF-8 text"),))
    else:
        text = data
    import yaml

    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problem = getattr(exc, "problem", None) or "invalid YAML"
        return RepoConfig(source=source, errors=(ConfigError(line, f"YAML syntax error: {problem}"),))
    except RecursionError:  # PyYAML's composer recurses once per level: `[[[[...` within 64 KiB
        return RepoConfig(source=source, errors=(ConfigError(1, "YAML syntax error: nested too deeply"),))
    config = _Reader(source).read(root)
    return replace(config, errors=tuple(sorted(config.errors, key=lambda e: e.line)))


class _Reader:
    def __init__(self, source: str) -> None:
        self.source = source
        self.errors: list[ConfigError] = []

    def error(self, node: yaml.Node, message: str) -> None:
        self.errors.append(ConfigError(node.start_mark.line + 1, message))

    def mapping(self, node: yaml.Node, where: str, allowed: set[str]) -> dict[str, yaml.Node]:
        import yaml

        if not isinstance(node, yaml.MappingNode):
            self.error(node, f"{where} must be a mapping")
            return {}
        result: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if key not in allowed:
                self.error(
                    key_node, f"unknown key {key!r} in {where} (expected one of {', '.join(sorted(allowed))})"
                )
                continue
            result[key] = value_node
        return result

    def strings(self, node: yaml.Node, where: str) -> list[tuple[str, yaml.Node]]:
        import yaml

        if isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:str" and node.value:
            return [(str(node.value), node)]
        if not isinstance(node, yaml.SequenceNode):
            self.error(node, f"{where} must be a list")
            return []
        items: list[tuple[str, yaml.Node]] = []
        for item in node.value:
            if isinstance(item, yaml.ScalarNode) and str(item.value).strip():
                items.append((str(item.value).strip(), item))
            else:
                self.error(item, f"{where} entries must be strings")
        return items

    def rule_code(self, text: str, node: yaml.Node) -> str | None:
        code = text.strip().upper()
        if code in RULES_BY_CODE:
            return code
        by_name = next((r.code for r in RULES_BY_CODE.values() if r.name == text.strip().lower()), None)
        if by_name is None:
            self.error(node, f"unknown rule {text.strip()}")
        return by_name

    def severity(self, node: yaml.Node, where: str) -> Severity | None:
        import yaml

        if not isinstance(node, yaml.ScalarNode):
            self.error(node, f"{where} must be one of info, warning, error")
            return None
        try:
            return Severity.parse(str(node.value))
        except ValueError as exc:
            self.error(node, f"{where}: {exc}")
            return None

    def read(self, root: yaml.Node | None) -> RepoConfig:
        import yaml

        if root is None:
            return RepoConfig(source=self.source)
        top = self.mapping(root, "the configuration", _TOP_KEYS)
        disabled: set[str] = set()
        severity: dict[str, Severity] = {}
        fail_level = Severity.WARNING
        include: list[str] = []
        exclude: list[str] = []
        fix = FixOptions()
        if "rules" in top:
            rules = self.mapping(top["rules"], "rules", _RULE_KEYS)
            for text, node in self.strings(rules["disable"], "rules.disable") if "disable" in rules else []:
                code = self.rule_code(text, node)
                if code:
                    disabled.add(code)
            if "severity" in rules:
                node = rules["severity"]
                if isinstance(node, yaml.MappingNode):
                    for key_node, value_node in node.value:
                        code = self.rule_code(str(key_node.value), key_node)
                        level = self.severity(value_node, f"rules.severity.{key_node.value}")
                        if code and level:
                            severity[code] = level
                else:
                    self.error(node, "rules.severity must be a mapping of rule to severity")
        if "fail-level" in top:
            level = self.severity(top["fail-level"], "fail-level")
            fail_level = level or fail_level
        if "files" in top:
            files = self.mapping(top["files"], "files", _FILE_KEYS)
            include = (
                [t for t, _ in self.strings(files["include"], "files.include")] if "include" in files else []
            )
            exclude = (
                [t for t, _ in self.strings(files["exclude"], "files.exclude")] if "exclude" in files else []
            )
        if "fix" in top:
            fix_node = self.mapping(top["fix"], "fix", _FIX_KEYS)
            move = fix.move_command
            destination = fix.destination
            if "move-command" in fix_node:
                value = fix_node["move-command"]
                if isinstance(value, yaml.ScalarNode) and value.value in ("mv", "cp"):
                    move = str(value.value)
                else:
                    self.error(value, "fix.move-command must be mv or cp")
            if "destination" in fix_node:
                value = fix_node["destination"]
                text = str(value.value) if isinstance(value, yaml.ScalarNode) else ""
                if text.startswith("/") and text.strip("/") and " " not in text and "$" not in text:
                    destination = text.rstrip("/")
                else:
                    self.error(value, "fix.destination must be an absolute directory path such as /tmp")
            fix = FixOptions(move, destination)
        return RepoConfig(
            disabled=frozenset(disabled),
            severity=severity,
            fail_level=fail_level,
            include=tuple(include),
            exclude=tuple(exclude),
            fix=fix,
            source=self.source,
            errors=tuple(self.errors),
        )
