"""The README documents what the code does: its rules table and rule reference are what
`mountie rules` prints, and every rule link Mountie posts lands on one of its headings."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _between(text: str, start: str, end: str) -> str:
    return text.split(start, 1)[1].split(end, 1)[0].strip()


def test_rules_table_matches_the_command() -> None:
    printed = subprocess.run(
        [sys.executable, "-m", "bot", "rules", "--format", "markdown"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout.strip()
    assert _between(README, "<!-- rules-table:start -->", "<!-- rules-table:end -->") == printed


def test_quick_start_has_exactly_two_commands() -> None:
    section = _between(README, "## Quick start", "\n## ")
    blocks = section.split("```sh")[1:]
    assert len(blocks) == 2
    commands = [block.split("```", 1)[0].strip() for block in blocks]
    assert "mountie check" in commands[0]
    assert commands[1] == "bash .ci/run"


def _rules_output(form: str) -> str:
    return subprocess.run(
        [sys.executable, "-m", "bot", "rules", "--format", form],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout.strip()


def test_rule_reference_matches_the_command() -> None:
    section = _between(README, "<!-- rule-reference:start -->", "<!-- rule-reference:end -->")
    assert section == _rules_output("reference")
    assert "\n## Rule reference\n" in README.split("<!-- rule-reference:start -->")[0]


def github_anchors(markdown: str) -> set[str]:
    """The anchors GitHub gives the headings (outside code blocks): lower case, punctuation but
    `-` and `_` dropped, spaces as `-`, and `-1`, `-2`... on repeats."""
    seen: Counter[str] = Counter()
    anchors: set[str] = set()
    fenced = False
    for line in markdown.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        heading = re.match(r"#{1,6} +(.+?) *#* *$", line)
        if fenced or heading is None:
            continue
        slug = re.sub(r"[^\w\- ]", "", heading.group(1).lower()).replace(" ", "-")
        anchors.add(f"{slug}-{seen[slug]}" if seen[slug] else slug)
        seen[slug] += 1
    return anchors


def test_github_anchors_follow_githubs_rules() -> None:
    text = "# A `code` heading!\n```sh\n# not a heading\n```\n## Twice\n## Twice\n"
    assert github_anchors(text) == {"a-code-heading", "twice", "twice-1"}


def test_every_rule_link_the_review_renders_is_a_readme_heading() -> None:
    from bot.config import RepoConfig
    from bot.engine import lint_text
    from bot.review.checkrun import check_report
    from bot.review.items import file_items
    from bot.review.markdown import DOCS_URL, rule_url
    from bot.review.model import ChangedFile, FileReport
    from bot.review.render import comment_body, summary_entry
    from bot.rules import ALL_RULES

    rendered: list[str] = []
    for rule in ALL_RULES:  # each rule's documented example fires it
        example = rule.doc.split("## Example", 1)[1].split("```dockerfile\n", 1)[1].split("```", 1)[0]
        report = FileReport(
            ChangedFile("Dockerfile", "added", None), example, lint_text(example, "Dockerfile")
        )
        items = file_items(report)
        rendered += [comment_body(item) for item in items] + [summary_entry(item) for item in items]
        rendered.append(check_report([report], RepoConfig(), "0" * 40).summary)
    links = re.findall(r"\]\((https?://[^)\s]+)\)", "\n".join(rendered))
    docs = {link for link in links if link.startswith(DOCS_URL)}
    assert docs == {rule_url(rule.code) for rule in ALL_RULES}  # every rule's link, and only those
    anchors = github_anchors(README)
    assert {link.removeprefix(f"{DOCS_URL}#") for link in docs} <= anchors
