"""`--format json|sarif|github`: the JSON schema is what the docs say, the SARIF validates against
the official SARIF 2.1.0 schema and its fixes reproduce `mountie fix`, and the GitHub workflow
commands are escaped as the Actions toolkit does."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped,unused-ignore]
import pytest

from bot.fixes.apply import apply_edits
from bot.output.github import escape_data, escape_property
from bot.output.sarif import FINGERPRINT_KEY, artifact_uri
from bot.rules import ALL_RULES
from bot.rules.base import Edit
from tests.cli.conftest import CLEAN, MOTIVATING, MOTIVATING_FIXED, write

SARIF_SCHEMA = json.loads((Path(__file__).parents[1] / "data" / "sarif-2.1.0.schema.json").read_text("utf-8"))

# --- json ----------------------------------------------------------------------------------------

_NULLABLE_STRING = {"type": ["string", "null"]}
_LINE = {"type": "integer", "minimum": 1}


def _object(properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


# The schema documented in bot/output/json_format.py, version 1, as a JSON Schema.
JSON_SCHEMA = _object(
    {
        "version": {"const": 1},
        "files": {
            "type": "array",
            "items": _object(
                {
                    "path": {"type": "string"},
                    "findings": {
                        "type": "array",
                        "items": _object(
                            {
                                "code": {"type": "string", "pattern": "^BKM[0-9]{3}$"},
                                "name": {"type": "string"},
                                "severity": {"enum": ["info", "warning", "error"]},
                                "line": _LINE,
                                "end_line": _LINE,
                                "column": _LINE,
                                "message": {"type": "string"},
                                "fix": {
                                    "oneOf": [
                                        {"type": "null"},
                                        _object(
                                            {
                                                "title": {"type": "string"},
                                                "edits": {
                                                    "type": "array",
                                                    "minItems": 1,
                                                    "items": _object(
                                                        {
                                                            "start_line": _LINE,
                                                            "end_line": _LINE,
                                                            "new_text": {"type": "string"},
                                                        }
                                                    ),
                                                },
                                            }
                                        ),
                                    ]
                                },
                                "no_fix_reason": _NULLABLE_STRING,
                                "related_lines": {"type": "array", "items": _LINE},
                            }
                        ),
                    },
                    "problems": {
                        "type": "array",
                        "items": _object(
                            {"line": _LINE, "message": {"type": "string"}, "fatal": {"type": "boolean"}}
                        ),
                    },
                }
            ),
        },
        "errors": {
            "type": "array",
            "items": _object({"path": {"type": "string"}, "message": {"type": "string"}}),
        },
        "summary": _object(
            {
                "files": {"type": "integer"},
                "findings": {"type": "integer"},
                "by_severity": _object(
                    {
                        "error": {"type": "integer"},
                        "warning": {"type": "integer"},
                        "info": {"type": "integer"},
                    }
                ),
                "fixable": {"type": "integer"},
                "problems": {"type": "integer"},
                "unchecked": {"type": "integer"},
                "fail_level": {"enum": ["info", "warning", "error"]},
                "exit_code": {"enum": [0, 1, 2]},
            }
        ),
    }
)


def _mixed_tree(tmp_path: Path) -> None:
    write(tmp_path, "Dockerfile", MOTIVATING)
    write(tmp_path, "svc/api.Dockerfile", CLEAN)
    write(tmp_path, "svc/odd.Dockerfile", 'FROM alpine\nRUN ["echo"\n')
    write(tmp_path, "svc/broken.Dockerfile", "FROM alpine\nRUN <<EOF\n")


def test_json_follows_the_documented_schema(cli, tmp_path: Path) -> None:
    _mixed_tree(tmp_path)
    done = cli("check", "-f", "json", ".", "missing")
    assert done.code == 2
    report = json.loads(done.out)
    jsonschema.validate(report, JSON_SCHEMA)
    assert report["summary"] == {
        "files": 4,
        "findings": 1,
        "by_severity": {"error": 1, "warning": 0, "info": 0},
        "fixable": 1,
        "problems": 1,
        "unchecked": 2,
        "fail_level": "warning",
        "exit_code": 2,
    }
    assert report["errors"] == [{"path": "missing", "message": "no such file or directory"}]
    finding = report["files"][0]["findings"][0]
    assert finding["fix"]["edits"] == [
        {"start_line": 4, "end_line": 4, "new_text": MOTIVATING_FIXED.splitlines()[3]},
        {"start_line": 6, "end_line": 6, "new_text": MOTIVATING_FIXED.splitlines()[5]},
    ]
    assert apply_edits(MOTIVATING, [Edit(**e) for e in finding["fix"]["edits"]]) == MOTIVATING_FIXED
    broken = next(f for f in report["files"] if f["path"] == "svc/broken.Dockerfile")
    assert broken["findings"] == []
    assert broken["problems"][0]["fatal"] is True


def test_json_clean(cli, tmp_path: Path) -> None:
    write(tmp_path, "Dockerfile", CLEAN)
    done = cli("check", "--format", "json")
    assert done.code == 0
    report = json.loads(done.out)
    jsonschema.validate(report, JSON_SCHEMA)
    assert report["files"] == [{"path": "Dockerfile", "findings": [], "problems": []}]


# --- sarif ---------------------------------------------------------------------------------------


def _validate_sarif(document: dict[str, Any]) -> None:
    validator = jsonschema.Draft4Validator(
        SARIF_SCHEMA, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER
    )
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors[:5]]


def _sarif(cli, *args: str) -> dict[str, Any]:
    done = cli("check", "-f", "sarif", *args)
    document: dict[str, Any] = json.loads(done.out)
    _validate_sarif(document)
    return document


def test_schema_file_is_the_sarif_2_1_0_schema() -> None:
    jsonschema.Draft4Validator.check_schema(SARIF_SCHEMA)
    assert SARIF_SCHEMA["properties"]["version"]["enum"] == ["2.1.0"]


def test_sarif_is_valid_and_complete(cli, tmp_path: Path) -> None:
    _mixed_tree(tmp_path)
    document = _sarif(cli, ".", "missing")
    assert document["version"] == "2.1.0"
    run = document["runs"][0]
    driver = run["tool"]["driver"]
    assert driver["name"] == "mountie"
    rules = driver["rules"]
    assert [r["id"] for r in rules] == [r.code for r in ALL_RULES]
    for descriptor, rule in zip(rules, ALL_RULES, strict=True):
        assert descriptor["name"] == rule.name
        assert descriptor["shortDescription"]["text"] == rule.summary
        assert descriptor["fullDescription"]["text"]
        assert descriptor["help"]["markdown"] == rule.doc.strip()
        assert descriptor["defaultConfiguration"]["level"] in ("error", "warning", "note")

    [result] = run["results"]
    assert result["ruleId"] == "BKM001"
    assert rules[result["ruleIndex"]]["id"] == "BKM001"
    assert result["level"] == "error"
    assert result["message"]["text"].startswith("COPY --from=builder reads /app/target/release/app")
    location = result["locations"][0]["physicalLocation"]
    assert location["artifactLocation"] == {"uri": "Dockerfile"}
    assert location["region"] == {"startLine": 6, "endLine": 6, "startColumn": 1}
    assert result["relatedLocations"][0]["physicalLocation"]["region"] == {"startLine": 4}
    assert set(result["partialFingerprints"]) == {FINGERPRINT_KEY}

    invocation = run["invocations"][0]
    assert invocation["executionSuccessful"] is False
    notes = {(n["level"], n["message"]["text"]) for n in invocation["toolExecutionNotifications"]}
    assert ("error", "missing: no such file or directory") in notes
    assert ("error", "svc/broken.Dockerfile:2: unterminated heredoc: no line 'EOF' ends the body") in notes
    assert any(
        level == "warning" and text.startswith("svc/odd.Dockerfile:2: RUN arguments") for level, text in notes
    )


def test_sarif_clean_run_is_valid(cli, tmp_path: Path) -> None:
    write(tmp_path, "Dockerfile", CLEAN)
    run = _sarif(cli)["runs"][0]
    assert run["results"] == []
    assert run["invocations"][0]["executionSuccessful"] is True


def test_sarif_uris(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert artifact_uri("svc/api.Dockerfile") == "svc/api.Dockerfile"
    assert artifact_uri("my app/Dockerfile") == "my%20app/Dockerfile"
    assert artifact_uri("a:b/Dockerfile") == "a%3Ab/Dockerfile"
    assert artifact_uri("/srv/app/Dockerfile") == "file:///srv/app/Dockerfile"
    assert artifact_uri("../x/Dockerfile") == (tmp_path.parent / "x" / "Dockerfile").as_uri()
    assert artifact_uri("<stdin>") == "stdin"


def test_sarif_uri_for_nested_file(cli, tmp_path: Path) -> None:
    write(tmp_path, "my services/api/Dockerfile", MOTIVATING)
    result = _sarif(cli, ".")["runs"][0]["results"][0]
    assert (
        result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        == "my%20services/api/Dockerfile"
    )


def _offset(text: str, line: int, column: int) -> int:
    starts = [0]
    for index, char in enumerate(text):
        if char == "\n":
            starts.append(index + 1)
    return starts[line - 1] + column - 1


def _apply_sarif_fix(text: str, fix: dict[str, Any]) -> str:
    """Apply a SARIF fix as a SARIF consumer would: replacements in one artifact, last first."""
    [change] = fix["artifactChanges"]
    spans = []
    for replacement in change["replacements"]:
        region = replacement["deletedRegion"]
        start = _offset(text, region["startLine"], region["startColumn"])
        end = _offset(text, region["endLine"], region["endColumn"])
        spans.append((start, end, replacement["insertedContent"]["text"]))
    for start, end, inserted in sorted(spans, reverse=True):
        text = text[:start] + inserted + text[end:]
    return text


@pytest.mark.parametrize(
    "text",
    [MOTIVATING, MOTIVATING.replace("\n", "\r\n"), MOTIVATING.rstrip("\n")],
    ids=["lf", "crlf", "no-final-newline"],
)
def test_sarif_fix_reproduces_mountie_fix(cli, tmp_path: Path, text: str) -> None:
    write(tmp_path, "Dockerfile", text)
    result = _sarif(cli)["runs"][0]["results"][0]
    [fix] = result["fixes"]
    assert fix["description"]["text"] == "Move the artifact out of the mount in the same RUN"
    for replacement in fix["artifactChanges"][0]["replacements"]:
        inserted = replacement["insertedContent"]["text"]
        assert inserted.endswith("\n") or (
            text == MOTIVATING.rstrip("\n") and replacement["deletedRegion"]["startLine"] == 6
        )
    fixed = _apply_sarif_fix(text, fix)
    expected = MOTIVATING_FIXED if text == MOTIVATING else None
    if expected is None:
        expected = MOTIVATING_FIXED.replace("\n", "\r\n") if "\r\n" in text else MOTIVATING_FIXED.rstrip("\n")
    assert fixed == expected
    assert cli("fix").code == 0
    assert (tmp_path / "Dockerfile").read_bytes() == expected.encode()


def test_sarif_fingerprints_survive_moved_lines(cli, tmp_path: Path) -> None:
    write(tmp_path, "Dockerfile", MOTIVATING)
    before = _sarif(cli)["runs"][0]["results"][0]
    shifted = "# syntax=docker/dockerfile:1\n\n# build\n" + MOTIVATING.replace(
        "WORKDIR /app\n", "WORKDIR /app\n\n"
    )
    write(tmp_path, "Dockerfile", shifted)
    after = _sarif(cli)["runs"][0]["results"][0]
    assert after["locations"][0]["physicalLocation"]["region"]["startLine"] == 10
    assert after["partialFingerprints"] == before["partialFingerprints"]
    write(tmp_path, "other/Dockerfile", MOTIVATING)
    results = _sarif(cli, "Dockerfile", "other")["runs"][0]["results"]
    fingerprints = {r["partialFingerprints"][FINGERPRINT_KEY] for r in results}
    assert len(fingerprints) == 2  # another file, another alert


def test_sarif_identical_findings_get_distinct_fingerprints(cli, tmp_path: Path) -> None:
    write(
        tmp_path,
        "Dockerfile",
        MOTIVATING
        + "FROM debian:bookworm-slim\nCOPY --from=builder /app/target/release/app /usr/local/bin/app\n",
    )
    results = _sarif(cli)["runs"][0]["results"]
    assert len(results) == 2
    first, second = (r["partialFingerprints"][FINGERPRINT_KEY] for r in results)
    assert first.split(":")[0] == second.split(":")[0]
    assert (first.split(":")[1], second.split(":")[1]) == ("1", "2")


# --- github ----------------------------------------------------------------------------------------


def test_github_annotations(cli, tmp_path: Path) -> None:
    write(tmp_path, "Dockerfile", MOTIVATING)
    done = cli("check", "-f", "github")
    assert done.code == 1
    [line] = done.out.splitlines()
    title = "title=BKM001 artifact-in-cache-mount"
    assert line.startswith(
        f"::error file=Dockerfile,line=6,endLine=6,col=1,{title}::COPY --from=builder reads"
    )
    assert line.endswith("%0Afix (mountie fix): Move the artifact out of the mount in the same RUN")


def test_github_escaping(cli, tmp_path: Path) -> None:
    assert escape_data("50% done\r\nnext") == "50%25 done%0D%0Anext"
    assert escape_property("a,b:c%d\n") == "a%2Cb%3Ac%25d%0A"
    write(tmp_path, "we,ird:name.Dockerfile", MOTIVATING)
    out = cli("check", "-f", "github", ".").out
    assert out.startswith("::error file=we%2Cird%3Aname.Dockerfile,line=6,")


def test_github_errors_and_severities(cli, tmp_path: Path) -> None:
    write(tmp_path, "a/Dockerfile", "FROM alpine\nFROBNICATE\n")
    write(
        tmp_path,
        "b/Dockerfile",
        "FROM alpine AS builder\nWORKDIR /app\nRUN --mount=type=cache,target=/app/out ./build.sh\n"
        "FROM alpine\nCOPY --from=builder /app/out/bin /usr/local/bin/bin\n",
    )
    done = cli("check", "-f", "github", "a", "b", "nope")
    assert done.code == 2
    lines = done.out.splitlines()
    assert lines[0] == "::error file=a/Dockerfile,line=2,title=mountie::unknown instruction: FROBNICATE"
    assert lines[1].startswith(
        "::warning file=b/Dockerfile,line=5,endLine=5,col=1,title=BKM001 artifact-in-cache-mount::"
    )
    assert lines[2] == "::error file=nope,title=mountie::no such file or directory"


def test_sarif_fixes_reproduce_every_fixture_fix(cli, tmp_path: Path) -> None:
    """Every fix on every rule fixture, applied the SARIF way, equals the fix applied by Mountie."""
    import shutil

    from bot.engine import lint_text

    fixtures = Path(__file__).parents[1] / "fixtures" / "rules"
    shutil.copytree(fixtures, tmp_path / "fixtures")
    document = _sarif(cli, "fixtures")
    checked = 0
    for result in document["runs"][0]["results"]:
        uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        text = (tmp_path / uri).read_text("utf-8")
        for fix in result.get("fixes", []):
            finding = next(
                f
                for f in lint_text(text, uri).findings
                if f.line == result["locations"][0]["physicalLocation"]["region"]["startLine"] and f.fix
            )
            assert finding.fix is not None
            assert _apply_sarif_fix(text, fix) == apply_edits(text, finding.fix.edits), uri
            checked += 1
    assert checked > 0
