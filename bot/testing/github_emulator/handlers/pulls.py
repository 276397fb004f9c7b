"""Pull request endpoints: the PR and its changed files."""

from __future__ import annotations

from bot.testing.github_emulator.context import Context, Response
from bot.testing.github_emulator.handlers.registry import handles

MAX_FILES = 3000  # "Responses include a maximum of 3000 files."


@handles("pulls/get")
def get_pull(ctx: Context) -> Response:
    repo = ctx.repo()
    return Response(200, ctx.render.pull(ctx.store.pull(repo, ctx.params["pull_number"])))


@handles("pulls/list-files")
def list_files(ctx: Context) -> Response:
    repo = ctx.repo()
    pr = ctx.store.pull(repo, ctx.params["pull_number"])
    return ctx.paginate(pr.files, lambda change: ctx.render.file(pr, change), max_items=MAX_FILES)
