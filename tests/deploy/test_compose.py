"""deploy/compose.yaml (one host, embedded queue) and deploy/compose.redis.yaml (Redis, N receivers,
M workers): valid against the Compose specification's schema after Compose's own variable
substitution, and consistent with what the code reads and the CLI accepts.

Not checked here: that Docker pulls the images and starts the containers (no Docker daemon in CI).
"""

from __future__ import annotations

import copy
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.app.setup_flow import WRITTEN_KEYS
from tests.deploy.support import (
    DEPLOY,
    SECRET_VARIABLES,
    SETUP_ONLY,
    env_file_names,
    interpolate,
    parse_cli,
    schema_errors,
    settings_variables,
)

SINGLE = DEPLOY / "compose.yaml"
SCALED = DEPLOY / "compose.redis.yaml"
DATA_DIR = "/var/lib/mountie"


def load(path: Path, **env: str) -> dict[str, Any]:
    data = interpolate(yaml.safe_load(path.read_text(encoding="utf-8")), env)
    assert isinstance(data, dict)
    return data


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(key): str(value) for key, value in env.items()}


def option(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]


@pytest.mark.parametrize("path", [SINGLE, SCALED], ids=lambda p: p.name)
def test_valid_against_the_compose_specification(path: Path) -> None:
    assert schema_errors(load(path), "compose-spec") == []


def test_the_schema_check_catches_a_misspelt_key() -> None:
    broken = copy.deepcopy(load(SINGLE))
    broken["services"]["mountie"]["enviroment"] = broken["services"]["mountie"].pop("environment")
    assert any("enviroment" in error for error in schema_errors(broken, "compose-spec"))


@pytest.mark.parametrize("path", [SINGLE, SCALED], ids=lambda p: p.name)
def test_secrets_come_from_the_env_file_never_from_the_file_or_the_image(path: Path) -> None:
    for name, service in load(path)["services"].items():
        inline = set(environment(service)) | set(service.get("build", {}).get("args", {}))
        assert not inline & SECRET_VARIABLES, f"{name} sets a secret inline"
        assert not inline & {"GITHUB_APP_ID", "GITHUB_PRIVATE_KEY_PATH"}
        if name.startswith(("mountie", "receiver", "worker")):
            assert service["env_file"] == ".env"
            assert set(environment(service)) <= settings_variables(), f"{name}: unknown variables"
    dockerfile = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    assert not any(secret in dockerfile for secret in (*SECRET_VARIABLES, "GITHUB_APP_ID", ".env"))
    ignored = (DEPLOY.parent / ".gitignore").read_text(encoding="utf-8").split()
    assert ".env" in ignored  # deploy/.env is never committed


def test_single_host_is_one_service_with_a_volume_for_the_data_dir() -> None:
    compose = load(SINGLE)
    assert list(compose["services"]) == ["mountie"]
    service = compose["services"]["mountie"]
    volume, target = service["volumes"][0].split(":")[:2]
    assert volume in compose["volumes"] and target == DATA_DIR
    assert environment(service)["MOUNTIE_DATA_DIR"] == DATA_DIR
    assert "MOUNTIE_QUEUE_URL" not in environment(service)  # the embedded SQLite queue
    args = parse_cli(service["command"])
    assert args.command == "serve" and not args.no_worker and args.host == "0.0.0.0"
    published = service["ports"][0].rsplit(":", 1)[1]
    assert int(published) == args.port
    # Docker's SIGKILL must not cut off the reviews `serve` lets finish on stop.
    assert _seconds(service["stop_grace_period"]) > args.shutdown_timeout + 5


def test_the_build_uses_the_tested_dockerfile() -> None:
    for path in (SINGLE, SCALED):
        for service in load(path)["services"].values():
            if "build" in service:
                context = (path.parent / service["build"]["context"]).resolve()
                assert (context / service["build"]["dockerfile"]).resolve() == DEPLOY / "Dockerfile"


def test_scale_out_runs_receivers_and_workers_on_redis() -> None:
    compose = load(SCALED, MOUNTIE_RECEIVERS="3", MOUNTIE_WORKERS="4")
    services = compose["services"]
    assert {"redis", "receiver", "worker", "proxy"} <= set(services)
    receiver, worker = services["receiver"], services["worker"]
    assert (receiver["deploy"]["replicas"], worker["deploy"]["replicas"]) == (3, 4)
    receiver_args, worker_args = parse_cli(receiver["command"]), parse_cli(worker["command"])
    assert receiver_args.command == "serve" and receiver_args.no_worker
    assert worker_args.command == "worker"
    assert _seconds(worker["stop_grace_period"]) > worker_args.shutdown_timeout + 5
    for service in (receiver, worker):
        queue = environment(service)["MOUNTIE_QUEUE_URL"]
        assert queue.startswith("redis://redis:6379/")
        assert service["depends_on"]["redis"]["condition"] == "service_healthy"
        assert service["volumes"][0].split(":")[1] == DATA_DIR
    assert "healthcheck" in services["redis"]
    proxy = services["proxy"]["command"]
    assert option(proxy, "--to") == f"receiver:{receiver_args.port}"
    assert services["proxy"]["ports"][0].rsplit(":", 1)[1] == option(proxy, "--from").lstrip(":")
    assert not {"ports"} & set(receiver), "receivers are reached through the proxy only"


def test_the_env_example_names_what_setup_writes_and_the_app_reads() -> None:
    names = env_file_names(DEPLOY / ".env.example")
    assert names <= settings_variables() | SETUP_ONLY
    # `mountie setup --key-in-env` writes the key into the env file, as compose needs.
    assert set(WRITTEN_KEYS) - {"GITHUB_PRIVATE_KEY_PATH"} <= names
    assert "GITHUB_PRIVATE_KEY_PATH" not in names


def test_the_commands_in_the_comments_are_real() -> None:
    for path in (SINGLE, SCALED):
        for line in path.read_text(encoding="utf-8").splitlines():
            text = line.lstrip("# ").strip()
            if text.startswith("mountie setup"):
                args = parse_cli(shlex.split(text)[1:])
                assert args.key_in_env and args.env_file == "deploy/.env"


def _seconds(duration: str) -> float:
    assert duration.endswith("s") and duration[:-1].isdigit()
    return float(duration[:-1])
