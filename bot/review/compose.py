"""What a run posts on the pull request, given its items and what is already there. No I/O.

- Dedupe: an item whose fingerprints all appear on Mountie's own comments that GitHub still shows
  on a line (not outdated), or in the summary of one of Mountie's earlier reviews, is not posted
  again. Others' comments never count, and are never touched.
- At most `MAX_INLINE` inline comments per review, the most severe first; the rest, and items
  that cannot be inline at all, become entries of the review body with their fix as a diff.
- Mountie's own open threads whose findings are all gone (or outdated and posted again now) are
  resolved, unless someone else replied in them, or their file could not be analysed this time.
- No review at all when nothing is new.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import replace

from bot.review.markers import fingerprint_marker, fingerprints_in, fingerprints_in_all
from bot.review.model import ExistingComment, InlineComment, Item, Placement, ReviewPlan
from bot.review.render import BODY_LIMIT, comment_body, summary_entry
from bot.rules.base import Severity

MAX_INLINE = 25  # more comments in one review is noise (and trips secondary rate limits)


def _ours(comment: ExistingComment, bot_login: str) -> bool:
    return (
        comment.author == bot_login and comment.in_reply_to_id is None and bool(fingerprints_in(comment.body))
    )


def posted_fingerprints(existing: Iterable[ExistingComment], bot_login: str) -> frozenset[str]:
    """Fingerprints on Mountie's comments that GitHub still shows on a line."""
    return fingerprints_in_all(c.body for c in existing if _ours(c, bot_login) and c.line is not None)


def new_items(items: Iterable[Item], posted: frozenset[str]) -> list[Item]:
    return [item for item in items if not set(item.fingerprints) <= posted]


def place(items: Sequence[Item], max_inline: int = MAX_INLINE) -> tuple[list[Item], list[Item]]:
    """(inline, summary): the `max_inline` most severe placeable items go inline."""
    placeable = sorted(
        (item for item in items if item.anchor is not None), key=lambda i: (-i.severity, i.path, i.line)
    )
    over = [replace(item, placement=Placement.OVER_LIMIT) for item in placeable[max_inline:]]
    summary = [item for item in items if item.anchor is None] + over
    by_position = lambda item: (item.path, item.line)  # noqa: E731 - a sort key used twice
    return sorted(placeable[:max_inline], key=by_position), sorted(summary, key=by_position)


def needs_review_bodies(
    items: Sequence[Item], existing: Sequence[ExistingComment], bot_login: str, max_inline: int = MAX_INLINE
) -> bool:
    """Whether the summaries of earlier reviews must be read to know what is new.

    Only when this run would post something that an earlier summary may already hold: a summary
    entry of its own, or anything at all once Mountie has commented here before (an earlier run may
    have summarized what is inline now). A first review with everything inline skips the call."""
    remaining = new_items(items, posted_fingerprints(existing, bot_login))
    if not remaining:
        return False
    _, summary = place(remaining, max_inline)
    return bool(summary) or any(_ours(c, bot_login) for c in existing)


def stale_threads(
    existing: Sequence[ExistingComment],
    bot_login: str,
    current: frozenset[str],
    reposted: frozenset[str],
    unsettled_paths: frozenset[str],
) -> tuple[int, ...]:
    """Root comment ids of Mountie's threads to resolve."""
    answered = {c.in_reply_to_id for c in existing if c.in_reply_to_id is not None and c.author != bot_login}
    stale: list[int] = []
    for comment in existing:
        if comment.resolved or not _ours(comment, bot_login) or comment.id in answered:
            continue
        if comment.path in unsettled_paths:
            continue
        prints = fingerprints_in(comment.body)
        gone = prints.isdisjoint(current)
        superseded = comment.line is None and prints <= reposted
        if gone or superseded:
            stale.append(comment.id)
    return tuple(stale)


def inline_comment(item: Item) -> InlineComment:
    assert item.anchor is not None
    first, last = item.anchor
    return InlineComment(
        item.path, last, first if first < last else None, comment_body(item), item.fingerprints
    )


def _count(items: Iterable[Item]) -> str:
    severities = Counter(f.severity for item in items for f in item.findings)
    parts = [
        f"{severities[s]} {s.label}{'s' if severities[s] > 1 else ''}"
        for s in reversed(Severity)
        if severities[s]
    ]
    return ", ".join(parts)


def review_body(inline: Sequence[Item], summary: Sequence[Item], marker: str) -> str | None:
    """The review's text: counts, summary entries, markers; None when there is nothing to post."""
    if not inline and not summary:
        return None
    total = sum(len(item.findings) for item in (*inline, *summary))
    noun = "hazard" if total == 1 else "hazards"
    counts = _count([*inline, *summary])
    lines = [f"**Mountie** found {total} new BuildKit mount {noun} in this pull request ({counts})."]
    if summary:
        reasons = Counter(item.placement for item in summary)
        why = "; ".join(f"{n} {placement.value}" for placement, n in reasons.items())
        lines.append(f"Listed here rather than inline ({why}):")
    header = "\n\n".join(lines)
    entries = [summary_entry(item) for item in summary]
    return _fit(header, entries, summary, marker)


def _fit(header: str, entries: list[str], summary: Sequence[Item], marker: str) -> str:
    """Header, as many entries as fit under GitHub's body limit, and the markers of the rest."""
    kept = list(entries)
    while True:
        dropped = summary[len(kept) :]
        tail = [marker]
        if dropped:
            note = f"…and {len(dropped)} more: the Mountie check run lists every finding."
            hidden = "\n".join(fingerprint_marker(fp) for item in dropped for fp in item.fingerprints)
            tail = [note, hidden, marker]
        body = "\n\n".join([header, *kept, *tail])
        if len(body) <= BODY_LIMIT or not kept:
            return body[:BODY_LIMIT]
        kept.pop()


def plan_review(
    items: Sequence[Item],
    existing: Sequence[ExistingComment],
    *,
    bot_login: str,
    marker: str,
    review_bodies: Sequence[str] = (),
    unsettled_paths: frozenset[str] = frozenset(),
    max_inline: int = MAX_INLINE,
) -> ReviewPlan:
    """What to post: `review_bodies` are the bodies of Mountie's earlier reviews, when read."""
    posted = posted_fingerprints(existing, bot_login) | fingerprints_in_all(review_bodies)
    fresh = new_items(items, posted)
    inline, summary = place(fresh, max_inline)
    current = frozenset(fp for item in items for fp in item.fingerprints)
    reposted = frozenset(fp for item in fresh for fp in item.fingerprints)
    return ReviewPlan(
        inline=tuple(inline),
        comments=tuple(inline_comment(item) for item in inline),
        summary=tuple(summary),
        body=review_body(inline, summary, marker),
        resolve=stale_threads(existing, bot_login, current, reposted, unsettled_paths),
    )


def summary_only(plan: ReviewPlan, marker: str) -> str | None:
    """The review body with the inline comments moved into it, for when GitHub refuses them (422):
    our reading of the diff disagreed with GitHub's, and a review without them still informs."""
    refused = [replace(item, placement=Placement.REFUSED) for item in plan.inline]
    entries = sorted([*refused, *plan.summary], key=lambda item: (item.path, item.line))
    return review_body((), entries, marker)
