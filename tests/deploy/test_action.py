"""deploy/action/action.yml (the composite GitHub Action) and its example workflow.

Both are validated against the GitHub Actions and workflow schemas (check-jsonschema ships them).
The action's inputs are matched with the steps that use them and with `mountie check`'s real
options, and its shell steps are run for real, in order, by a small stand-in for the runner
(expressions, step outputs through GITHUB_OUTPUT, `bash -eo pipefail` as GitHub runs composite
steps) in a git repository with a pull request's two commits, with this environment's `mountie`.

Not run: the `uses:` steps (actions/setup-python, github/codeql-action/upload-sarif: their inputs
are checked, not their effect) and the install step (pip installing the action's checkout).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.cli import SEVERITIES, build_parser
from tests.deploy.support import DEPLOY, ROOT, schema_errors

ACTION_DIR = DEPLOY / "action"
ACTION = ACTION_DIR / "action.yml"
WORKFLOW = ACTION_DIR / "example-workflow.yml"
MOTIVATING = (ROOT / "tests" / "data" / "motivating.Dockerfile").read_text(encoding="utf-8")
CLEAN = "FROM alpine:3.20\nRUN apk add --no-cache curl\n"
_EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def action() -> dict[str, Any]:
    data = yaml.safe_load(ACTION.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def workflow() -> dict[str, Any]:
    data = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    if True in data:  # YAML 1.1 reads the key `on` as true; GitHub reads it as "on"
        data["on"] = data.pop(True)
    return data


def step(step_id: str) -> dict[str, Any]:
    found: dict[str, Any] = next(s for s in action()["runs"]["steps"] if s.get("id") == step_id)
    return found


def check_options() -> set[str]:
    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command")
    check = commands.choices["check"]  # type: ignore[index]
    return {option for a in check._actions for option in a.option_strings}


# -- a stand-in for the Actions runner -----------------------------------------------------------


@dataclass
class Run:
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)
    uses: dict[str, dict[str, str]] = field(default_factory=dict)
    failed: str | None = None
    status: int = 0
    log: str = ""


def evaluate(text: str, context: dict[str, Any]) -> str:
    """`${{ a.b.c }}` property paths (missing ones are empty strings, as on GitHub)."""

    def value(match: re.Match[str]) -> str:
        expression = match.group(1)
        assert re.fullmatch(r"[A-Za-z_][\w.-]*", expression), f"the stand-in runs no {expression!r}"
        current: Any = context
        for part in expression.split("."):
            current = current.get(part) if isinstance(current, dict) else None
        return "" if current is None else str(current)

    return _EXPRESSION.sub(value, text)


def parse_outputs(path: Path) -> dict[str, str]:
    outputs: dict[str, str] = {}
    lines = iter(path.read_text(encoding="utf-8").splitlines()) if path.exists() else iter(())
    for line in lines:
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            body: list[str] = []
            for item in lines:
                if item == delimiter:
                    break
                body.append(item)
            outputs[name] = "\n".join(body)
        elif "=" in line:
            name, text = line.split("=", 1)
            outputs[name] = text
    return outputs


def run_action(workspace: Path, scratch: Path, inputs: dict[str, str], github: dict[str, Any]) -> Run:
    definition = action()
    values = {name: spec.get("default", "") for name, spec in definition["inputs"].items()}
    unknown = set(inputs) - set(values)
    assert not unknown, f"not inputs of the action: {unknown}"
    values.update(inputs)
    temp = scratch / "runner-temp"
    temp.mkdir(exist_ok=True)
    context: dict[str, Any] = {
        "inputs": values,
        "github": {**github, "action_path": str(ACTION_DIR)},
        "steps": {},
        "runner": {"temp": str(temp)},
    }
    result = Run()
    for index, item in enumerate(definition["runs"]["steps"]):
        if "uses" in item:
            result.uses[item["uses"]] = {
                k: evaluate(str(v), context) for k, v in item.get("with", {}).items()
            }
            continue
        if item.get("id") == "install":
            continue  # pip installing the checkout: this environment already has `mountie`
        assert item["shell"] == "bash" and "if" not in item
        output = scratch / f"output-{index}"
        env = {
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "HOME": str(scratch),
            "RUNNER_TEMP": str(temp),
            "GITHUB_OUTPUT": str(output),
            "GITHUB_WORKSPACE": str(workspace),
            "GITHUB_EVENT_NAME": str(github["event_name"]),
            "GITHUB_ACTION_PATH": str(ACTION_DIR),
            "PYTHONPATH": str(ROOT),
        }
        env.update({k: evaluate(str(v), context) for k, v in item.get("env", {}).items()})
        script = scratch / f"step-{index}.sh"
        script.write_text(evaluate(item["run"], context), encoding="utf-8")
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            cwd=workspace,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        result.log += f"--- {item['name']}\n{done.stdout}{done.stderr}"
        outputs = parse_outputs(output)
        if "id" in item:
            context["steps"][item["id"]] = {"outputs": outputs}
            result.outputs[item["id"]] = outputs
        if done.returncode != 0:
            result.failed, result.status = item["name"], done.returncode
            break
    return result


def git(workspace: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    done = subprocess.run(["git", *args], cwd=workspace, env=env, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def repository(tmp_path: Path, head_files: dict[str, str]) -> tuple[Path, dict[str, Any]]:
    """A checkout whose head commit changes `head_files` over a base; the pull_request context."""
    workspace = tmp_path / "repo"
    workspace.mkdir()
    git(workspace, "init", "--quiet", "--initial-branch", "main")
    base_files = {"README.md": "# app\n", "svc/Dockerfile": CLEAN, "Dockerfile": CLEAN}
    for files in (base_files, head_files):
        for name, text in files.items():
            (workspace / name).parent.mkdir(parents=True, exist_ok=True)
            (workspace / name).write_text(text, encoding="utf-8")
        git(workspace, "add", "--all")
        git(workspace, "commit", "--quiet", "--message", "change")
    base, head = git(workspace, "rev-parse", "HEAD~1"), git(workspace, "rev-parse", "HEAD")
    event = {"pull_request": {"base": {"sha": base}, "head": {"sha": head}}}
    return workspace, {"event_name": "pull_request", "event": event}


def sarif_results(path: Path) -> list[tuple[str, str]]:
    report = json.loads(path.read_text(encoding="utf-8"))
    assert report["version"] == "2.1.0"
    return [
        (r["ruleId"], r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"])
        for run in report["runs"]
        for r in run["results"]
    ]


# -- the files ---------------------------------------------------------------------------------------


def test_the_action_is_valid_against_the_actions_schema() -> None:
    assert schema_errors(action(), "github-actions") == []
    assert action()["runs"]["using"] == "composite"


def test_the_example_workflow_is_valid_and_may_upload() -> None:
    data = workflow()
    assert schema_errors(data, "github-workflows") == []
    assert data["permissions"]["security-events"] == "write"
    steps = data["jobs"]["mountie"]["steps"]
    used = next(s["uses"] for s in steps if "mountie" in s.get("uses", ""))
    repository_path, _, ref = used.partition("@")
    assert repository_path.split("/", 2)[2] == ACTION_DIR.relative_to(ROOT).as_posix() and ref
    assert set(steps[-1].get("with", {})) <= set(action()["inputs"])


def test_every_input_is_used_and_every_use_is_an_input() -> None:
    text = ACTION.read_text(encoding="utf-8")
    used = set(re.findall(r"inputs\.([a-z-]+)", text))
    assert used == set(action()["inputs"])
    # Inputs reach the scripts through env, never spliced into the shell text (injection).
    for item in action()["runs"]["steps"]:
        assert "${{" not in item.get("run", "")


def test_the_check_step_uses_real_options_of_mountie_check() -> None:
    script = step("check")["run"]
    assert "args=(check --format sarif --output" in script
    options = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", script))
    assert options - {"--"} <= check_options()
    assert {"--format", "--output", "--fail-level", "--config"} <= options
    description = action()["inputs"]["fail-level"]["description"]
    assert all(level in description for level in SEVERITIES)


def test_the_upload_step_takes_the_report_and_the_category() -> None:
    upload = next(s for s in action()["runs"]["steps"] if "upload-sarif" in s.get("uses", ""))
    assert upload["uses"].startswith("github/codeql-action/upload-sarif@v")
    assert set(upload["with"]) == {"sarif_file", "category"}
    assert "steps.check.outputs.sarif-file" in upload["if"] and "always()" in upload["if"]


# -- the steps, run ----------------------------------------------------------------------------------


def test_a_pull_request_checks_only_its_changed_dockerfiles_and_fails_on_a_finding(tmp_path: Path) -> None:
    workspace, github = repository(tmp_path, {"Dockerfile": MOTIVATING, "README.md": "# app 2\n"})
    run = run_action(workspace, tmp_path, {}, github)
    assert run.outputs["select"]["dockerfiles"] == "Dockerfile", run.log
    assert run.outputs["check"] == {"exit-code": "1", "sarif-file": "mountie.sarif"}, run.log
    assert sarif_results(workspace / "mountie.sarif") == [("BKM001", "Dockerfile")]
    assert run.uses["github/codeql-action/upload-sarif@v3"] == {
        "sarif_file": "mountie.sarif",
        "category": "mountie",
    }
    assert (run.failed, run.status) == ("Verdict", 1), run.log


def test_findings_need_not_fail_the_step(tmp_path: Path) -> None:
    workspace, github = repository(tmp_path, {"Dockerfile": MOTIVATING})
    run = run_action(workspace, tmp_path, {"fail-on-findings": "false", "sarif-file": "out/m.sarif"}, github)
    assert run.failed is None, run.log
    assert run.outputs["check"]["sarif-file"] == "out/m.sarif"
    assert sarif_results(workspace / "out" / "m.sarif") == [("BKM001", "Dockerfile")]


def test_a_pull_request_without_dockerfiles_checks_nothing(tmp_path: Path) -> None:
    workspace, github = repository(tmp_path, {"README.md": "# app 2\n", "src/main.rs": "fn main() {}\n"})
    run = run_action(workspace, tmp_path, {}, github)
    assert run.failed is None, run.log
    assert run.outputs["select"]["dockerfiles"] == ""
    assert run.outputs["check"] == {"exit-code": "0"}
    assert not (workspace / "mountie.sarif").exists()


def test_the_configuration_adds_files_and_its_options_are_passed(tmp_path: Path) -> None:
    config = "files:\n  include: ['docker/*.df']\nrules:\n  disable: [BKM001]\n"
    head = {"docker/api.df": MOTIVATING, ".github/mountie.yml": config, "svc/Dockerfile": MOTIVATING}
    workspace, github = repository(tmp_path, head)
    run = run_action(workspace, tmp_path, {}, github)
    assert run.outputs["select"]["dockerfiles"].splitlines() == ["docker/api.df", "svc/Dockerfile"], run.log
    assert run.outputs["check"]["exit-code"] == "0", run.log  # BKM001 disabled by the configuration
    other = tmp_path / "strict.yml"
    other.write_text("fail-level: info\n", encoding="utf-8")
    run = run_action(workspace, tmp_path, {"config": str(other), "fail-level": "error"}, github)
    assert run.outputs["check"]["exit-code"] == "1", run.log  # --config replaces the repository's


def test_other_events_check_every_dockerfile(tmp_path: Path) -> None:
    workspace, _ = repository(tmp_path, {"svc/Dockerfile": MOTIVATING})
    run = run_action(workspace, tmp_path, {}, {"event_name": "push", "event": {}})
    assert run.outputs["select"]["dockerfiles"] == "."
    assert sarif_results(workspace / "mountie.sarif") == [("BKM001", "svc/Dockerfile")]
    assert run.failed == "Verdict"


def test_explicit_paths_win(tmp_path: Path) -> None:
    workspace, github = repository(tmp_path, {"svc/Dockerfile": MOTIVATING})
    run = run_action(workspace, tmp_path, {"paths": " Dockerfile\n"}, github)
    assert run.outputs["select"]["dockerfiles"] == "Dockerfile"
    assert run.failed is None, run.log
    run = run_action(workspace, tmp_path, {"paths": "Dockerfile\n svc *.md"}, github)
    assert run.outputs["select"]["dockerfiles"].splitlines() == ["Dockerfile", "svc", "*.md"]
    assert run.outputs["check"]["exit-code"] == "2"  # no file is called *.md: paths are not globs
    assert sarif_results(workspace / "mountie.sarif") == [("BKM001", "svc/Dockerfile")]


@pytest.mark.parametrize("fail_on_findings", ["true", "false"])
def test_input_errors_always_fail(tmp_path: Path, fail_on_findings: str) -> None:
    workspace, github = repository(tmp_path, {"Dockerfile": MOTIVATING})
    inputs = {"paths": "no/such/Dockerfile", "fail-on-findings": fail_on_findings}
    run = run_action(workspace, tmp_path, inputs, github)
    assert run.outputs["check"]["exit-code"] == "2"
    assert (run.failed, run.status) == ("Verdict", 2), run.log
