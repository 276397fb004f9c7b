"""deploy/systemd/: the receiver and worker units for a VM. `systemd-analyze verify` (Debian's
systemd package; it needs no running systemd) checks their syntax and directives, with ExecStart
pointed at this environment's `mountie` (it also checks that the program exists). The units'
commands are parsed by the real CLI, their variables checked against the settings.

Not checked: the /opt/mountie path, the `mountie` user and /etc/mountie/env (they are created by
the installation steps in mountie.service's header), and the units running under a real systemd.
"""

from __future__ import annotations

import configparser
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.support import DEPLOY, SECRET_VARIABLES, parse_cli, settings_variables

SYSTEMD = DEPLOY / "systemd"
RECEIVER = SYSTEMD / "mountie.service"
WORKER = SYSTEMD / "mountie-worker.service"
INSTALLED = "/opt/mountie/bin/mountie"


def unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keep the directives' case
    parser.read_string(path.read_text(encoding="utf-8"))
    return parser


def exec_args(path: Path) -> list[str]:
    command = shlex.split(unit(path)["Service"]["ExecStart"])
    assert command[0] == INSTALLED
    return command[1:]


def environment(path: Path) -> dict[str, str]:
    pairs = shlex.split(unit(path)["Service"]["Environment"])
    return dict(pair.split("=", 1) for pair in pairs)


def systemd_analyze() -> str:
    found = shutil.which("systemd-analyze")
    if found is None:
        if os.environ.get("CI") or os.environ.get("MOUNTIE_REQUIRE_SYSTEMD"):
            pytest.fail("systemd-analyze is required in CI (Debian: apt-get install systemd)")
        pytest.skip("systemd-analyze is not installed (Debian: apt-get install systemd)")
    return found


def test_systemd_analyze_verifies_both_units(tmp_path: Path) -> None:
    analyze = systemd_analyze()
    mountie = Path(sys.executable).with_name("mountie")
    assert mountie.is_file(), "the project is installed in this environment"
    for source in (RECEIVER, WORKER):
        text = source.read_text(encoding="utf-8")
        assert text.count(INSTALLED) == 1
        (tmp_path / source.name).write_text(text.replace(INSTALLED, str(mountie)), encoding="utf-8")
    result = subprocess.run(
        [analyze, "verify", *(str(tmp_path / s.name) for s in (RECEIVER, WORKER))],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Unknown key" not in result.stderr and "Unknown section" not in result.stderr


def test_verify_is_not_vacuous(tmp_path: Path) -> None:
    analyze = systemd_analyze()
    broken = tmp_path / "broken.service"
    broken.write_text("[Service]\nExecStart=/no/such/program\nKillSignal=SIGNOPE\n", encoding="utf-8")
    result = subprocess.run([analyze, "verify", str(broken)], capture_output=True, text=True, check=False)
    assert result.returncode != 0


def test_the_receiver_serves_without_a_worker_behind_a_local_port() -> None:
    args = parse_cli(exec_args(RECEIVER))
    assert args.command == "serve" and args.no_worker and args.host == "127.0.0.1"
    service = unit(RECEIVER)["Service"]
    assert service["KillSignal"] == "SIGINT"
    assert "mountie-worker.service" in unit(RECEIVER)["Unit"]["Wants"]


def test_the_worker_stops_on_sigint_with_time_for_running_reviews() -> None:
    args = parse_cli(exec_args(WORKER))
    assert args.command == "worker"
    service = unit(WORKER)["Service"]
    assert service["KillSignal"] == "SIGINT"
    assert float(service["TimeoutStopSec"]) >= args.shutdown_timeout + 5


@pytest.mark.parametrize("path", [RECEIVER, WORKER], ids=lambda p: p.name)
def test_both_share_the_data_dir_and_read_secrets_from_a_file(path: Path) -> None:
    service = unit(path)["Service"]
    env = environment(path)
    assert set(env) <= settings_variables() and not set(env) & SECRET_VARIABLES
    assert env["MOUNTIE_DATA_DIR"] == f"/var/lib/{service['StateDirectory']}"
    assert service["EnvironmentFile"] == "/etc/mountie/env"
    assert service["User"] == "mountie" and service["NoNewPrivileges"] == "yes"
    assert "GITHUB_PRIVATE_KEY_PATH=/etc/mountie/private-key.pem" in RECEIVER.read_text(encoding="utf-8")
