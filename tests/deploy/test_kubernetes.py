"""deploy/kubernetes/: plain manifests, each validated against the Kubernetes OpenAPI schemas
(kubernetes-validate ships them, strict: unknown fields are errors) for the oldest and the newest
Kubernetes it knows, and checked for consistency with the code: the CLI accepts the containers'
arguments, the readiness probe is the receiver's /healthz on its port, the variables are ones the
settings read, the Secret and the ConfigMap hold what the Deployments take from them, the Service
and the Ingress reach the receivers.

Not checked (no cluster, and neither kubectl nor kustomize installs from PyPI or Debian): that
`kubectl apply -k` renders the kustomization, admission by a real API server, image pulls,
scheduling, and that the probes pass at run time (tests/e2e covers /healthz of a real receiver).
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml
from kubernetes_validate.utils import ValidationError  # type: ignore[import-untyped]

from tests.deploy.support import DEPLOY, SECRET_VARIABLES, parse_cli, settings_variables

KUBERNETES = DEPLOY / "kubernetes"
VERSIONS = ("1.28.0", kubernetes_validate.latest_version())


@functools.cache
def documents() -> tuple[tuple[str, dict[str, Any]], ...]:
    found = []
    for path in sorted(KUBERNETES.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            assert isinstance(document, dict), path
            found.append((path.name, document))
    return tuple(found)


def resource(kind: str, name: str) -> dict[str, Any]:
    matches = [d for _, d in documents() if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(matches) == 1, f"{kind}/{name}"
    return matches[0]


def container(deployment: str) -> dict[str, Any]:
    containers = resource("Deployment", deployment)["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    found: dict[str, Any] = containers[0]
    return found


def kubernetes_resources() -> list[tuple[str, dict[str, Any]]]:
    return [(name, d) for name, d in documents() if d["kind"] != "Kustomization"]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    ("name", "document"), kubernetes_resources(), ids=[f"{n}:{d['kind']}" for n, d in kubernetes_resources()]
)
def test_valid_against_the_kubernetes_schema(name: str, document: dict[str, Any], version: str) -> None:
    kubernetes_validate.validate(document, version, strict=True)


def test_the_schema_check_catches_a_misspelt_field() -> None:
    broken = copy.deepcopy(resource("Deployment", "mountie-receiver"))
    broken["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {"httpGet": {"path": "/"}}
    with pytest.raises(ValidationError):
        kubernetes_validate.validate(broken, VERSIONS[-1], strict=True)


def test_the_kustomization_lists_every_manifest_but_the_optional_and_the_example() -> None:
    kustomization = next(d for n, d in documents() if n == "kustomization.yaml")
    listed = set(kustomization["resources"])
    files = {path.name for path in KUBERNETES.glob("*.yaml")}
    assert listed <= files
    assert files - listed == {"kustomization.yaml", "ingress.yaml", "secret.example.yaml"}
    assert "# - ingress.yaml" in (KUBERNETES / "kustomization.yaml").read_text(encoding="utf-8")
    images = {image["name"] for image in kustomization["images"]}
    for deployment in ("mountie-receiver", "mountie-worker"):
        assert container(deployment)["image"].split(":")[0] in images


def test_receivers_serve_without_a_worker_and_are_ready_on_healthz() -> None:
    receiver = container("mountie-receiver")
    args = parse_cli(receiver["args"])
    assert args.command == "serve" and args.no_worker and args.host == "0.0.0.0"
    port = next(p for p in receiver["ports"] if p["name"] == "http")
    assert port["containerPort"] == args.port
    probe = receiver["readinessProbe"]["httpGet"]
    assert probe["path"] == "/healthz" and probe["port"] in ("http", args.port)
    pod = resource("Deployment", "mountie-receiver")["spec"]["template"]
    assert pod["metadata"]["annotations"]["prometheus.io/port"] == str(args.port)
    assert pod["spec"]["terminationGracePeriodSeconds"] > args.shutdown_timeout


def test_workers_get_time_to_finish_their_reviews() -> None:
    args = parse_cli(container("mountie-worker")["args"])
    assert args.command == "worker"
    grace = resource("Deployment", "mountie-worker")["spec"]["template"]["spec"][
        "terminationGracePeriodSeconds"
    ]
    assert grace >= args.shutdown_timeout + 5


def test_the_service_and_the_ingress_reach_the_receivers_and_only_the_webhook_is_public() -> None:
    service = resource("Service", "mountie")
    labels = resource("Deployment", "mountie-receiver")["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    ingress = resource("Ingress", "mountie")
    paths = [p for rule in ingress["spec"]["rules"] for p in rule["http"]["paths"]]
    assert [(p["path"], p["pathType"]) for p in paths] == [("/webhook", "Exact")]
    assert paths[0]["backend"]["service"] == {"name": "mountie", "port": {"name": "http"}}
    redis = resource("Service", "mountie-redis")
    redis_labels = resource("Deployment", "mountie-redis")["spec"]["template"]["metadata"]["labels"]
    assert redis["spec"]["selector"].items() <= redis_labels.items()


def test_settings_come_from_the_configmap_and_secrets_from_the_secret() -> None:
    config = resource("ConfigMap", "mountie-config")["data"]
    secret = resource("Secret", "mountie-github-app")["stringData"]
    assert set(config) <= settings_variables()
    assert not set(config) & SECRET_VARIABLES
    redis_service = resource("Service", "mountie-redis")
    assert (
        config["MOUNTIE_QUEUE_URL"] == f"redis://mountie-redis:{redis_service['spec']['ports'][0]['port']}/0"
    )
    for deployment in ("mountie-receiver", "mountie-worker"):
        spec = container(deployment)
        assert spec["envFrom"] == [{"configMapRef": {"name": "mountie-config"}}]
        for variable in spec["env"]:
            assert variable["name"] in settings_variables()
            reference = variable["valueFrom"]["secretKeyRef"]
            assert reference["name"] == "mountie-github-app" and reference["key"] in secret
        # The key is a file in the Secret's volume, at GITHUB_PRIVATE_KEY_PATH.
        pod = resource("Deployment", deployment)["spec"]["template"]["spec"]
        key_volume = next(v for v in pod["volumes"] if "secret" in v)
        items = key_volume["secret"]["items"]
        assert [item["key"] for item in items] == ["private-key.pem"] and "private-key.pem" in secret
        assert key_volume["secret"]["defaultMode"] == 0o440
        mount = next(m for m in spec["volumeMounts"] if m["name"] == key_volume["name"])
        assert config["GITHUB_PRIVATE_KEY_PATH"] == f"{mount['mountPath']}/{items[0]['path']}"
        assert pod["securityContext"]["fsGroup"] == pod["securityContext"]["runAsUser"] == 10001
        data = next(m for m in spec["volumeMounts"] if m["mountPath"] == config["MOUNTIE_DATA_DIR"])
        assert data["name"] in {v["name"] for v in pod["volumes"]}
        assert spec["securityContext"]["readOnlyRootFilesystem"] is True


def test_the_uid_is_the_one_the_image_runs_as() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    assert "USER 10001" in dockerfile and "MOUNTIE_DATA_DIR=/var/lib/mountie" in dockerfile


@pytest.mark.parametrize("path", sorted(KUBERNETES.glob("*.yaml")), ids=lambda p: p.name)
def test_every_file_is_yaml_with_documents(path: Path) -> None:
    assert [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
