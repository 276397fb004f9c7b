"""Inline suppressions, as hadolint spells them:

* `# mountie ignore=BKM007,BKM009 reason` silences those codes on the next instruction;
* `# mountie global ignore=BKM005 reason` silences them in the whole file.

Unknown codes are reported (a suppression that silences nothing is a mistake worth seeing).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import NamedTuple

from bot.dockerfile.errors import Problem
from bot.dockerfile.model import Dockerfile
from bot.rules.base import Finding

_PRAGMA = re.compile(r"^mountie\s+(global\s+)?ignore\s*=\s*([A-Za-z0-9_,\s]+?)(?:\s+(.*))?$", re.I)
_CODE = re.compile(r"^BKM\d{3}$")


class Suppressions(NamedTuple):
    file_codes: frozenset[str]
    by_line: dict[int, frozenset[str]]  # instruction start line -> codes
    problems: tuple[Problem, ...]

    def silences(self, finding: Finding) -> bool:
        return finding.code in self.file_codes or finding.code in self.by_line.get(finding.line, frozenset())

    def filter(self, findings: Iterable[Finding]) -> list[Finding]:
        return [f for f in findings if not self.silences(f)]


NONE = Suppressions(frozenset(), {}, ())


def read_suppressions(dockerfile: Dockerfile, known_codes: Iterable[str]) -> Suppressions:
    if not any("mountie" in comment.text.lower() for comment in dockerfile.scan.comments):
        return NONE  # the usual case, answered without sorting the instructions
    known = set(known_codes)
    file_codes: set[str] = set()
    by_line: dict[int, set[str]] = {}
    problems: list[Problem] = []
    starts = sorted(i.start_line for i in dockerfile.instructions)
    for comment in dockerfile.scan.comments:
        match = _PRAGMA.match(comment.text)
        if not match:
            continue
        codes = {c.strip().upper() for c in re.split(r"[,\s]+", match.group(2)) if c.strip()}
        for code in sorted(codes):
            if not _CODE.match(code) or code not in known:
                problems.append(
                    Problem(comment.line, f"unknown rule {code} in a mountie ignore comment", fatal=False)
                )
        codes &= known
        if match.group(1):
            file_codes |= codes
            continue
        following = next((line for line in starts if line > comment.line), None)
        if following is not None:
            by_line.setdefault(following, set()).update(codes)
    return Suppressions(
        frozenset(file_codes), {line: frozenset(c) for line, c in by_line.items()}, tuple(problems)
    )
