"""Reviews and review comments, with GitHub's all-or-nothing 422s and one-pending-review rule.

Comments on an older PR commit are kept "simple but consistent": a comment is outdated when its
file's content differs between the commented commit and the PR head (GitHub then nulls `line` and
`position`, keeps `original_*`); otherwise it moves to the head commit with the same line numbers.
"""

from __future__ import annotations

from typing import Any

from bot.testing.github_emulator.context import Context, Response, require_body_length
from bot.testing.github_emulator.diff import FileChange, compare_trees
from bot.testing.github_emulator.errors import ApiError, not_found, unprocessable
from bot.testing.github_emulator.handlers.registry import handles
from bot.testing.github_emulator.placement import Placement, PlacementError, place
from bot.testing.github_emulator.state import (
    PullRequest,
    Reaction,
    Repo,
    Review,
    ReviewComment,
    ReviewState,
    ReviewThread,
    Store,
)

EVENT_STATES: dict[str, ReviewState] = {
    "APPROVE": "APPROVED",
    "REQUEST_CHANGES": "CHANGES_REQUESTED",
    "COMMENT": "COMMENTED",
}
ONE_PENDING = "User can only have one pending review per pull request"
BODY_REQUIRED = "Body can't be blank"
COMMIT_NOT_IN_PR = "Pull request review commit_id is not part of the pull request"


# -- domain helpers (also used by GitHubEmulator for seeding and pushes) ----------------------------


def pr_commits(repo: Repo, pr: PullRequest) -> list[str]:
    """SHAs of the PR's commits, head first, stopping at the base."""
    shas: list[str] = []
    sha: str | None = pr.head_sha
    while sha is not None and sha != pr.base_sha and sha in repo.commits:
        shas.append(sha)
        sha = repo.commits[sha].parent
    return shas


def files_at(store: Store, repo: Repo, pr: PullRequest, commit_id: str) -> list[FileChange]:
    if commit_id == pr.head_sha:
        return pr.files
    return compare_trees(repo.commits[pr.base_sha].tree, repo.commits[commit_id].tree)


def is_outdated(repo: Repo, pr: PullRequest, path: str, commit_id: str) -> bool:
    return repo.commits[commit_id].tree.get(path) != repo.commits[pr.head_sha].tree.get(path)


def visible(store: Store, review: Review, login: str) -> bool:
    """Pending reviews (and their comments) are visible only to their author."""
    return review.state != "PENDING" or review.user == login


def add_review_comment(
    store: Store,
    repo: Repo,
    pr: PullRequest,
    review: Review,
    *,
    user: str,
    placement: Placement,
    body: str,
    commit_id: str,
    now: float,
    in_reply_to: ReviewComment | None = None,
) -> ReviewComment:
    outdated = is_outdated(repo, pr, placement.path, commit_id)
    comment = ReviewComment(
        id=store.next_id(),
        repo=repo.full_name,
        pr_number=pr.number,
        review_id=review.id,
        user=user,
        body=body,
        path=placement.path,
        commit_id=commit_id if outdated else pr.head_sha,
        original_commit_id=commit_id,
        line=None if outdated else placement.line,
        side=placement.side,
        start_line=None if outdated else placement.start_line,
        start_side=placement.start_side,
        original_line=placement.line,
        original_start_line=placement.start_line,
        position=None if outdated else placement.position,
        original_position=placement.position,
        diff_hunk=placement.diff_hunk,
        subject_type="file" if placement.subject_type == "file" else "line",
        in_reply_to_id=in_reply_to.id if in_reply_to else None,
        thread_id=in_reply_to.thread_id if in_reply_to else 0,
        created_at=now,
        updated_at=now,
        outdated=outdated,
    )
    store.review_comments[comment.id] = comment
    if in_reply_to is None:
        thread = ReviewThread(id=store.next_id(), repo=repo.full_name, pr_number=pr.number, comment_ids=[])
        store.threads[thread.id] = thread
        comment.thread_id = thread.id
    store.threads[comment.thread_id].comment_ids.append(comment.id)
    return comment


def thread_root(store: Store, comment: ReviewComment) -> ReviewComment:
    return store.review_comments[store.threads[comment.thread_id].comment_ids[0]]


def reply_placement(root: ReviewComment) -> Placement:
    """Replies sit where their thread's first comment was placed."""
    return Placement(
        root.path,
        root.original_line,
        root.side,
        root.original_start_line,
        root.start_side,
        root.original_position,
        root.diff_hunk,
        root.subject_type,
    )


def new_review(
    store: Store,
    repo: Repo,
    pr: PullRequest,
    *,
    user: str,
    state: ReviewState,
    body: str,
    commit_id: str,
    now: float,
) -> Review:
    review = Review(
        id=store.next_id(),
        repo=repo.full_name,
        pr_number=pr.number,
        user=user,
        body=body,
        state=state,
        commit_id=commit_id,
        submitted_at=None if state == "PENDING" else now,
        created_at=now,
    )
    store.reviews[review.id] = review
    return review


def _check_event(pr: PullRequest, actor: str, event: str | None, body: str, has_comments: bool) -> None:
    if event in ("APPROVE", "REQUEST_CHANGES") and actor.lower() == pr.author.lower():
        verb = "approve" if event == "APPROVE" else "request changes on"
        raise unprocessable(f"Can not {verb} your own pull request")
    if event in ("COMMENT", "REQUEST_CHANGES") and not body and not has_comments:
        raise unprocessable(BODY_REQUIRED)


def _pr(ctx: Context) -> tuple[Repo, PullRequest]:
    repo = ctx.repo()
    return repo, ctx.store.pull(repo, ctx.params["pull_number"])


def _review(ctx: Context, pr: PullRequest) -> Review:
    review = ctx.store.review(pr, ctx.params["review_id"])
    if not visible(ctx.store, review, ctx.actor):
        raise not_found()
    return review


def _comment(ctx: Context) -> tuple[Repo, ReviewComment]:
    repo = ctx.repo()
    comment = ctx.store.review_comment(repo, ctx.params["comment_id"])
    if not visible(ctx.store, ctx.store.reviews[comment.review_id], ctx.actor):
        raise not_found()
    return repo, comment


# -- reviews --------------------------------------------------------------------------------------


@handles("pulls/create-review")
def create_review(ctx: Context) -> Response:
    repo, pr = _pr(ctx)
    body: str = ctx.field("body", "")
    event: str | None = ctx.field("event", None)
    specs: list[dict[str, Any]] = ctx.field("comments", [])
    commit_id: str = ctx.field("commit_id", pr.head_sha)
    require_body_length(body)
    for spec in specs:
        require_body_length(spec["body"])
    if commit_id not in pr_commits(repo, pr):
        raise unprocessable(COMMIT_NOT_IN_PR)
    if any(
        r.state == "PENDING" and r.user == ctx.actor and (r.repo, r.pr_number) == (pr.repo, pr.number)
        for r in ctx.store.reviews.values()
    ):
        raise unprocessable(ONE_PENDING)
    _check_event(pr, ctx.actor, event, body, bool(specs))
    files = files_at(ctx.store, repo, pr, commit_id)
    try:
        # Place every comment before creating anything: one bad line fails the whole review.
        placements = [place(files, spec) for spec in specs]
    except PlacementError as exc:
        raise unprocessable(exc.rejection.sentence) from exc
    state: ReviewState = EVENT_STATES[event] if event else "PENDING"
    review = new_review(
        ctx.store, repo, pr, user=ctx.actor, state=state, body=body, commit_id=commit_id, now=ctx.now
    )
    for spec, placement in zip(specs, placements, strict=True):
        add_review_comment(
            ctx.store,
            repo,
            pr,
            review,
            user=ctx.actor,
            placement=placement,
            body=spec["body"],
            commit_id=commit_id,
            now=ctx.now,
        )
    return Response(200, ctx.render.review(review))


@handles("pulls/list-reviews")
def list_reviews(ctx: Context) -> Response:
    _, pr = _pr(ctx)
    reviews = sorted(
        (
            r
            for r in ctx.store.reviews.values()
            if (r.repo, r.pr_number) == (pr.repo, pr.number) and visible(ctx.store, r, ctx.actor)
        ),
        key=lambda r: r.id,
    )
    return ctx.paginate(reviews, ctx.render.review)


@handles("pulls/get-review")
def get_review(ctx: Context) -> Response:
    _, pr = _pr(ctx)
    return Response(200, ctx.render.review(_review(ctx, pr)))


@handles("pulls/submit-review")
def submit_review(ctx: Context) -> Response:
    _, pr = _pr(ctx)
    review = _review(ctx, pr)
    if review.state != "PENDING":
        raise unprocessable("Can not submit a non-pending pull request review")
    body: str = ctx.field("body", review.body)
    event: str = ctx.body["event"]
    has_comments = any(c.review_id == review.id for c in ctx.store.review_comments.values())
    require_body_length(body)
    _check_event(pr, ctx.actor, event, body, has_comments)
    review.body = body
    review.state = EVENT_STATES[event]
    review.submitted_at = ctx.now
    return Response(200, ctx.render.review(review))


@handles("pulls/delete-pending-review")
def delete_pending_review(ctx: Context) -> Response:
    _, pr = _pr(ctx)
    review = _review(ctx, pr)
    if review.state != "PENDING":
        raise unprocessable("Can not delete a non-pending pull request review")
    rendered = ctx.render.review(review)
    for comment in [c for c in ctx.store.review_comments.values() if c.review_id == review.id]:
        _delete_comment(ctx, comment)
    del ctx.store.reviews[review.id]
    return Response(200, rendered)


@handles("pulls/dismiss-review")
def dismiss_review(ctx: Context) -> Response:
    _, pr = _pr(ctx)
    review = _review(ctx, pr)
    if review.state not in ("APPROVED", "CHANGES_REQUESTED"):
        label = {"COMMENTED": "commented", "DISMISSED": "dismissed", "PENDING": "pending"}[review.state]
        raise unprocessable(f"Can not dismiss a {label} pull request review")
    review.state = "DISMISSED"
    return Response(200, ctx.render.review(review))


@handles("pulls/list-comments-for-review")
def list_comments_for_review(ctx: Context) -> Response:
    _, pr = _pr(ctx)
    review = _review(ctx, pr)
    comments = sorted(
        (c for c in ctx.store.review_comments.values() if c.review_id == review.id), key=lambda c: c.id
    )
    return ctx.paginate(comments, ctx.render.review_comment)


# -- review comments ------------------------------------------------------------------------------


@handles("pulls/list-review-comments")
def list_review_comments(ctx: Context) -> Response:
    _, pr = _pr(ctx)
    since = ctx.since()
    comments = [
        c
        for c in ctx.store.review_comments.values()
        if (c.repo, c.pr_number) == (pr.repo, pr.number)
        and visible(ctx.store, ctx.store.reviews[c.review_id], ctx.actor)
        and (since is None or c.updated_at >= since)
    ]
    key = (lambda c: (c.updated_at, c.id)) if ctx.params.get("sort") == "updated" else (lambda c: (c.id, 0))
    comments.sort(key=key, reverse=ctx.params.get("direction") == "desc")
    return ctx.paginate(comments, ctx.render.review_comment)


@handles("pulls/create-review-comment")
def create_review_comment(ctx: Context) -> Response:
    repo, pr = _pr(ctx)
    body: str = ctx.body["body"]
    require_body_length(body, "PullRequestReviewComment")
    reply_to_id: int | None = ctx.field("in_reply_to", None)
    if reply_to_id is not None:
        # "When using in_reply_to, all parameters other than body are ignored."
        parent = ctx.store.review_comments.get(reply_to_id)
        if parent is None or (parent.repo, parent.pr_number) != (pr.repo, pr.number):
            raise not_found()
        root = thread_root(ctx.store, parent)
        placement = reply_placement(root)
        commit_id = root.original_commit_id
    else:
        commit_id = ctx.body["commit_id"]
        if commit_id not in pr_commits(repo, pr):
            raise ApiError(
                422,
                "Validation Failed",
                errors=[
                    {
                        "resource": "PullRequestReviewComment",
                        "code": "custom",
                        "field": "commit_id",
                        "message": "commit_id is not part of the pull request",
                    }
                ],
            )
        files = files_at(ctx.store, repo, pr, commit_id)
        try:
            placement = place(files, ctx.body, file_level=ctx.field("subject_type", "line") == "file")
        except PlacementError as exc:
            raise ApiError(422, "Validation Failed", errors=[exc.rejection.as_error_object()]) from exc
        root = None
    review = new_review(
        ctx.store, repo, pr, user=ctx.actor, state="COMMENTED", body="", commit_id=commit_id, now=ctx.now
    )
    comment = add_review_comment(
        ctx.store,
        repo,
        pr,
        review,
        user=ctx.actor,
        placement=placement,
        body=body,
        commit_id=commit_id,
        now=ctx.now,
        in_reply_to=root,
    )
    return Response(201, ctx.render.review_comment(comment))


@handles("pulls/get-review-comment")
def get_review_comment(ctx: Context) -> Response:
    _, comment = _comment(ctx)
    return Response(200, ctx.render.review_comment(comment))


@handles("pulls/update-review-comment")
def update_review_comment(ctx: Context) -> Response:
    _, comment = _comment(ctx)
    require_body_length(ctx.body["body"], "PullRequestReviewComment")
    comment.body = ctx.body["body"]
    comment.updated_at = ctx.now
    return Response(200, ctx.render.review_comment(comment))


def _delete_comment(ctx: Context, comment: ReviewComment) -> None:
    del ctx.store.review_comments[comment.id]
    ctx.store.review_comment_reactions.pop(comment.id, None)
    thread = ctx.store.threads[comment.thread_id]
    thread.comment_ids.remove(comment.id)
    if not thread.comment_ids:
        del ctx.store.threads[thread.id]


@handles("pulls/delete-review-comment")
def delete_review_comment(ctx: Context) -> Response:
    _, comment = _comment(ctx)
    _delete_comment(ctx, comment)
    return Response(204)


@handles("reactions/create-for-pull-request-review-comment")
def react_to_review_comment(ctx: Context) -> Response:
    _, comment = _comment(ctx)
    reactions = ctx.store.review_comment_reactions.setdefault(comment.id, [])
    return react(ctx, reactions)


def react(ctx: Context, reactions: list[Reaction]) -> Response:
    """Create a reaction; 200 with the existing one if this user already reacted with that content."""
    content: str = ctx.body["content"]
    for reaction in reactions:
        if reaction.user == ctx.actor and reaction.content == content:
            return Response(200, ctx.render.reaction(reaction))
    reaction = Reaction(ctx.store.next_id(), ctx.actor, content, ctx.now)
    reactions.append(reaction)
    return Response(201, ctx.render.reaction(reaction))
