"""Markdown pieces shared by review comments, the review body and the check run summary."""

from __future__ import annotations

import re

from bot import PROJECT_URL
from bot.rules import RULES_BY_CODE

# Each rule has a section in the README's rule reference (`mountie rules --format reference`), under
# a heading "### BKM001 artifact-in-cache-mount" that GitHub anchors `#bkm001-artifact-in-cache-mount`.
DOCS_URL = f"{PROJECT_URL}/blob/main/README.md"
_BACKTICKS = re.compile(r"`+")


def rule_url(code: str) -> str:
    rule = RULES_BY_CODE.get(code)
    anchor = f"{code}-{rule.name}" if rule is not None else code
    return f"{DOCS_URL}#{anchor.lower()}"


def rule_title(code: str) -> str:
    """`BKM001 artifact-in-cache-mount`, or the bare code for an unknown rule."""
    rule = RULES_BY_CODE.get(code)
    return f"{code} {rule.name}" if rule is not None else code


def rule_link(code: str) -> str:
    return f"[{rule_title(code)}]({rule_url(code)})"


def fence(content: str, info: str = "") -> str:
    """A fenced block that `content` cannot close: longer than any backtick run in it (at least 3)."""
    longest = max((len(run) for run in _BACKTICKS.findall(content)), default=0)
    marks = "`" * max(3, longest + 1)
    body = content if content.endswith("\n") or not content else content + "\n"
    return f"{marks}{info}\n{body}{marks}"


def table_cell(text: str) -> str:
    """Text safe inside one Markdown table cell: one line, pipes escaped."""
    return " ".join(text.replace("\\", "\\\\").replace("|", "\\|").split())


def code_span(text: str) -> str:
    """Inline code that survives backticks in `text`."""
    longest = max((len(run) for run in _BACKTICKS.findall(text)), default=0)
    marks = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{marks}{pad}{text}{pad}{marks}"
