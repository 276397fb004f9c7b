"""Annotated rule fixtures (semgrep style).

`tests/fixtures/rules/<CODE>/<case>.Dockerfile` holds Dockerfile text with annotation comments:

* `# expect: BKM001` — the next instruction must get a BKM001 finding (on its first line);
* `# ok: BKM001` — the next instruction must not (a near-miss);
* `<case>.fixed.Dockerfile`, when present, is the golden result of applying every fix for that
  code; when absent, the case must offer no fix.

A `# dockerignore: target/ node_modules/` comment gives the build context's .dockerignore lines
(space separated); without it the .dockerignore is unknown.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures" / "rules"
_ANNOTATION = re.compile(r"^\s*#\s*(expect|ok):\s*([A-Z0-9, ]+?)\s*$")
_DOCKERIGNORE = re.compile(r"^\s*#\s*dockerignore:\s*(.*)$")


@dataclass(frozen=True)
class FixtureCase:
    code: str
    path: Path
    text: str
    expected: frozenset[int]
    near_misses: frozenset[int]
    fixed: str | None
    dockerignore: str | None

    @property
    def id(self) -> str:
        return f"{self.code}/{self.path.stem}"


def _next_instruction_line(lines: list[str], index: int) -> int:
    for position in range(index + 1, len(lines)):
        stripped = lines[position].strip()
        if stripped and not stripped.startswith("#"):
            return position + 1
    raise ValueError(f"annotation on line {index + 1} has no instruction after it")


def load_case(code: str, path: Path) -> FixtureCase:
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")
    expected: set[int] = set()
    near: set[int] = set()
    dockerignore: str | None = None
    for index, line in enumerate(lines):
        match = _ANNOTATION.match(line)
        if match:
            codes = {c.strip() for c in match.group(2).split(",")}
            if code in codes:
                target = _next_instruction_line(lines, index)
                (expected if match.group(1) == "expect" else near).add(target)
        ignore = _DOCKERIGNORE.match(line)
        if ignore:
            dockerignore = "\n".join(ignore.group(1).split())
    fixed_path = path.with_name(path.name.replace(".Dockerfile", ".fixed.Dockerfile"))
    fixed = fixed_path.read_text(encoding="utf-8") if fixed_path.exists() else None
    return FixtureCase(code, path, text, frozenset(expected), frozenset(near), fixed, dockerignore)


def all_cases() -> list[FixtureCase]:
    cases = []
    for directory in sorted(FIXTURES.iterdir()):
        if not directory.is_dir():
            continue
        for path in sorted(directory.glob("*.Dockerfile")):
            if path.name.endswith(".fixed.Dockerfile"):
                continue
            cases.append(load_case(directory.name, path))
    return cases
