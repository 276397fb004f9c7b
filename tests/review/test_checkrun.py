"""The check run: conclusion by fail level, the summary table, annotations, limits."""

from __future__ import annotations

from bot.config import ConfigError, RepoConfig
from bot.dockerfile.errors import Problem
from bot.review.checkrun import SUMMARY_LIMIT, check_report, no_dockerfile
from bot.review.model import ChangedFile, FileReport
from bot.rules.base import Severity
from tests.review.builders import finding, replace_line, report

SHA = "0123456789abcdef0123"


def test_conclusion_follows_the_fail_level() -> None:
    info = report([finding(3, "BKM006", severity=Severity.INFO)])
    assert check_report([info], RepoConfig(), SHA).conclusion == "success"
    assert check_report([info], RepoConfig(fail_level=Severity.INFO), SHA).conclusion == "failure"
    assert check_report([report([])], RepoConfig(), SHA).conclusion == "success"


def test_summary_table_and_title() -> None:
    reports = [
        report([finding(3, severity=Severity.ERROR, message="a | b")]),
        report([finding(9, "BKM006", severity=Severity.INFO)], path="api/Dockerfile"),
    ]
    check = check_report(reports, RepoConfig(), SHA)
    assert check.title == "2 findings: 1 error, 1 info"
    assert check.summary.startswith(
        "Checked 2 Dockerfiles at `0123456789ab`; findings at or above **warning**"
    )
    assert "| `Dockerfile` | 3 | [BKM005 relative-target-implicit-id](" in check.summary
    assert "| error | a \\| b |" in check.summary
    assert "| `api/Dockerfile` | 9 |" in check.summary


def test_every_finding_is_annotated_with_its_level_and_fix() -> None:
    reports = [
        report(
            [
                finding(3, severity=Severity.ERROR, edits=(replace_line(3, "RUN three"),), title="Name it"),
                finding(30, severity=Severity.INFO, no_fix_reason="choose an id"),
            ],
            patch=None,
        )
    ]
    error, info = check_report(reports, RepoConfig(), SHA).annotations
    assert (error.path, error.start_line, error.end_line, error.level) == ("Dockerfile", 3, 3, "failure")
    assert error.title == "BKM005 relative-target-implicit-id"
    assert error.raw_details == "Fix: Name it\n@@ -3,1 +3,1 @@\n-RUN echo 3\n+RUN three"
    assert (info.level, info.raw_details) == ("notice", "No automatic fix: choose an id")


def test_unanalysed_files_problems_and_configuration_errors_are_listed() -> None:
    too_big = FileReport(
        ChangedFile("big/Dockerfile", "added", None), None, None, "file is over 1 MB; not analysed"
    )
    broken = report([], problems=(Problem(2, "unterminated heredoc", fatal=True),))
    config = RepoConfig(source=".github/mountie.yml", errors=(ConfigError(3, "unknown rule BKM999"),))
    summary = check_report([too_big, broken], config, SHA).summary
    assert "- `big/Dockerfile`: file is over 1 MB; not analysed" in summary
    assert "- `Dockerfile` line 2: unterminated heredoc (not analysed)" in summary
    assert "**`.github/mountie.yml` has errors;**" in summary and "- line 3: unknown rule BKM999" in summary
    assert "line 3: unknown rule BKM999" in no_dockerfile(config).summary


def test_the_summary_stays_under_the_checks_api_limit() -> None:
    findings = [finding(n % 40 + 1, message="m" * 2000) for n in range(100)]
    check = check_report([report(findings)], RepoConfig(), SHA)
    assert len(check.summary) <= SUMMARY_LIMIT
    assert "more: see the annotations." in check.summary
    assert len(check.annotations) == 100


def test_no_dockerfile_is_neutral() -> None:
    check = no_dockerfile(RepoConfig())
    assert (check.conclusion, check.title, check.annotations) == ("neutral", "No Dockerfile changed", ())
