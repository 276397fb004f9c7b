"""`check` and `fix` read the repository configuration (.github/mountie.yml or .mountie.yml)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.conftest import MOTIVATING, write


def test_disabled_rule(cli, tmp_path: Path) -> None:
    write(tmp_path, "Dockerfile", MOTIVATING)
    write(tmp_path, ".github/mountie.yml", "rules:\n  disable: [BKM001]\n")
    done = cli("check")
    assert (done.code, done.out) == (0, "Checked 1 file: no findings.\n")
    assert cli("check", "--no-config").code == 1


def test_severity_and_fail_level(cli, tmp_path: Path) -> None:
    write(tmp_path, "Dockerfile", MOTIVATING)
    write(tmp_path, ".mountie.yml", "rules:\n  severity:\n    BKM001: warning\nfail-level: error\n")
    done = cli("check", "-f", "json")
    assert done.code == 0
    report = json.loads(done.out)
    assert report["files"][0]["findings"][0]["severity"] == "warning"
    assert report["summary"]["fail_level"] == "error"
    assert cli("check", "--fail-level", "warning").code == 1  # the command line wins


def test_fix_options(cli, tmp_path: Path) -> None:
    path = write(tmp_path, "Dockerfile", MOTIVATING)
    write(tmp_path, ".github/mountie.yml", "fix:\n  move-command: cp\n  destination: /out\n")
    assert cli("fix").code == 0
    fixed = path.read_text()
    assert "cp -a target/release/app /out/app\n" in fixed
    assert "COPY --from=builder /out/app /usr/local/bin/app\n" in fixed


def test_files_include_and_exclude(cli, tmp_path: Path) -> None:
    write(tmp_path, ".mountie.yml", "files:\n  include: ['docker/*.df']\n  exclude: [vendor/**, legacy]\n")
    write(tmp_path, "docker/api.df", MOTIVATING)
    write(tmp_path, "other/api.df", MOTIVATING)
    write(tmp_path, "vendor/x/Dockerfile", MOTIVATING)
    write(tmp_path, "svc/legacy/Dockerfile", MOTIVATING)
    write(tmp_path, "svc/Dockerfile", MOTIVATING)
    report = json.loads(cli("check", "-f", "json").out)
    assert [f["path"] for f in report["files"]] == ["docker/api.df", "svc/Dockerfile"]
    named = cli("check", "-f", "json", "vendor/x/Dockerfile", "svc/Dockerfile")  # pre-commit names files
    assert [f["path"] for f in json.loads(named.out)["files"]] == ["svc/Dockerfile"]


def test_config_is_found_from_a_subdirectory_up_to_the_repository_root(cli, tmp_path, monkeypatch) -> None:
    (tmp_path / ".git").mkdir()
    write(tmp_path, ".github/mountie.yml", "rules:\n  disable: [artifact-in-cache-mount]\n")
    write(tmp_path, "svc/Dockerfile", MOTIVATING)
    monkeypatch.chdir(tmp_path / "svc")
    assert cli("check").code == 0
    # Above the repository root, nothing is looked for.
    write(tmp_path, "inner/.git/HEAD", "ref: refs/heads/main\n")
    write(tmp_path, "inner/Dockerfile", MOTIVATING)
    monkeypatch.chdir(tmp_path / "inner")
    assert cli("check").code == 1


def test_config_mistakes_are_warnings(cli, tmp_path: Path) -> None:
    write(tmp_path, "Dockerfile", MOTIVATING)
    write(tmp_path, ".mountie.yml", "rules:\n  disable: [BKM999]\ncolour: red\n")
    done = cli("check", "--no-fix-diff")
    assert done.code == 1  # the rest of the configuration, and every check, still apply
    assert sorted(done.err.splitlines()) == [
        ".mountie.yml:2: warning: unknown rule BKM999 (ignored)",
        ".mountie.yml:3: warning: unknown key 'colour' in the configuration (expected one of "
        "fail-level, files, fix, rules) (ignored)",
    ]


@pytest.mark.parametrize("command", ["check", "fix"])
def test_missing_config_file(cli, tmp_path: Path, command: str) -> None:
    write(tmp_path, "Dockerfile", MOTIVATING)
    done = cli(command, "--config", "nope.yml")
    assert (done.code, done.out) == (2, "")
    assert done.err == "nope.yml: error: no such configuration file\n"


def test_explicit_config(cli, tmp_path: Path) -> None:
    write(tmp_path, "Dockerfile", MOTIVATING)
    write(tmp_path, "ci/strict.yml", "rules:\n  severity:\n    BKM001: info\n")
    report = json.loads(cli("check", "-f", "json", "--config", "ci/strict.yml").out)
    assert report["files"][0]["findings"][0]["severity"] == "info"
