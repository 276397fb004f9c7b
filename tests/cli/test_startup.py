"""`mountie check` stays light: it never imports the GitHub App's dependencies, and one file is
checked well within a start-up budget."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from tests.cli.conftest import CLEAN, MOTIVATING, ROOT, write

HEAVY = (
    "fastapi",
    "uvicorn",
    "github",
    "huey",
    "starlette",
    "pydantic",
    "redis",
    "jwt",
    "httpx",
    "jsonschema",
)

_PROBE = """
import json, sys
from bot.cli import main
code = main(sys.argv[1:])
print(json.dumps({"code": code, "modules": sorted(sys.modules)}), file=sys.stderr)
"""


def _probe(cwd: Path, *arguments: str) -> tuple[int, list[str]]:
    """`mountie ARGUMENTS` in a fresh interpreter: its exit status and every module it imported."""
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *arguments],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        check=False,
    )
    probe = json.loads(done.stderr.strip().splitlines()[-1])
    return int(probe["code"]), list(probe["modules"])


def test_check_imports_none_of_the_app_dependencies(tmp_path: Path) -> None:
    write(tmp_path, "Dockerfile", MOTIVATING)
    for fmt in ("text", "json", "sarif", "github"):
        code, modules = _probe(tmp_path, "check", "-f", fmt, "Dockerfile")
        assert code == 1
        loaded = {name.split(".")[0] for name in modules}
        assert not loaded & set(HEAVY), (fmt, loaded & set(HEAVY))


# Nor what `check` needs only sometimes: the configuration's parser (no configuration here), a
# diff (no fix to show), the pickler (no worker processes), shutil (argparse sizes its help with it).
NOT_FOR_A_CLEAN_FILE = ("bot.config", "difflib", "pickle", "_pickle", "shutil", "multiprocessing")


def test_check_of_a_clean_file_imports_only_what_it_needs(tmp_path: Path) -> None:
    write(tmp_path, "Dockerfile", CLEAN)
    code, modules = _probe(tmp_path, "check", "Dockerfile")
    assert code == 0
    assert not set(modules) & set(NOT_FOR_A_CLEAN_FILE)


def test_worker_processes_import_no_multiprocessing(tmp_path: Path) -> None:
    for index in range(40):
        write(tmp_path, f"s{index}/Dockerfile", MOTIVATING)
    code, modules = _probe(tmp_path, "check", "--jobs", "2", ".")
    assert code == 1
    loaded = {name.split(".")[0] for name in modules}
    assert not loaded & {"multiprocessing", "concurrent", "threading", "subprocess", *HEAVY}


def test_importtime_of_python_m_bot(tmp_path: Path) -> None:
    write(tmp_path, "Dockerfile", MOTIVATING)
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "bot", "check", "Dockerfile"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert done.returncode == 1
    imported = {line.split("|")[-1].strip().split(".")[0] for line in done.stderr.splitlines() if "|" in line}
    assert "bot" in imported
    assert not imported & set(HEAVY)


def test_one_file_is_checked_quickly(tmp_path: Path) -> None:
    """A loose bound (the real budget, 200 ms, is measured by hand; a loaded CI machine varies)."""
    write(tmp_path, "Dockerfile", MOTIVATING)
    command = [sys.executable, "-m", "bot", "check", "Dockerfile"]
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    subprocess.run(command, cwd=tmp_path, capture_output=True, env=env, check=False)  # warm the caches
    timings = []
    for _ in range(3):
        start = time.perf_counter()
        subprocess.run(command, cwd=tmp_path, capture_output=True, env=env, check=False)
        timings.append(time.perf_counter() - start)
    assert min(timings) < 1.0, timings
