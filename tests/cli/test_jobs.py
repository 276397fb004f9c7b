"""`--jobs`: many files checked (and fixed) by forked worker processes give exactly what one process
gives, in every format, with the same exit statuses and errors; a worker that dies, or Ctrl-C,
stops the command cleanly. Every run is a real `python -m bot` process."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import bot.cli
import bot.config
import bot.config_locations
import bot.parallel
from tests.cli.conftest import MOTIVATING, ROOT, Run, run_process, write

FIXTURES = ROOT / "tests" / "fixtures" / "rules"

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="workers are forked on Linux")

# Runs `main`, counting the worker processes forked, and with hooks for the tests below:
# MOUNTIE_TEST_DIE (a worker process kills itself with SIGKILL on its first file in `check`, exits
# with status 3 in `fix`), MOUNTIE_TEST_SLOW (seconds per file checked),
# MOUNTIE_TEST_LOG (a file where each process checking a file appends its pid; the parent writes
# `forks N` at the end).
_PROBE = """
import os, signal, sys, time
import bot.cli

parent = os.getpid()
log = os.environ.get("MOUNTIE_TEST_LOG")
forks = 0
real_fork = os.fork

def counting_fork():
    global forks
    forks += 1
    return real_fork()

os.fork = counting_fork
real_check = bot.cli._check_target

def check(target, stdin_filename, settings):
    if log:
        with open(log, "a") as handle:
            handle.write(f"{os.getpid()}\\n")
    if os.getpid() != parent and os.environ.get("MOUNTIE_TEST_DIE"):
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(float(os.environ.get("MOUNTIE_TEST_SLOW", "0")))
    return real_check(target, stdin_filename, settings)

bot.cli._check_target = check
real_fix = bot.cli._fix_target

def fix(target, stdin_filename, settings):
    if os.getpid() != parent and os.environ.get("MOUNTIE_TEST_DIE"):
        os._exit(3)
    return real_fix(target, stdin_filename, settings)

bot.cli._fix_target = fix
code = bot.cli.main(sys.argv[1:])
if log:
    with open(log, "a") as handle:
        handle.write(f"forks {forks}\\n")
sys.exit(code)
"""


def _probe(*args: str, cwd: Path, stdin: bytes = b"", **env: str) -> Run:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        timeout=60,
        check=False,
    )
    return Run(done.returncode, done.stdout.decode("utf-8"), done.stderr.decode("utf-8"))


def _forks(log: Path) -> int:
    return int(log.read_text().splitlines()[-1].removeprefix("forks "))


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """Every rule fixture (about 200 Dockerfiles), plus files that cannot be checked: not UTF-8,
    unparsable, empty, and one that is fine but has an unreadable .dockerignore beside it."""
    root = tmp_path / "tree"
    shutil.copytree(FIXTURES, root)
    write(root, "broken/latin1.Dockerfile", b"FROM alpine\nRUN echo caf\xe9\n")
    write(root, "broken/heredoc.Dockerfile", "FROM alpine\nRUN <<EOF\necho hi\n")
    write(root, "broken/empty.Dockerfile", "")
    write(root, "ignored/Dockerfile", MOTIVATING)
    # A .dockerignore that cannot be read, even by root: reading /proc/self/mem at 0 fails.
    (root / "ignored" / ".dockerignore").symlink_to("/proc/self/mem")
    assert len(list(root.rglob("*Dockerfile"))) > 4 * bot.parallel.POOL_MIN_ITEMS
    return root


@pytest.mark.parametrize("fmt", ["text", "json", "sarif", "github"])
def test_jobs_give_the_same_report_in_every_format(tree: Path, fmt: str) -> None:
    one = run_process("check", "-f", fmt, "--jobs", "1", ".", cwd=tree)
    log = tree.parent / "log"
    two = _probe("check", "-f", fmt, "--jobs", "2", ".", cwd=tree, MOUNTIE_TEST_LOG=str(log))
    assert _forks(log) == 1  # this process is the other worker
    assert len(set(log.read_text().splitlines()[:-1])) == 2  # both checked files
    assert (two.code, two.out, two.err) == (one.code, one.out, one.err)
    assert one.code == 2
    assert "broken/latin1.Dockerfile: error: not UTF-8 text (byte 0xe9 at offset 24)" in one.err
    assert "broken/heredoc.Dockerfile:2: error: unterminated heredoc" in one.err
    assert "ignored/.dockerignore: warning: cannot read" in one.err
    assert "Traceback" not in one.err
    if fmt == "json":
        assert json.loads(one.out)["summary"]["files"] > 200


def test_jobs_exit_statuses(tree: Path) -> None:
    shutil.rmtree(tree / "broken")
    for jobs in ("1", "2", "3"):
        assert run_process("check", "--jobs", jobs, ".", cwd=tree).code == 1
        assert run_process("check", "--jobs", jobs, "--fail-level", "error", "BKM006", cwd=tree).code == 0
        assert run_process("check", "--jobs", jobs, ".", "missing", cwd=tree).code == 2


def test_jobs_with_standard_input_among_the_files(tree: Path) -> None:
    args = ("check", "-f", "json", "BKM001", "-", "BKM002", "--stdin-filename", "ignored/Dockerfile")
    one = run_process(*args, "--jobs", "1", cwd=tree, stdin=MOTIVATING.encode())
    two = run_process(*args, "--jobs", "2", cwd=tree, stdin=MOTIVATING.encode())
    assert (two.code, two.out, two.err) == (one.code, one.out, one.err)
    paths = [file["path"] for file in json.loads(one.out)["files"]]
    assert paths.index("ignored/Dockerfile") == sum(1 for path in paths if path.startswith("BKM001/"))


def test_few_files_are_checked_in_one_process(tmp_path: Path) -> None:
    for index in range(bot.parallel.POOL_MIN_ITEMS - 1):
        write(tmp_path, f"s{index}/Dockerfile", MOTIVATING)
    log = tmp_path / "log"
    done = _probe("check", "--jobs", "4", ".", cwd=tmp_path, MOUNTIE_TEST_LOG=str(log))
    assert done.code == 1
    assert _forks(log) == 0


def test_fix_with_jobs_writes_the_same_files(tree: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    shutil.copytree(tree, other, symlinks=True)
    for args in (("fix", "--diff", "."), ("fix", ".")):
        one = run_process(*args, "--jobs", "1", cwd=tree)
        two = run_process(*args, "--jobs", "2", cwd=other)
        assert (two.code, two.out, two.err) == (one.code, one.out, one.err)
        assert one.code == 2  # the broken files
    assert "Fixed " in one.out
    changed = 0
    for path in sorted(FIXTURES.rglob("*")):
        if path.is_file():
            fixed = (tree / path.relative_to(FIXTURES)).read_bytes()
            assert (other / path.relative_to(FIXTURES)).read_bytes() == fixed, path
            changed += fixed != path.read_bytes()
    assert changed > 10
    assert not list(other.rglob(".mountie-*"))  # no temporary file left


def test_a_worker_that_dies_stops_the_command(tree: Path) -> None:
    start = time.monotonic()
    done = _probe("check", "--jobs", "3", ".", cwd=tree, MOUNTIE_TEST_DIE="1")
    assert time.monotonic() - start < 30
    assert done.code == 2
    assert done.out == ""
    assert done.err.splitlines() == [
        "mountie check: error: a worker process was killed by signal 9 (SIGKILL)",
    ]


def test_a_worker_that_dies_stops_fix(tree: Path) -> None:
    done = _probe("fix", "--jobs", "2", ".", cwd=tree, MOUNTIE_TEST_DIE="1")
    assert done.code == 2
    assert done.err.splitlines()[-1] == "mountie fix: error: a worker process exited with status 3"
    assert "Traceback" not in done.err
    assert not list(tree.rglob(".mountie-*"))  # the files written so far were written whole


def test_ctrl_c_stops_the_workers(tree: Path) -> None:
    log = tree.parent / "log"
    process = subprocess.Popen(
        [sys.executable, "-c", _PROBE, "check", "--jobs", "3", "."],
        cwd=tree,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "MOUNTIE_TEST_SLOW": "0.05",
            "MOUNTIE_TEST_LOG": str(log),
        },
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not (log.exists() and len(set(log.read_text().split())) >= 3):
        time.sleep(0.02)
    workers = {int(pid) for pid in log.read_text().split()} - {process.pid}
    assert len(workers) == 2  # the two forked, each checking a file
    os.killpg(process.pid, signal.SIGINT)  # as a terminal does: the whole process group
    out, err = process.communicate(timeout=30)
    assert process.returncode == 130
    assert out == b""
    assert b"Traceback" not in err, err.decode()
    for pid in workers:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_jobs_must_be_positive(tmp_path: Path) -> None:
    done = run_process("check", "--jobs", "0", cwd=tmp_path)
    assert done.code == 2
    assert "argument -j/--jobs: expected a positive integer, got '0'" in done.err


def test_usable_cpus() -> None:
    assert bot.parallel.usable_cpus() >= 1
    if hasattr(os, "sched_getaffinity"):
        assert bot.parallel.usable_cpus() == len(os.sched_getaffinity(0))


@pytest.mark.parametrize("location", bot.config_locations.CONFIG_LOCATIONS)
def test_check_finds_a_configuration_wherever_the_app_reads_one(tmp_path: Path, location: str) -> None:
    """bot/cli.py looks for a configuration without importing bot.config, in the places the App
    reads (bot.review.analysis uses the same CONFIG_LOCATIONS), from a subdirectory up to .git."""
    (tmp_path / ".git").mkdir()
    config = tmp_path / location
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text("rules:\n  disable: [BKM001]\n", encoding="utf-8")
    below = tmp_path / "services" / "api"
    below.mkdir(parents=True)
    assert bot.cli._find_config(below) == config
