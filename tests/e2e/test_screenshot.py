"""The README's picture (bot/testing/screenshot.py): the demo's review comment rendered like
GitHub's "Files changed" tab, then photographed by headless Chromium."""

from __future__ import annotations

import struct
from pathlib import Path

from bot.app.demo import ShownComment
from bot.testing.screenshot import main, render_html, render_markdown
from tests.app.support import ROOT
from tests.e2e.browser_support import require_chromium

PICTURE = ROOT / "deploy" / "review-comment.png"
FILE = "FROM a AS b\nRUN --mount=type=cache,target=/out make\nFROM c\nCOPY --from=b /out/app /app\n"
BODY = (
    "**[BKM001 artifact-in-cache-mount](https://example.com/r#bkm001)** · error\n\n"
    "COPY reads `/out/app` <script>x</script>\nsecond line\n\n"
    "**Fix:** Move it\n\n```suggestion\nRUN --mount=type=cache,target=/out make && mv /out/app /tmp/app\n"
    "FROM c\nCOPY --from=b /tmp/app /app\n```"
)


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_the_markdown_renders_as_github_shows_it() -> None:
    page = render_markdown(BODY, FILE.splitlines(), 2, 4)
    assert (
        '<strong><a href="https://example.com/r#bkm001">BKM001 artifact-in-cache-mount</a></strong>' in page
    )
    assert "<code>/out/app</code> &lt;script&gt;x&lt;/script&gt; second line" in page
    assert "<script>" not in page
    # The suggestion replaces lines 2-4: three lines out, three in.
    assert page.count('<tr class="del">') == 3 and page.count('<tr class="add">') == 3
    assert "- RUN --mount=type=cache,target=/out make</td>" in page
    assert "+ COPY --from=b /tmp/app /app</td>" in page and "Commit suggestion" in page


def test_the_thread_sits_under_the_commented_line() -> None:
    page = render_html(FILE, ShownComment("Dockerfile", 4, 2, BODY))
    assert page.index("COPY --from=b /out/app /app</td>") < page.index('class="thread"')
    assert page.count('<tr class="add">') == 4 + 3  # the added file, and the suggestion's lines


def test_a_screenshot_is_taken(tmp_path: Path) -> None:
    require_chromium()
    out = tmp_path / "comment.png"
    assert main([str(out)]) == 0
    width, height = png_size(out)
    assert width == 920 and 500 < height < 1200
    assert main(["comment.jpg"]) == 2


def test_the_committed_picture_is_there() -> None:
    width, height = png_size(PICTURE)
    assert width == 920 and height > 500
