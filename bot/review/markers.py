"""Hidden markers in what Mountie posts, and the finding fingerprints they carry.

A fingerprint names a finding independently of where it sits: rule code, file path, the normalized
text of the lines it is about, and which occurrence of that (code, path, text) it is. Moving the
instruction up or down keeps it; editing the instruction (e.g. applying the fix) changes it. Every
comment and summary entry carries `<!-- mountie:fingerprint=... -->` so a later run can tell what
is already on the pull request; reviews carry a per-run marker so a create that failed after
GitHub applied it can be found; a refusal to recheck carries the commenter.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Sequence

from bot.rules.base import Finding

_FINGERPRINT = re.compile(r"<!-- mountie:fingerprint=([0-9a-f]{16}) -->")
_CONTINUATION = re.compile(r"\\\s*$")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")  # keeps an id from closing the HTML comment


def normalized_lines(text: str, start: int, end: int) -> str:
    """Lines `start..end` (1-based) as one line: continuations joined, whitespace collapsed."""
    lines = text.splitlines()[start - 1 : end]
    return " ".join(" ".join(_CONTINUATION.sub("", line).split()) for line in lines).strip()


def fingerprints(path: str, text: str, findings: Sequence[Finding]) -> list[str]:
    """One fingerprint per finding, in order; equal (code, path, text) findings are numbered."""
    seen: Counter[tuple[str, str]] = Counter()
    result: list[str] = []
    for finding in findings:
        source = normalized_lines(text, finding.line, finding.end_line)
        occurrence = seen[(finding.code, source)]
        seen[(finding.code, source)] += 1
        key = "\0".join((finding.code, path, source, str(occurrence)))
        result.append(hashlib.sha256(key.encode()).hexdigest()[:16])
    return result


def fingerprint_marker(fingerprint: str) -> str:
    return f"<!-- mountie:fingerprint={fingerprint} -->"


def fingerprints_in(body: str) -> frozenset[str]:
    return frozenset(_FINGERPRINT.findall(body))


def fingerprints_in_all(bodies: Iterable[str]) -> frozenset[str]:
    return frozenset().union(*(fingerprints_in(body) for body in bodies))


def review_marker(head_sha: str, run: str) -> str:
    """Identifies one attempt to post a review: the analysed SHA and the job's delivery."""
    return f"<!-- mountie:review={head_sha}/{_UNSAFE.sub('', run)} -->"


def recheck_refusal_marker(login: str) -> str:
    return f"<!-- mountie:recheck-refused={login.lower()} -->"
