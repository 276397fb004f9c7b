"""`mountie check --format json`: a stable, versioned document for scripts.

Schema, version 1 (fields are only ever added within a version; a change that removes or
re-types a field bumps `version`)::

    {
      "version": 1,
      "files": [                          # every file that was read, in command-line order
        {
          "path": "app/Dockerfile",       # as given or found: normalised, "/"-separated;
                                          # standard input is "<stdin>" or --stdin-filename
          "findings": [                   # sorted by line, column, code
            {
              "code": "BKM001",
              "name": "artifact-in-cache-mount",
              "severity": "error",        # "info" | "warning" | "error"
              "line": 6,                  # 1-based first line of the instruction
              "end_line": 6,              # 1-based last line (continuations, heredocs)
              "column": 1,                # 1-based
              "message": "COPY --from=builder reads ...",
              "fix": {                    # or null
                "title": "Move the artifact out of the mount in the same RUN",
                "edits": [                # replace lines start_line..end_line (1-based,
                                          # inclusive, of the original file) with new_text
                                          # (no trailing newline; "" deletes the lines);
                                          # edits of one fix never overlap
                  {"start_line": 4, "end_line": 4, "new_text": "RUN ... && mv ..."}
                ]
              },
              "no_fix_reason": null,      # why there is no fix, when known (string or null)
              "related_lines": [4]        # other lines that explain the finding
            }
          ],
          "problems": [                   # what BuildKit would reject or read differently
            {"line": 2, "message": "...", "fatal": false}
          ]                               # a fatal problem means no rule ran on the file
        }
      ],
      "errors": [                         # paths that could not be read at all
        {"path": "missing/Dockerfile", "message": "no such file or directory"}
      ],
      "summary": {
        "files": 1,                       # files read (len(files))
        "findings": 1,
        "by_severity": {"error": 1, "warning": 0, "info": 0},
        "fixable": 1,                     # findings with a fix
        "problems": 0,                    # non-fatal problems
        "unchecked": 0,                   # errors + files with a fatal problem
        "fail_level": "warning",
        "exit_code": 1                    # the command's exit status
      }
    }
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from bot.dockerfile.errors import Problem
from bot.output import Report, dump_json
from bot.rules import RULES_BY_CODE
from bot.rules.base import Finding, Rule

SCHEMA_VERSION = 1


def finding_to_dict(finding: Finding) -> dict[str, Any]:
    rule = RULES_BY_CODE.get(finding.code)
    fix = finding.fix
    return {
        "code": finding.code,
        "name": rule.name if rule is not None else finding.code.lower(),
        "severity": finding.severity.label,
        "line": finding.line,
        "end_line": finding.end_line,
        "column": finding.column,
        "message": finding.message,
        "fix": None
        if fix is None
        else {
            "title": fix.title,
            "edits": [
                {"start_line": e.start_line, "end_line": e.end_line, "new_text": e.new_text}
                for e in fix.edits
            ],
        },
        "no_fix_reason": finding.no_fix_reason,
        "related_lines": list(finding.related_lines),
    }


def problem_to_dict(problem: Problem) -> dict[str, Any]:
    return {"line": problem.line, "message": problem.message, "fatal": problem.fatal}


def report_to_dict(report: Report) -> dict[str, Any]:
    findings = report.findings
    return {
        "version": SCHEMA_VERSION,
        "files": [
            {
                "path": file.path,
                "findings": [finding_to_dict(f) for f in file.result.findings],
                "problems": [problem_to_dict(p) for p in file.result.problems],
            }
            for file in report.files
        ],
        "errors": [{"path": error.path, "message": error.message} for error in report.errors],
        "summary": {
            "files": len(report.files),
            "findings": len(findings),
            "by_severity": report.severity_counts(),
            "fixable": sum(1 for f in findings if f.fix is not None),
            "problems": sum(1 for file in report.files for p in file.result.problems if not p.fatal),
            "unchecked": len(report.errors) + sum(1 for file in report.files if file.fatal),
            "fail_level": report.fail_level.label,
            "exit_code": report.exit_code,
        },
    }


def render_check(report: Report) -> str:
    return dump_json(report_to_dict(report)) + "\n"


def rules_json(rules: Iterable[Rule]) -> str:
    """`mountie rules --format json`: a list of {code, name, severity, fix, summary, doc}; `fix` is
    "always", "sometimes" or "never"."""
    data = [
        {
            "code": rule.code,
            "name": rule.name,
            "severity": rule.severity.label,
            "fix": rule.fix.value,
            "summary": rule.summary,
            "doc": rule.doc.strip(),
        }
        for rule in rules
    ]
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
