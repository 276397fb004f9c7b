"""Check runs: create, update (annotations accumulate across calls, max 50 per call), read, list."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.testing.github_emulator.context import Context, Response
from bot.testing.github_emulator.errors import ApiError, unprocessable
from bot.testing.github_emulator.handlers.registry import handles
from bot.testing.github_emulator.state import Annotation, CheckRun, Repo


def _timestamp(value: str | None) -> float | None:
    if value is None:
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()


def _suite_id(ctx: Context, repo: Repo, head_sha: str, app_id: int | None) -> int:
    for run in ctx.store.check_runs.values():
        if (run.repo, run.head_sha, run.app_id) == (repo.full_name, head_sha, app_id):
            return run.check_suite_id
    return ctx.store.next_id()


def _apply(ctx: Context, run: CheckRun, body: dict[str, Any]) -> None:
    """Apply create/update fields. GitHub: giving a conclusion marks the run completed."""
    for name in ("name", "details_url", "external_id"):
        if name in body:
            setattr(run, name, body[name])
    if "started_at" in body:
        run.started_at = _timestamp(body["started_at"])
    if "status" in body:
        run.status = body["status"]
    if body.get("conclusion") is not None:
        run.conclusion = body["conclusion"]
        run.status = "completed"
    if run.status == "completed":
        if run.conclusion is None:
            raise unprocessable("Conclusion can't be blank when status is completed")
        run.completed_at = _timestamp(body.get("completed_at")) or run.completed_at or ctx.now
    output = body.get("output")
    if output:
        for name in ("title", "summary", "text"):
            if name in output:
                setattr(run, name, output[name])
        for item in output.get("annotations", []):
            run.annotations.append(
                Annotation(
                    path=item["path"],
                    start_line=item["start_line"],
                    end_line=item["end_line"],
                    annotation_level=item["annotation_level"],
                    message=item["message"],
                    title=item.get("title"),
                    raw_details=item.get("raw_details"),
                    start_column=item.get("start_column"),
                    end_column=item.get("end_column"),
                )
            )
    if "actions" in body:
        run.actions = list(body["actions"])


@handles("checks/create")
def create_check_run(ctx: Context) -> Response:
    repo = ctx.repo()
    head_sha: str = ctx.body["head_sha"]
    if head_sha not in repo.commits:
        raise unprocessable(f"No commit found for SHA: {head_sha}")
    app_id = ctx.principal.app.id if ctx.principal.app else None
    run = CheckRun(
        id=ctx.store.next_id(),
        repo=repo.full_name,
        app_id=app_id,
        name=ctx.body["name"],
        head_sha=head_sha,
        status="queued",
        conclusion=None,
        started_at=ctx.now,
        completed_at=None,
        details_url=None,
        external_id=None,
        title=None,
        summary=None,
        text=None,
        check_suite_id=_suite_id(ctx, repo, head_sha, app_id),
    )
    _apply(ctx, run, ctx.body)
    ctx.store.check_runs[run.id] = run
    return Response(201, ctx.render.check_run(run))


@handles("checks/update")
def update_check_run(ctx: Context) -> Response:
    repo = ctx.repo()
    run = ctx.store.check_run(repo, ctx.params["check_run_id"])
    if ctx.principal.app is None or run.app_id != ctx.principal.app.id:
        raise ApiError(
            403, "Invalid app_id - check run can only be modified by the GitHub App that created it."
        )
    _apply(ctx, run, ctx.body)
    return Response(200, ctx.render.check_run(run))


@handles("checks/get")
def get_check_run(ctx: Context) -> Response:
    repo = ctx.repo()
    return Response(200, ctx.render.check_run(ctx.store.check_run(repo, ctx.params["check_run_id"])))


@handles("checks/list-annotations")
def list_annotations(ctx: Context) -> Response:
    repo = ctx.repo()
    run = ctx.store.check_run(repo, ctx.params["check_run_id"])
    return ctx.paginate(run.annotations, lambda a: ctx.render.annotation(run, a))


@handles("checks/list-for-ref")
def list_for_ref(ctx: Context) -> Response:
    repo = ctx.repo()
    commit = repo.resolve(ctx.params["ref"])
    if commit is None:
        raise unprocessable(f"No commit found for SHA: {ctx.params['ref']}")
    runs = sorted(
        (r for r in ctx.store.check_runs.values() if r.repo == repo.full_name and r.head_sha == commit.sha),
        key=lambda r: -r.id,
    )
    if ctx.params.get("check_name") is not None:
        runs = [r for r in runs if r.name == ctx.params["check_name"]]
    if ctx.params.get("status") is not None:
        runs = [r for r in runs if r.status == ctx.params["status"]]
    if ctx.params.get("app_id") is not None:
        runs = [r for r in runs if r.app_id == ctx.params["app_id"]]
    if ctx.params.get("filter", "latest") == "latest":
        # Only the most recent run per (app, name).
        seen: set[tuple[int | None, str]] = set()
        latest = []
        for run in runs:
            if (run.app_id, run.name) not in seen:
                seen.add((run.app_id, run.name))
                latest.append(run)
        runs = latest
    return ctx.paginate(
        runs, ctx.render.check_run, wrap=lambda page: {"total_count": len(runs), "check_runs": page}
    )
