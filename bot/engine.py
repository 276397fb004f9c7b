"""Run the rules on one Dockerfile's text: the pure entry point the CLI and the App share."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from bot.analysis import Analysis, DockerIgnore, FixOptions
from bot.dockerfile.errors import Problem
from bot.dockerfile.model import Dockerfile, parse_dockerfile
from bot.fixes.conflicts import defer_overlapping_tidy_fixes
from bot.fixes.limits import refuse_overlong_fixes
from bot.rules import ALL_RULES
from bot.rules.base import Finding, Rule, Severity
from bot.suppressions import NONE as NO_SUPPRESSIONS
from bot.suppressions import read_suppressions

if TYPE_CHECKING:
    from bot.config import RepoConfig

# Files larger than this are reported, not analysed: Dockerfiles are small, and a cap keeps a
# hostile pull request from costing more than it should.
MAX_BYTES = 1024 * 1024
# So do files with more instructions, or longer `FROM <stage>` chains, than these: some checks
# compare instructions of a stage chain pairwise, and these caps keep the worst file (about a
# second) far from a pull request's budget. The largest of 1,165 surveyed real Dockerfiles
# (25 KB) has a few hundred instructions and FROM chains a handful of stages deep.
MAX_INSTRUCTIONS = 2000
MAX_STAGE_DEPTH = 50


@dataclass(frozen=True, slots=True)
class LintOptions:
    rules: tuple[Rule, ...] = ALL_RULES
    severity_overrides: dict[str, Severity] = field(default_factory=dict)
    fix_options: FixOptions = field(default_factory=FixOptions)
    dockerignore: DockerIgnore | None = None

    @classmethod
    def from_config(cls, config: RepoConfig, dockerignore: DockerIgnore | None = None) -> LintOptions:
        return cls(
            rules=tuple(rule for rule in ALL_RULES if rule.code not in config.disabled),
            severity_overrides=dict(config.severity),
            fix_options=config.fix,
            dockerignore=dockerignore,
        )


@dataclass(frozen=True, slots=True)
class LintResult:
    path: str
    findings: tuple[Finding, ...]
    problems: tuple[Problem, ...]
    dockerfile: Dockerfile | None

    @property
    def fatal(self) -> bool:
        return any(p.fatal for p in self.problems)


def decode(data: bytes) -> str:
    """Decode Dockerfile bytes as UTF-8 (BOM allowed); raises UnicodeDecodeError otherwise."""
    return data.decode("utf-8-sig")


def _over_limits(dockerfile: Dockerfile) -> Problem | None:
    count = len(dockerfile.instructions)
    if count > MAX_INSTRUCTIONS:
        return Problem(
            1, f"file has {count:,} instructions; files with more than {MAX_INSTRUCTIONS:,} are not analysed"
        )
    depth: dict[int, int] = {}  # stage index -> stages in its FROM chain (parents come first)
    for stage in dockerfile.stages:
        depth[stage.index] = 1 + (depth.get(stage.parent.index, 0) if stage.parent is not None else 0)
        if depth[stage.index] > MAX_STAGE_DEPTH:
            return Problem(
                stage.from_step.start_line,
                f"stage {stage.label} builds on a chain of {depth[stage.index]} stages (FROM <stage>); "
                f"files with chains longer than {MAX_STAGE_DEPTH} are not analysed",
            )
    return None


def utf8_size(text: str) -> int:
    """The size of `text` in UTF-8 bytes (the cap is on bytes, and a character may take four)."""
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def lint_text(text: str, path: str = "Dockerfile", options: LintOptions | None = None) -> LintResult:
    options = options or LintOptions()
    if len(text) > MAX_BYTES or utf8_size(text) > MAX_BYTES:
        problem = Problem(1, f"file is {utf8_size(text):,} bytes; files over 1 MiB are not analysed")
        return LintResult(path, (), (problem,), None)
    if "\x00" in text:
        return LintResult(path, (), (Problem(1, "file contains NUL bytes: not a Dockerfile"),), None)
    dockerfile = parse_dockerfile(text)
    if not dockerfile.ok:
        return LintResult(path, (), tuple(dockerfile.problems), dockerfile)
    too_big = _over_limits(dockerfile)
    if too_big is not None:
        return LintResult(path, (), (too_big,), dockerfile)
    analysis = Analysis(dockerfile, options.dockerignore, options.fix_options)
    suppressions = read_suppressions(dockerfile, _ALL_CODES)
    findings: list[Finding] = []
    overrides = options.severity_overrides
    for rule in options.rules:
        # Checked here too, not only in `Analysis.findings`: most files have no mount, and this
        # skips the call for the 14 rules that need one.
        if (rule.needs_mounts and not analysis.has_mounts) or rule.code in suppressions.file_codes:
            continue
        override = overrides.get(rule.code) if overrides else None
        for finding in analysis.findings(rule):
            findings.append(finding if override is None else replace(finding, severity=override))
    if suppressions is not NO_SUPPRESSIONS:
        findings = suppressions.filter(findings)
    findings = refuse_overlong_fixes(defer_overlapping_tidy_fixes(findings, _TIDYING.__contains__))
    findings.sort(key=lambda f: (f.line, f.column, f.code))
    problems = (*dockerfile.problems, *suppressions.problems)
    return LintResult(path, tuple(findings), tuple(sorted(problems, key=lambda p: p.line)), dockerfile)


_ALL_CODES = frozenset(rule.code for rule in ALL_RULES)
_TIDYING = frozenset(rule.code for rule in ALL_RULES if rule.tidies)
