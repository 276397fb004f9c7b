"""JSON representations of emulator records, shaped like api.github.com responses.

API URLs point at the emulator (so PyGithub can follow `url` fields back to it); web URLs point at
github.com like the real ones do.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from bot.testing.github_emulator.clock import iso8601
from bot.testing.github_emulator.diff import FileChange, blob_sha
from bot.testing.github_emulator.state import (
    Annotation,
    App,
    CheckRun,
    Installation,
    IssueComment,
    PullRequest,
    Reaction,
    Repo,
    Review,
    ReviewComment,
    Store,
    node_id,
)

WEB = "https://github.com"
REACTION_CONTENTS = ("+1", "-1", "laugh", "confused", "heart", "hooray", "eyes", "rocket")
_WRITE_LEVELS = ("admin", "maintain", "write")


def _ts(value: float | None) -> str | None:
    return iso8601(value) if value is not None else None


class Renderer:
    def __init__(self, api: str, store: Store) -> None:
        self.api = api.rstrip("/")
        self.store = store

    # -- accounts ----------------------------------------------------------------------------------

    def user(self, login: str) -> dict[str, Any]:
        user = self.store.user(login)
        api = f"{self.api}/users/{quote(user.login)}"
        is_bot = user.type == "Bot"
        return {
            "login": user.login,
            "id": user.id,
            "node_id": node_id("BOT" if is_bot else "U", user.id),
            "avatar_url": f"https://avatars.githubusercontent.com/u/{user.id}?v=4",
            "gravatar_id": "",
            "url": api,
            "html_url": f"{WEB}/apps/{user.login.removesuffix('[bot]')}" if is_bot else f"{WEB}/{user.login}",
            "followers_url": f"{api}/followers",
            "following_url": f"{api}/following{{/other_user}}",
            "gists_url": f"{api}/gists{{/gist_id}}",
            "starred_url": f"{api}/starred{{/owner}}{{/repo}}",
            "subscriptions_url": f"{api}/subscriptions",
            "organizations_url": f"{api}/orgs",
            "repos_url": f"{api}/repos",
            "events_url": f"{api}/events{{/privacy}}",
            "received_events_url": f"{api}/received_events",
            "type": user.type,
            "user_view_type": "public",
            "site_admin": False,
        }

    def app(self, app: App) -> dict[str, Any]:
        return {
            "id": app.id,
            "slug": app.slug,
            "node_id": node_id("A", app.id),
            "client_id": app.client_id,
            "owner": self.user(app.owner),
            "name": app.name,
            "description": f"{app.name} (emulated)",
            "external_url": f"{WEB}/apps/{app.slug}",
            "html_url": f"{WEB}/apps/{app.slug}",
            "created_at": iso8601(app.created_at),
            "updated_at": iso8601(app.created_at),
            "permissions": dict(app.permissions),
            "events": list(app.events),
            "installations_count": sum(1 for i in self.store.installations.values() if i.app_id == app.id),
        }

    def installation(self, installation: Installation) -> dict[str, Any]:
        app = self.store.apps[installation.app_id]
        account = self.store.user(installation.account)
        return {
            "id": installation.id,
            "account": self.user(account.login),
            "repository_selection": "all" if installation.repositories is None else "selected",
            "access_tokens_url": f"{self.api}/app/installations/{installation.id}/access_tokens",
            "repositories_url": f"{self.api}/installation/repositories",
            "html_url": f"{WEB}/settings/installations/{installation.id}",
            "app_id": app.id,
            "app_slug": app.slug,
            "target_id": account.id,
            "target_type": account.type if account.type != "Bot" else "User",
            "permissions": dict(installation.permissions),
            "events": list(app.events),
            "created_at": iso8601(installation.created_at),
            "updated_at": iso8601(installation.created_at),
            "single_file_name": None,
            "has_multiple_single_files": False,
            "single_file_paths": [],
            "suspended_by": None,
            "suspended_at": None,
        }

    # -- repositories ------------------------------------------------------------------------------

    def repo(self, repo: Repo, *, full: bool = False) -> dict[str, Any]:
        api = f"{self.api}/repos/{repo.full_name}"
        web = f"{WEB}/{repo.full_name}"
        created = iso8601(repo.created_at)
        data: dict[str, Any] = {
            "id": repo.id,
            "node_id": node_id("R", repo.id),
            "name": repo.name,
            "full_name": repo.full_name,
            "private": repo.private,
            "owner": self.user(repo.owner),
            "html_url": web,
            "description": None,
            "fork": repo.fork_of is not None,
            "url": api,
            "archive_url": f"{api}/{{archive_format}}{{/ref}}",
            "assignees_url": f"{api}/assignees{{/user}}",
            "blobs_url": f"{api}/git/blobs{{/sha}}",
            "branches_url": f"{api}/branches{{/branch}}",
            "collaborators_url": f"{api}/collaborators{{/collaborator}}",
            "comments_url": f"{api}/comments{{/number}}",
            "commits_url": f"{api}/commits{{/sha}}",
            "compare_url": f"{api}/compare/{{base}}...{{head}}",
            "contents_url": f"{api}/contents/{{+path}}",
            "contributors_url": f"{api}/contributors",
            "deployments_url": f"{api}/deployments",
            "downloads_url": f"{api}/downloads",
            "events_url": f"{api}/events",
            "forks_url": f"{api}/forks",
            "git_commits_url": f"{api}/git/commits{{/sha}}",
            "git_refs_url": f"{api}/git/refs{{/sha}}",
            "git_tags_url": f"{api}/git/tags{{/sha}}",
            "git_url": f"git://github.com/{repo.full_name}.git",
            "issue_comment_url": f"{api}/issues/comments{{/number}}",
            "issue_events_url": f"{api}/issues/events{{/number}}",
            "issues_url": f"{api}/issues{{/number}}",
            "keys_url": f"{api}/keys{{/key_id}}",
            "labels_url": f"{api}/labels{{/name}}",
            "languages_url": f"{api}/languages",
            "merges_url": f"{api}/merges",
            "milestones_url": f"{api}/milestones{{/number}}",
            "notifications_url": f"{api}/notifications{{?since,all,participating}}",
            "pulls_url": f"{api}/pulls{{/number}}",
            "releases_url": f"{api}/releases{{/id}}",
            "ssh_url": f"git@github.com:{repo.full_name}.git",
            "stargazers_url": f"{api}/stargazers",
            "statuses_url": f"{api}/statuses/{{sha}}",
            "subscribers_url": f"{api}/subscribers",
            "subscription_url": f"{api}/subscription",
            "tags_url": f"{api}/tags",
            "teams_url": f"{api}/teams",
            "trees_url": f"{api}/git/trees{{/sha}}",
            "clone_url": f"{web}.git",
            "mirror_url": None,
            "hooks_url": f"{api}/hooks",
            "svn_url": web,
            "homepage": None,
            "language": "Dockerfile",
            "forks_count": 0,
            "forks": 0,
            "stargazers_count": 0,
            "watchers_count": 0,
            "watchers": 0,
            "size": sum(len(b) for b in repo.commits[repo.branches[repo.default_branch]].tree.values())
            // 1024,
            "default_branch": repo.default_branch,
            "open_issues_count": sum(
                1
                for (name, _), pr in self.store.pulls.items()
                if name == repo.full_name.lower() and pr.state == "open"
            ),
            "open_issues": 0,
            "is_template": False,
            "topics": [],
            "has_issues": True,
            "has_projects": True,
            "has_wiki": True,
            "has_pages": False,
            "has_downloads": True,
            "has_discussions": False,
            "archived": False,
            "disabled": False,
            "visibility": "private" if repo.private else "public",
            "pushed_at": created,
            "created_at": created,
            "updated_at": created,
            "allow_forking": True,
            "web_commit_signoff_required": False,
            "license": None,
        }
        data["open_issues"] = data["open_issues_count"]
        if full:
            data["network_count"] = 0
            data["subscribers_count"] = 0
            if repo.fork_of is not None:
                parent = self.store.repos[repo.fork_of.lower()]
                data["parent"] = data["source"] = self.repo(parent)
        return data

    def content_file(self, repo: Repo, path: str, ref: str, content: bytes, encoded: str) -> dict[str, Any]:
        sha = blob_sha(content)
        api = f"{self.api}/repos/{repo.full_name}"
        url = f"{api}/contents/{quote(path)}?ref={quote(ref)}"
        git_url = f"{api}/git/blobs/{sha}"
        html_url = f"{WEB}/{repo.full_name}/blob/{ref}/{quote(path)}"
        return {
            "type": "file",
            "encoding": "base64",
            "size": len(content),
            "name": path.rsplit("/", 1)[-1],
            "path": path,
            "content": encoded,
            "sha": sha,
            "url": url,
            "git_url": git_url,
            "html_url": html_url,
            "download_url": f"https://raw.githubusercontent.com/{repo.full_name}/{ref}/{quote(path)}",
            "_links": {"self": url, "git": git_url, "html": html_url},
        }

    def permission(self, repo: Repo, login: str, level: str) -> dict[str, Any]:
        user = self.user(login)
        role = {
            "admin": "admin",
            "maintain": "maintain",
            "write": "write",
            "triage": "triage",
            "read": "read",
        }.get(level, "read")
        user["role_name"] = role
        user["permissions"] = {
            "admin": level == "admin",
            "maintain": level in ("admin", "maintain"),
            "push": level in _WRITE_LEVELS,
            "triage": level in (*_WRITE_LEVELS, "triage"),
            "pull": level != "none",
        }
        # The legacy `permission` field folds maintain into write and triage into read.
        legacy = {"maintain": "write", "triage": "read"}.get(level, level)
        return {"permission": legacy, "role_name": role, "user": user}

    def author_association(self, repo: Repo, login: str) -> str:
        if login.lower() == repo.owner.lower():
            return "OWNER"
        if repo.permissions.get(login.lower(), "none") in (*_WRITE_LEVELS, "triage"):
            return "COLLABORATOR"
        if login.endswith("[bot]"):
            return "NONE"
        if any(
            pr.author.lower() == login.lower()
            for pr in self.store.pulls.values()
            if pr.repo == repo.full_name
        ):
            return "CONTRIBUTOR"
        return "NONE"

    # -- pull requests -----------------------------------------------------------------------------

    def _branch(self, repo_name: str, ref: str, sha: str) -> dict[str, Any]:
        repo = self.store.repos[repo_name.lower()]
        return {
            "label": f"{repo.owner}:{ref}",
            "ref": ref,
            "sha": sha,
            "user": self.user(repo.owner),
            "repo": self.repo(repo),
        }

    def pull(self, pr: PullRequest) -> dict[str, Any]:
        repo = self.store.repos[pr.repo.lower()]
        api = f"{self.api}/repos/{repo.full_name}"
        url = f"{api}/pulls/{pr.number}"
        web = f"{WEB}/{repo.full_name}/pull/{pr.number}"
        issue_url = f"{api}/issues/{pr.number}"
        additions = sum(f.additions for f in pr.files)
        deletions = sum(f.deletions for f in pr.files)
        reviews_comments = [
            c for c in self.store.review_comments.values() if (c.repo, c.pr_number) == (pr.repo, pr.number)
        ]
        issue_comments = [
            c for c in self.store.issue_comments.values() if (c.repo, c.issue_number) == (pr.repo, pr.number)
        ]
        commits = 0
        sha: str | None = pr.head_sha
        while sha is not None and sha != pr.base_sha and sha in repo.commits:
            commits += 1
            sha = repo.commits[sha].parent
        return {
            "url": url,
            "id": pr.id,
            "node_id": node_id("PR", pr.id),
            "html_url": web,
            "diff_url": f"{web}.diff",
            "patch_url": f"{web}.patch",
            "issue_url": issue_url,
            "commits_url": f"{url}/commits",
            "review_comments_url": f"{url}/comments",
            "review_comment_url": f"{api}/pulls/comments{{/number}}",
            "comments_url": f"{issue_url}/comments",
            "statuses_url": f"{api}/statuses/{pr.head_sha}",
            "number": pr.number,
            "state": pr.state,
            "locked": False,
            "title": pr.title,
            "user": self.user(pr.author),
            "body": pr.body,
            "labels": [],
            "milestone": None,
            "active_lock_reason": None,
            "created_at": iso8601(pr.created_at),
            "updated_at": iso8601(pr.updated_at),
            "closed_at": None,
            "merged_at": None,
            "merge_commit_sha": None,
            "assignee": None,
            "assignees": [],
            "requested_reviewers": [],
            "requested_teams": [],
            "head": self._branch(pr.head_repo, pr.head_ref, pr.head_sha),
            "base": self._branch(pr.repo, pr.base_ref, pr.base_sha),
            "_links": {
                "self": {"href": url},
                "html": {"href": web},
                "issue": {"href": issue_url},
                "comments": {"href": f"{issue_url}/comments"},
                "review_comments": {"href": f"{url}/comments"},
                "review_comment": {"href": f"{api}/pulls/comments{{/number}}"},
                "commits": {"href": f"{url}/commits"},
                "statuses": {"href": f"{api}/statuses/{pr.head_sha}"},
            },
            "author_association": self.author_association(repo, pr.author),
            "auto_merge": None,
            "draft": pr.draft,
            "merged": False,
            "mergeable": True,
            "rebaseable": True,
            "mergeable_state": "draft" if pr.draft else "clean",
            "merged_by": None,
            "comments": len(issue_comments),
            "review_comments": len(reviews_comments),
            "maintainer_can_modify": pr.head_repo != pr.repo,
            "commits": commits,
            "additions": additions,
            "deletions": deletions,
            "changed_files": len(pr.files),
        }

    def file(self, pr: PullRequest, change: FileChange) -> dict[str, Any]:
        path = quote(change.filename)
        data: dict[str, Any] = {
            "sha": change.sha,
            "filename": change.filename,
            "status": change.status,
            "additions": change.additions,
            "deletions": change.deletions,
            "changes": change.additions + change.deletions,
            "blob_url": f"{WEB}/{pr.repo}/blob/{pr.head_sha}/{path}",
            "raw_url": f"{WEB}/{pr.repo}/raw/{pr.head_sha}/{path}",
            "contents_url": f"{self.api}/repos/{pr.repo}/contents/{path}?ref={pr.head_sha}",
        }
        if change.patch is not None:
            data["patch"] = change.patch
        if change.previous_filename is not None:
            data["previous_filename"] = change.previous_filename
        return data

    def review(self, review: Review) -> dict[str, Any]:
        repo = self.store.repos[review.repo.lower()]
        web = f"{WEB}/{repo.full_name}/pull/{review.pr_number}#pullrequestreview-{review.id}"
        pr_url = f"{self.api}/repos/{repo.full_name}/pulls/{review.pr_number}"
        data: dict[str, Any] = {
            "id": review.id,
            "node_id": node_id("PRR", review.id),
            "user": self.user(review.user),
            "body": review.body,
            "state": review.state,
            "html_url": web,
            "pull_request_url": pr_url,
            "author_association": self.author_association(repo, review.user),
            "_links": {"html": {"href": web}, "pull_request": {"href": pr_url}},
            "commit_id": review.commit_id,
        }
        if review.submitted_at is not None:
            data["submitted_at"] = iso8601(review.submitted_at)
        return data

    def reactions_rollup(self, url: str, reactions: list[Reaction]) -> dict[str, Any]:
        rollup: dict[str, Any] = {"url": url, "total_count": len(reactions)}
        for content in REACTION_CONTENTS:
            rollup[content] = sum(1 for r in reactions if r.content == content)
        return rollup

    def review_comment(self, comment: ReviewComment) -> dict[str, Any]:
        repo = self.store.repos[comment.repo.lower()]
        url = f"{self.api}/repos/{repo.full_name}/pulls/comments/{comment.id}"
        web = f"{WEB}/{repo.full_name}/pull/{comment.pr_number}#discussion_r{comment.id}"
        pr_url = f"{self.api}/repos/{repo.full_name}/pulls/{comment.pr_number}"
        data: dict[str, Any] = {
            "url": url,
            "pull_request_review_id": comment.review_id,
            "id": comment.id,
            "node_id": node_id("PRRC", comment.id),
            "diff_hunk": comment.diff_hunk,
            "path": comment.path,
            "position": comment.position,
            "original_position": comment.original_position,
            "commit_id": comment.commit_id,
            "original_commit_id": comment.original_commit_id,
            "user": self.user(comment.user),
            "body": comment.body,
            "created_at": iso8601(comment.created_at),
            "updated_at": iso8601(comment.updated_at),
            "html_url": web,
            "pull_request_url": pr_url,
            "author_association": self.author_association(repo, comment.user),
            "_links": {"self": {"href": url}, "html": {"href": web}, "pull_request": {"href": pr_url}},
            "reactions": self.reactions_rollup(
                f"{url}/reactions", self.store.review_comment_reactions.get(comment.id, [])
            ),
            "start_line": comment.start_line,
            "original_start_line": comment.original_start_line,
            "start_side": comment.start_side,
            "line": comment.line,
            "original_line": comment.original_line,
            "side": comment.side,
            "subject_type": comment.subject_type,
        }
        if comment.in_reply_to_id is not None:
            data["in_reply_to_id"] = comment.in_reply_to_id
        return data

    # -- checks ------------------------------------------------------------------------------------

    def check_run(self, run: CheckRun) -> dict[str, Any]:
        api = f"{self.api}/repos/{run.repo}/check-runs/{run.id}"
        app = self.store.apps.get(run.app_id) if run.app_id is not None else None
        prs = [
            pr
            for pr in self.store.pulls.values()
            if pr.repo == run.repo and pr.head_sha == run.head_sha and pr.head_repo == pr.repo
        ]
        return {
            "id": run.id,
            "head_sha": run.head_sha,
            "node_id": node_id("CR", run.id),
            "external_id": run.external_id,
            "url": api,
            "html_url": f"{WEB}/{run.repo}/runs/{run.id}",
            "details_url": run.details_url,
            "status": run.status,
            "conclusion": run.conclusion,
            "started_at": _ts(run.started_at),
            "completed_at": _ts(run.completed_at),
            "output": {
                "title": run.title,
                "summary": run.summary,
                "text": run.text,
                "annotations_count": len(run.annotations),
                "annotations_url": f"{api}/annotations",
            },
            "name": run.name,
            "check_suite": {"id": run.check_suite_id},
            "app": self.app(app) if app is not None else None,
            # GitHub leaves this empty for PRs from forks (the head SHA is not on a base-repo branch).
            "pull_requests": [self._check_pr(pr) for pr in prs],
        }

    def _check_pr(self, pr: PullRequest) -> dict[str, Any]:
        repo = self.store.repos[pr.repo.lower()]
        mini = {"id": repo.id, "url": f"{self.api}/repos/{repo.full_name}", "name": repo.name}
        return {
            "id": pr.id,
            "number": pr.number,
            "url": f"{self.api}/repos/{repo.full_name}/pulls/{pr.number}",
            "head": {"ref": pr.head_ref, "sha": pr.head_sha, "repo": mini},
            "base": {"ref": pr.base_ref, "sha": pr.base_sha, "repo": mini},
        }

    def annotation(self, run: CheckRun, annotation: Annotation) -> dict[str, Any]:
        return {
            "path": annotation.path,
            "blob_href": f"{WEB}/{run.repo}/blob/{run.head_sha}/{quote(annotation.path)}",
            "start_line": annotation.start_line,
            "end_line": annotation.end_line,
            "start_column": annotation.start_column,
            "end_column": annotation.end_column,
            "annotation_level": annotation.annotation_level,
            "title": annotation.title,
            "message": annotation.message,
            "raw_details": annotation.raw_details,
        }

    # -- issue comments and reactions --------------------------------------------------------------

    def issue_comment(self, comment: IssueComment) -> dict[str, Any]:
        repo = self.store.repos[comment.repo.lower()]
        api = f"{self.api}/repos/{repo.full_name}"
        url = f"{api}/issues/comments/{comment.id}"
        app = self.store.apps.get(comment.performed_via_app) if comment.performed_via_app else None
        return {
            "id": comment.id,
            "node_id": node_id("IC", comment.id),
            "url": url,
            "html_url": f"{WEB}/{repo.full_name}/pull/{comment.issue_number}#issuecomment-{comment.id}",
            "body": comment.body,
            "user": self.user(comment.user),
            "created_at": iso8601(comment.created_at),
            "updated_at": iso8601(comment.updated_at),
            "issue_url": f"{api}/issues/{comment.issue_number}",
            "author_association": self.author_association(repo, comment.user),
            "performed_via_github_app": self.app(app) if app is not None else None,
            "reactions": self.reactions_rollup(f"{url}/reactions", comment.reactions),
        }

    def reaction(self, reaction: Reaction) -> dict[str, Any]:
        return {
            "id": reaction.id,
            "node_id": node_id("REA", reaction.id),
            "user": self.user(reaction.user),
            "content": reaction.content,
            "created_at": iso8601(reaction.created_at),
        }
