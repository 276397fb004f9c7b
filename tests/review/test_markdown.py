"""Fences that their content cannot close, inline code, table cells, rule links."""

from __future__ import annotations

from bot.review.markdown import code_span, fence, rule_link, rule_url, table_cell


def test_fence_is_longer_than_any_backtick_run() -> None:
    assert fence("RUN echo hi", "suggestion") == "```suggestion\nRUN echo hi\n```"
    assert fence("RUN echo ```` && true", "diff") == "`````diff\nRUN echo ```` && true\n`````"
    assert fence("", "suggestion") == "```suggestion\n```"  # an empty suggestion deletes the lines


def test_code_span_and_table_cell() -> None:
    assert code_span("Dockerfile") == "`Dockerfile`"
    assert code_span("a`b") == "``a`b``"
    assert code_span("`x") == "`` `x ``"
    assert table_cell("a | b\nc  d \\ e") == "a \\| b c d \\\\ e"


def test_rule_links_point_at_the_readme_section() -> None:
    assert rule_url("BKM001").endswith("README.md#bkm001-artifact-in-cache-mount")
    assert rule_link("BKM001").startswith("[BKM001 artifact-in-cache-mount](https://")
    assert rule_url("XYZ999").endswith("#xyz999")
