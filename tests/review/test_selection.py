"""Which changed files are reviewed."""

from __future__ import annotations

from bot.config import RepoConfig
from bot.review.model import ChangedFile
from bot.review.selection import select_dockerfiles


def changed(*paths: str, status: str = "modified") -> list[ChangedFile]:
    return [ChangedFile(path, status, "@@ -1 +1 @@\n-a\n+b") for path in paths]


def test_dockerfile_names_as_mountie_check_finds_them() -> None:
    files = changed(
        "Dockerfile",
        "api/Dockerfile.prod",
        "web/app.dockerfile",
        "Containerfile",
        "README.md",
        "Dockerfile.dockerignore",
        "docker/build.sh",
    )
    chosen = [f.path for f in select_dockerfiles(files, RepoConfig())]
    assert chosen == ["Dockerfile", "api/Dockerfile.prod", "web/app.dockerfile", "Containerfile"]


def test_configuration_globs_add_and_drop_files() -> None:
    config = RepoConfig(include=("docker/*.df",), exclude=("vendor/**",))
    files = changed("docker/base.df", "docker/x/nested.df", "vendor/lib/Dockerfile", "Dockerfile")
    assert [f.path for f in select_dockerfiles(files, config)] == ["docker/base.df", "Dockerfile"]


def test_removed_files_are_not_reviewed_and_renamed_ones_are() -> None:
    files = [*changed("old/Dockerfile", status="removed"), *changed("new/Dockerfile", status="renamed")]
    assert [f.path for f in select_dockerfiles(files, RepoConfig())] == ["new/Dockerfile"]
