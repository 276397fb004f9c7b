"""Which names are Dockerfiles: discovery, and the pre-commit hook's `files` regex, agree."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml  # type: ignore[import-untyped,unused-ignore]

from bot.discovery import PRE_COMMIT_FILES, discover, find_dockerignore, is_dockerfile_name

ROOT = Path(__file__).resolve().parents[2]

DOCKERFILES = [
    "Dockerfile",
    "dockerfile",
    "Containerfile",
    "Dockerfile.dev",
    "Dockerfile.prod.arm64",
    "Containerfile.test",
    "api.Dockerfile",
    "api.dockerfile",
    "web.Containerfile",
    "x.y.Dockerfile",
    "Dockerfile.Dockerfile",
]
NOT_DOCKERFILES = [
    "Dockerfile.dockerignore",
    "api.Dockerfile.dockerignore",
    "Containerfile.dockerignore",
    "Dockerfile.orig",
    "Dockerfile.rej",
    "Dockerfile.bak",
    "Dockerfile.swp",
    "Dockerfile~",
    "Dockerfile.dev~",
    "Dockerfile.",
    ".Dockerfile",
    ".dockerignore",
    "DockerfileX",
    "MyDockerfile",
    "dockerfile.py",
    "README.md",
    "docker-compose.yml",
]


@pytest.mark.parametrize("name", DOCKERFILES)
def test_dockerfile_names(name: str) -> None:
    assert is_dockerfile_name(name)
    assert re.search(PRE_COMMIT_FILES, name)
    assert re.search(PRE_COMMIT_FILES, f"services/api/{name}")


@pytest.mark.parametrize("name", NOT_DOCKERFILES)
def test_not_dockerfile_names(name: str) -> None:
    assert not is_dockerfile_name(name)
    assert not re.search(PRE_COMMIT_FILES, name)
    assert not re.search(PRE_COMMIT_FILES, f"services/api/{name}")


def test_pre_commit_hook() -> None:
    [hook] = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "mountie"
    assert hook["entry"] == "mountie check"
    assert hook["language"] == "python"
    assert hook["types"] == ["file"]
    assert hook["files"] == PRE_COMMIT_FILES
    # The hook's entry is the installed console script.
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'mountie = "bot.cli:main"' in pyproject


def test_discover_keeps_order_and_reports_each_missing_path(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "Dockerfile").write_text("FROM a\n")
    (tmp_path / "a.Dockerfile").write_text("FROM a\n")
    targets, errors = discover(["b", "./a.Dockerfile", "-", "gone", "b/Dockerfile"])
    assert [t.path for t in targets] == ["b/Dockerfile", "a.Dockerfile", "-"]
    assert [(e.path, e.message) for e in errors] == [("gone", "no such file or directory")]


def test_symlinked_directories_are_not_followed(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "Dockerfile").write_text("FROM a\n")
    (tmp_path / "real" / "loop").symlink_to(tmp_path / "real")
    targets, errors = discover([str(tmp_path / "real")])
    assert [Path(t.path).name for t in targets] == ["Dockerfile"]
    assert errors == []


def test_find_dockerignore_order(tmp_path: Path) -> None:
    dockerfile = tmp_path / "api.Dockerfile"
    dockerfile.write_text("FROM a\n")
    assert find_dockerignore(str(dockerfile)) is None
    (tmp_path / ".dockerignore").write_text("x\n")
    assert find_dockerignore(str(dockerfile)) == tmp_path / ".dockerignore"
    (tmp_path / "api.Dockerfile.dockerignore").write_text("y\n")
    assert find_dockerignore(str(dockerfile)) == tmp_path / "api.Dockerfile.dockerignore"
