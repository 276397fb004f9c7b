"""Repository endpoints: the repo, file contents at a ref, collaborator permission."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import quote

from bot.testing.github_emulator.context import Context, Response
from bot.testing.github_emulator.diff import blob_sha
from bot.testing.github_emulator.errors import ApiError, not_found
from bot.testing.github_emulator.handlers.registry import handles
from bot.testing.github_emulator.render import WEB

MAX_JSON_BLOB = 1024 * 1024  # larger files are only served with the raw/object media types
RAW_MEDIA_TYPE = "application/vnd.github.raw"


@handles("repos/get")
def get_repo(ctx: Context) -> Response:
    return Response(200, ctx.render.repo(ctx.repo(), full=True))


def _base64_lines(content: bytes) -> str:
    # GitHub wraps the base64 `content` at 60 characters per line.
    encoded = base64.b64encode(content).decode()
    return "".join(encoded[i : i + 60] + "\n" for i in range(0, len(encoded), 60))


@handles("repos/get-content")
def get_content(ctx: Context) -> Response:
    repo = ctx.repo()
    ref = ctx.params.get("ref") or repo.default_branch
    commit = repo.resolve(ref)
    if commit is None:
        raise ApiError(404, f"No commit found for the ref {ref}")
    path = ctx.params["path"].strip("/")
    accept = ctx.headers.get("accept", "")
    if path in commit.tree:
        content = commit.tree[path]
        if RAW_MEDIA_TYPE in accept:
            return Response(200, content, {"Content-Type": f"{RAW_MEDIA_TYPE}; charset=utf-8"})
        if len(content) > MAX_JSON_BLOB:
            raise ApiError(
                403,
                "This API returns blobs up to 1 MB in size. The requested blob is too large to "
                "fetch via the API, but you can use the Git Data API to request blobs up to 100 MB "
                "in size.",
                errors=[{"resource": "Blob", "field": "data", "code": "too_large"}],
            )
        return Response(200, ctx.render.content_file(repo, path, ref, content, _base64_lines(content)))
    prefix = path + "/" if path else ""
    children = sorted({p[len(prefix) :].split("/", 1)[0] for p in commit.tree if p.startswith(prefix)})
    if not children:
        raise not_found()
    entries: list[dict[str, Any]] = []
    for name in children:
        child = prefix + name
        is_file = child in commit.tree
        data = commit.tree.get(child, b"")
        api = f"{ctx.render.api}/repos/{repo.full_name}/contents/{quote(child)}?ref={quote(ref)}"
        sha = blob_sha(data) if is_file else blob_sha(child.encode())
        git_url = f"{ctx.render.api}/repos/{repo.full_name}/git/{'blobs' if is_file else 'trees'}/{sha}"
        html = f"{WEB}/{repo.full_name}/{'blob' if is_file else 'tree'}/{ref}/{quote(child)}"
        entries.append(
            {
                "type": "file" if is_file else "dir",
                "size": len(data),
                "name": name,
                "path": child,
                "sha": sha,
                "url": api,
                "git_url": git_url,
                "html_url": html,
                "download_url": f"https://raw.githubusercontent.com/{repo.full_name}/{ref}/{quote(child)}"
                if is_file
                else None,
                "_links": {"self": api, "git": git_url, "html": html},
            }
        )
    return Response(200, entries)


@handles("repos/get-collaborator-permission-level")
def get_permission(ctx: Context) -> Response:
    repo = ctx.repo()
    username = ctx.params["username"]
    if username.lower() not in ctx.store.users:
        raise not_found()
    login = ctx.store.users[username.lower()].login
    if login.lower() == repo.owner.lower():
        level = "admin"
    else:
        # Public repositories give everyone read; private ones give strangers nothing.
        level = repo.permissions.get(login.lower(), "none" if repo.private else "read")
    return Response(200, ctx.render.permission(repo, login, level))
