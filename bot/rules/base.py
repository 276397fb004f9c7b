"""What every rule is made of: metadata as data, findings, and fixes as line-range replacements."""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.analysis import Analysis


@enum.unique
class Severity(enum.IntEnum):
    """Ordered so that `severity >= fail_level` reads naturally."""

    INFO = 1
    WARNING = 2
    ERROR = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            choices = ", ".join(s.label for s in cls)
            raise ValueError(f"unknown severity {text!r} (choose from {choices})") from None


@enum.unique
class FixAvailability(enum.Enum):
    ALWAYS = "always"
    SOMETIMES = "sometimes"
    NEVER = "never"


@dataclass(frozen=True, slots=True)
class Edit:
    """Replace physical lines `start_line..end_line` (1-based, inclusive) with `new_text`.

    This is exactly the shape of a GitHub suggestion block anchored on that line range. `new_text`
    has no trailing newline; an empty string deletes the lines only when `delete` is set.
    """

    start_line: int
    end_line: int
    new_text: str


@dataclass(frozen=True, slots=True)
class Fix:
    title: str
    edits: tuple[Edit, ...]


@dataclass(frozen=True, slots=True)
class Finding:
    code: str
    severity: Severity
    line: int
    end_line: int
    column: int
    message: str
    fix: Fix | None = None
    # Why no fix is offered, when the rule usually has one.
    no_fix_reason: str | None = None
    # Other lines that explain the finding (e.g. the RUN whose mount lost the artifact).
    related_lines: tuple[int, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class Rule:
    code: str
    name: str
    summary: str
    severity: Severity
    fix: FixAvailability
    check: Callable[[Analysis], Iterator[Finding]]
    doc: str
    # True when every finding involves a RUN `--mount` (its target, its options, a write lost to
    # it): the rule finds nothing in a Dockerfile without one, and `Analysis.findings` skips it
    # there (most real Dockerfiles have no `--mount`).
    needs_mounts: bool = False
    # True for the cache-hygiene rules, whose fixes tidy up: such a fix waits while another
    # rule's fix changes the same lines (`bot.fixes.conflicts`).
    tidies: bool = False

    def finding(
        self,
        line: int,
        message: str,
        *,
        end_line: int | None = None,
        column: int = 1,
        severity: Severity | None = None,
        fix: Fix | None = None,
        no_fix_reason: str | None = None,
        related_lines: tuple[int, ...] = (),
    ) -> Finding:
        return Finding(
            code=self.code,
            severity=self.severity if severity is None else severity,
            line=line,
            end_line=line if end_line is None else end_line,
            column=column,
            message=message,
            fix=fix,
            no_fix_reason=no_fix_reason,
            related_lines=related_lines,
        )
