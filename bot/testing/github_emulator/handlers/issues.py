"""Issue (PR conversation) comments and their reactions. Only pull requests exist as issues here."""

from __future__ import annotations

from bot.testing.github_emulator.context import Context, Response, require_body_length
from bot.testing.github_emulator.handlers.registry import handles
from bot.testing.github_emulator.handlers.reviews import react
from bot.testing.github_emulator.state import IssueComment, Repo


def _comment(ctx: Context) -> tuple[Repo, IssueComment]:
    repo = ctx.repo()
    return repo, ctx.store.issue_comment(repo, ctx.params["comment_id"])


@handles("issues/list-comments")
def list_comments(ctx: Context) -> Response:
    repo = ctx.repo()
    pr = ctx.store.pull(repo, ctx.params["issue_number"])
    since = ctx.since()
    comments = sorted(
        (
            c
            for c in ctx.store.issue_comments.values()
            if (c.repo, c.issue_number) == (pr.repo, pr.number) and (since is None or c.updated_at >= since)
        ),
        key=lambda c: c.id,
    )
    return ctx.paginate(comments, ctx.render.issue_comment)


@handles("issues/create-comment")
def create_comment(ctx: Context) -> Response:
    repo = ctx.repo()
    pr = ctx.store.pull(repo, ctx.params["issue_number"])
    body: str = ctx.body["body"]
    require_body_length(body, "IssueComment")
    comment = IssueComment(
        id=ctx.store.next_id(),
        repo=repo.full_name,
        issue_number=pr.number,
        user=ctx.actor,
        body=body,
        created_at=ctx.now,
        updated_at=ctx.now,
        performed_via_app=ctx.principal.app.id if ctx.principal.app else None,
    )
    ctx.store.issue_comments[comment.id] = comment
    return Response(201, ctx.render.issue_comment(comment))


@handles("issues/get-comment")
def get_comment(ctx: Context) -> Response:
    _, comment = _comment(ctx)
    return Response(200, ctx.render.issue_comment(comment))


@handles("issues/update-comment")
def update_comment(ctx: Context) -> Response:
    _, comment = _comment(ctx)
    require_body_length(ctx.body["body"], "IssueComment")
    comment.body = ctx.body["body"]
    comment.updated_at = ctx.now
    return Response(200, ctx.render.issue_comment(comment))


@handles("reactions/list-for-issue-comment")
def list_reactions(ctx: Context) -> Response:
    _, comment = _comment(ctx)
    content = ctx.params.get("content")
    reactions = [r for r in comment.reactions if content is None or r.content == content]
    return ctx.paginate(reactions, ctx.render.reaction)


@handles("reactions/create-for-issue-comment")
def create_reaction(ctx: Context) -> Response:
    _, comment = _comment(ctx)
    return react(ctx, comment.reactions)
