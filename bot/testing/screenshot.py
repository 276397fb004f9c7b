"""The README's picture of a review comment: `python -m bot.testing.screenshot OUT.png`.

It runs `mountie demo`'s scenario (the real `mountie serve` against the GitHub emulator) up to the
review, renders the inline comment Mountie posted as GitHub's "Files changed" tab shows it (the
file header, the diff lines, the comment with its rendered markdown and the suggestion block as a
suggested change), and screenshots that in headless Chromium (`bot.testing.browser`).
The committed picture is deploy/review-comment.png.
"""

from __future__ import annotations

import html
import re
import sys
from pathlib import Path

from bot.app.demo import APP_SLUG, DOCKERFILE, DOCKERFILE_PATH, ShownComment, run_scenario

_FENCE = re.compile(r"^(?P<fence>`{3,})(?P<info>[^\n`]*)\n(?P<body>.*?)^(?P=fence)[ \t]*$", re.M | re.S)
_STYLE = """
*{box-sizing:border-box}
body{margin:0;background:#fff;font:14px/1.5 -apple-system,"Segoe UI","Noto Sans",Helvetica,Arial,
"Liberation Sans",sans-serif;color:#1f2328}
#capture{width:920px;padding:16px;background:#fff}
.file{border:1px solid #d1d9e0;border-radius:6px;overflow:hidden}
.file-header{background:#f6f8fa;border-bottom:1px solid #d1d9e0;padding:8px 16px;
font:12px ui-monospace,"DejaVu Sans Mono","Liberation Mono",monospace;display:flex;gap:12px}
.file-header .count{color:#1a7f37;font-weight:600}
table.diff{border-collapse:collapse;width:100%;font:12px/20px ui-monospace,"DejaVu Sans Mono",
"Liberation Mono",monospace}
table.diff{table-layout:fixed}
table.diff td{padding:0 10px;white-space:pre;vertical-align:top;overflow:hidden}
table.diff td.num{width:56px;text-align:right;color:#59636e;user-select:none}
tr.add td{background:#dafbe1}tr.add td.num{background:#aceebb}
tr.del td{background:#ffebe9}tr.del td.num{background:#ffcecb}
tr.hunk td{background:#ddf4ff;color:#59636e}
table.diff td.thread{padding:8px 16px;background:#f6f8fa;border-top:1px solid #d1d9e0;
border-bottom:1px solid #d1d9e0;white-space:normal;
font:14px/1.5 -apple-system,"Segoe UI","Noto Sans",Helvetica,Arial,sans-serif}
.comment{border:1px solid #d1d9e0;border-radius:6px;background:#fff}
.comment-header{display:flex;align-items:center;gap:8px;padding:8px 12px;border-bottom:1px solid #d1d9e0}
.avatar{width:24px;height:24px;border-radius:6px;background:#0969da;color:#fff;font-weight:700;
display:flex;align-items:center;justify-content:center;font-size:13px}
.author{font-weight:600}.badge{border:1px solid #d1d9e0;border-radius:2em;padding:0 6px;font-size:12px;
color:#59636e}.when{color:#59636e}
.comment-body{padding:4px 12px 12px;overflow-wrap:anywhere}
.comment-body p{margin:10px 0}
.comment-body a{color:#0969da;text-decoration:none}
code{font:12px ui-monospace,"DejaVu Sans Mono","Liberation Mono",monospace;background:#eff1f3;
padding:.2em .4em;border-radius:6px}
.suggestion{border:1px solid #d1d9e0;border-radius:6px;overflow:hidden;margin:10px 0}
.suggestion-header{background:#f6f8fa;border-bottom:1px solid #d1d9e0;padding:6px 12px;font-size:12px;
color:#59636e;font-weight:600}
.apply{display:flex;justify-content:flex-end;padding:6px 12px;background:#f6f8fa;border-top:1px solid #d1d9e0}
.apply span{border:1px solid #d1d9e0;border-radius:6px;padding:3px 12px;font-size:12px;background:#fff;
font-weight:500}
pre{background:#f6f8fa;border-radius:6px;padding:12px;overflow:hidden;
font:12px ui-monospace,"DejaVu Sans Mono","Liberation Mono",monospace}
"""


def _inline(text: str) -> str:
    """Escaped text with GitHub markdown's inline code, bold and links."""
    parts = re.split(r"(`[^`]+`)", text)
    out: list[str] = []
    for part in parts:
        if len(part) > 1 and part.startswith("`") and part.endswith("`"):
            out.append(f"<code>{html.escape(part[1:-1])}</code>")
            continue
        escaped = html.escape(part, quote=False)
        escaped = re.sub(r"\[([^\]]+)\]\(([^)\s]+)\)", lambda m: f'<a href="{m[2]}">{m[1]}</a>', escaped)
        escaped = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", escaped)
        out.append(escaped)
    return "".join(out)


def _rows(lines: list[tuple[str, int | None, str]]) -> str:
    """Diff table rows: (kind add/del/ctx, line number, text)."""
    sign = {"add": "+", "del": "-", "ctx": " "}
    return "".join(
        f'<tr class="{kind}"><td class="num">{number or ""}</td>'
        f"<td>{sign[kind]} {html.escape(text)}</td></tr>"
        for kind, number, text in lines
    )


def _suggestion(block: str, original: list[str], first_line: int) -> str:
    removed = [("del", first_line + i, line) for i, line in enumerate(original)]
    added = [("add", first_line + i, line) for i, line in enumerate(block.splitlines())]
    return (
        '<div class="suggestion"><div class="suggestion-header">Suggested change</div>'
        f'<table class="diff">{_rows([*removed, *added])}</table>'
        '<div class="apply"><span>Commit suggestion</span></div></div>'
    )


def render_markdown(body: str, file_lines: list[str], start_line: int, line: int) -> str:
    """The comment's markdown as HTML; a ```suggestion block becomes a suggested change of
    `file_lines[start_line..line]`."""
    out: list[str] = []
    position = 0
    for match in _FENCE.finditer(body):
        out.append(_paragraphs(body[position : match.start()]))
        info, block = match["info"].strip(), match["body"]
        if info == "suggestion":
            out.append(_suggestion(block, file_lines[start_line - 1 : line], start_line))
        else:
            out.append(f"<pre>{html.escape(block)}</pre>")
        position = match.end()
    out.append(_paragraphs(body[position:]))
    return "".join(out)


def _paragraphs(text: str) -> str:
    blocks = [block.strip() for block in re.split(r"\n\s*\n", text) if block.strip()]
    return "".join(f"<p>{_inline(' '.join(block.splitlines()))}</p>" for block in blocks)


def render_html(dockerfile: str, comment: ShownComment, path: str = DOCKERFILE_PATH) -> str:
    """A whole page: the added file as a diff, with the comment's thread under its last line."""
    lines = dockerfile.splitlines()
    start = comment.start_line or comment.line
    thread = (
        '<tr><td colspan="2" class="thread"><div class="comment"><div class="comment-header">'
        f'<div class="avatar">M</div><span class="author">{html.escape(APP_SLUG)}</span>'
        '<span class="badge">bot</span><span class="when">commented now</span></div>'
        f'<div class="comment-body">{render_markdown(comment.body, lines, start, comment.line)}</div>'
        "</div></td></tr>"
    )
    rows = [f'<tr class="hunk"><td class="num"></td><td>@@ -0,0 +1,{len(lines)} @@</td></tr>']
    for number, text in enumerate(lines, 1):
        rows.append(_rows([("add", number, text)]))
        if number == comment.line:
            rows.append(thread)
    header = (
        f'<div class="file-header"><span class="count">+{len(lines)}</span>'
        f"<span>{html.escape(path)}</span></div>"
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<style>{_STYLE}</style></head><body><div id='capture'><div class='file'>{header}"
        f'<table class="diff">{"".join(rows)}</table></div></div></body></html>'
    )


def screenshot(page_html: str, out: Path) -> None:
    from bot.testing.browser import launch

    with launch() as browser:
        page = browser.new_page(viewport={"width": 960, "height": 600}, device_scale_factor=1)
        page.set_content(page_html)
        page.locator("#capture").screenshot(path=str(out))


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or not args[0].endswith(".png"):
        print("usage: python -m bot.testing.screenshot OUT.png", file=sys.stderr)
        return 2
    result = run_scenario(apply_fix=False)
    comment = next(c for c in result.first.comments if "```suggestion" in c.body)
    screenshot(render_html(DOCKERFILE, comment), Path(args[0]))
    print(f"wrote {args[0]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
