"""Mountie's claims checked against a real builder (buildah 1.28, see conftest.py).

For each proof fixture in `fixtures/`: Mountie reports the rule on the annotated line; the builder,
building it twice with different `V` (so a stale artifact would show), shows the hazard (the build
fails, or the image holds a stale, foreign or missing artifact); `mountie fix` (or, for rules
without a fix, the hand-written "Use instead" version) removes the finding, and the builder then
puts the freshly built artifact in the image. Near-misses, which Mountie does not flag, build
correctly. Each fixture's header says what BuildKit does and what buildah shows; the assertions
are about what buildah does.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from bot.engine import lint_text
from bot.rules.base import Finding, Severity
from tests.builder.conftest import FIXTURES, Builder
from tests.fixture_cases import load_case

pytestmark = pytest.mark.builder

ROOT = Path(__file__).resolve().parents[2]
VERSIONS = ("1", "2")
APP = "/usr/local/bin/app"
SOURCE = "source of app\n"
STALE = "stale build from the developer's machine\n"


def _context(tmp_path: Path, fixture: str, files: Mapping[str, str] | None = None) -> Path:
    """A fresh build context: the fixture as its Dockerfile, plus `files`."""
    context = tmp_path / Path(fixture).stem.replace(".", "-")
    context.mkdir(parents=True)
    shutil.copyfile(FIXTURES / fixture, context / "Dockerfile")
    for name, text in (files or {}).items():
        path = context / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return context


def _lint(dockerfile: Path) -> list[Finding]:
    result = lint_text(dockerfile.read_text(encoding="utf-8"), str(dockerfile))
    assert not result.problems, result.problems
    return list(result.findings)


def _describe(findings: list[Finding]) -> str:
    return "\n".join(f"{f.line}: {f.code} [{f.severity.label}] {f.message}" for f in findings)


def _assert_fires(fixture: str, code: str) -> None:
    """The linter's verdict on the hazard: `code` on exactly the lines annotated `# expect:`."""
    case = load_case(code, FIXTURES / fixture)
    assert case.expected, f"{fixture} has no `# expect: {code}` annotation"
    findings = _lint(FIXTURES / fixture)
    assert {f.line for f in findings if f.code == code} == case.expected, _describe(findings)


def _assert_clean(dockerfile: Path, *codes: str) -> None:
    """The linter's verdict on a fixed version or near-miss: none of `codes`, nothing above info."""
    findings = _lint(dockerfile)
    flagged = [f for f in findings if f.code in codes or f.severity >= Severity.WARNING]
    assert not flagged, _describe(flagged)


def _mountie_fix(dockerfile: Path, code: str) -> str:
    """`mountie fix` on the file, as a user runs it; returns the fixed text."""
    before = dockerfile.read_text(encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "bot", "fix", str(dockerfile)],
        cwd=dockerfile.parent,
        env={**{k: v for k, v in os.environ.items() if k != "MOUNTIE_DEBUG"}, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode in {0, 1}, done.stdout + done.stderr
    assert re.search(rf": fixed {code}: ", done.stdout), done.stdout + done.stderr
    after = dockerfile.read_text(encoding="utf-8")
    assert after != before
    return after


def _assert_fresh(builder: Builder, context: Path, expected: str = "build {v}\n") -> None:
    """Both builds succeed and the image holds what that build produced."""
    for v in VERSIONS:
        build = builder.build(context, {"V": v})
        assert build.ok, build.log
        assert builder.read(build.image, APP) == expected.format(v=v), build.log


def _assert_copy_fails(builder: Builder, context: Path, path: str) -> None:
    """buildah: both builds fail at the COPY --from, which finds nothing at `path`."""
    for v in VERSIONS:
        build = builder.build(context, {"V": v})
        assert not build.ok, f"{builder.store.version}: the build succeeded:\n{build.log}"
        assert f'"{path}": no such file or directory' in build.log, build.log


def test_bkm001_copy_from_cache(builder: Builder, tmp_path: Path) -> None:
    fixture = "bkm001_copy_from_cache.Dockerfile"
    _assert_fires(fixture, "BKM001")
    context = _context(tmp_path, fixture)
    # BuildKit fails with "not found"; buildah alike, whatever the cache holds from the first build.
    _assert_copy_fails(builder, context, "/app/target/release/app")

    fixed = _mountie_fix(context / "Dockerfile", "BKM001")
    assert "&& mv target/release/app /tmp/app\n" in fixed
    _assert_clean(context / "Dockerfile", "BKM001")
    _assert_fresh(builder, context)


def test_bkm001_stale_context(builder: Builder, tmp_path: Path) -> None:
    fixture = "bkm001_stale_context.Dockerfile"
    _assert_fires(fixture, "BKM001")
    context = _context(tmp_path, fixture, {"target/release/app": STALE})
    # BuildKit would ship STALE here. buildah 1.28 removes /app/target after the RUN, stale copy and
    # all, so the COPY fails instead; the builder stage shows it: sources copied, target/ gone.
    _assert_copy_fails(builder, context, "/app/target/release/app")
    stage = builder.build(context, {"V": "1"}, target="builder")
    assert stage.ok, stage.log
    assert builder.read(stage.image, "/app/Dockerfile") is not None  # COPY . . did copy the context
    assert builder.read(stage.image, "/app/target/release/app") is None

    _mountie_fix(context / "Dockerfile", "BKM001")
    _assert_clean(context / "Dockerfile", "BKM001")
    _assert_fresh(builder, context)  # never STALE: the fresh build, moved out of the mount


def test_bkm002_cmd_from_cache(builder: Builder, tmp_path: Path) -> None:
    fixture = "bkm002_cmd_from_cache.Dockerfile"
    _assert_fires(fixture, "BKM002")
    context = _context(tmp_path, fixture)
    # BuildKit and buildah: the build succeeds, the image has nothing where CMD points.
    for v in VERSIONS:
        build = builder.build(context, {"V": v})
        assert build.ok, build.log
        assert builder.read(build.image, "/app/target/release/app") is None
        started = builder.start(build.image)
        assert started.returncode != 0
        assert "target/release/app: no such file or directory" in started.stderr, started.stderr

    fixed = _mountie_fix(context / "Dockerfile", "BKM002")
    assert 'CMD ["/usr/local/bin/app"]' in fixed
    _assert_clean(context / "Dockerfile", "BKM002")
    for v in VERSIONS:
        build = builder.build(context, {"V": v})
        assert build.ok, build.log
        started = builder.start(build.image)
        assert (started.returncode, started.stdout) == (0, f"build {v}\n"), started.stderr


def _build_edit_rebuild(builder: Builder, context: Path) -> tuple[list[str | None], str]:
    """With layer caching, as BuildKit always has it: build V=1, build V=2, then edit the copy
    (`cp` -> `cp -p`) and build V=1 again. Returns what each image holds, and the last log."""
    held: list[str | None] = []
    log = ""
    for step, v in enumerate(("1", "2", "1")):
        if step == 2:
            dockerfile = context / "Dockerfile"
            text = dockerfile.read_text(encoding="utf-8")
            assert text.count("cp target/release/app") == 1, text
            dockerfile.write_text(text.replace("cp target/release/app", "cp -p target/release/app"))
        build = builder.build(context, {"V": v}, layers=True)
        assert build.ok, build.log
        held.append(builder.read(build.image, APP))
        log = build.log
    return held, log


def test_bkm004_copy_in_separate_run(builder: Builder, tmp_path: Path) -> None:
    fixture = "bkm004_copy_in_separate_run.Dockerfile"
    _assert_fires(fixture, "BKM004")
    context = _context(tmp_path, fixture)
    # BuildKit and buildah: the building RUN of the third build (V=1 again) is a layer-cache hit,
    # the edited copy runs on the cache the V=2 build left: the V=1 image ships "build 2".
    held, log = _build_edit_rebuild(builder, context)
    assert held == ["build 1\n", "build 2\n", "build 2\n"], log
    # The log of the third build: the building RUN's step is followed by "--> Using cache <id>".
    building = re.search(r"STEP \d+/\d+: RUN [^\n]* mkdir -p target/release [^\n]*\n([^\n]*)", log)
    assert building is not None and building.group(1).startswith("--> Using cache"), log

    context = _context(tmp_path / "fixed", fixture)  # the fixture as written, not the edited copy
    fixed = _mountie_fix(context / "Dockerfile", "BKM004")
    assert len(re.findall(r"^RUN ", fixed, re.MULTILINE)) == 1, fixed
    _assert_clean(context / "Dockerfile", "BKM004")
    held, log = _build_edit_rebuild(builder, context)  # same builder: the cache still holds "build 2"
    assert held == ["build 1\n", "build 2\n", "build 1\n"], log


def test_bkm010_ro_bind(builder: Builder, tmp_path: Path) -> None:
    fixture = "bkm010_ro_bind.Dockerfile"
    _assert_fires(fixture, "BKM010")
    context = _context(tmp_path, fixture, {"main.src": SOURCE})
    # BuildKit: "read-only file system"; buildah the same.
    for v in VERSIONS:
        build = builder.build(context, {"V": v})
        assert not build.ok, build.log
        assert "can't create directory 'out': Read-only file system" in build.log, build.log

    # No automatic fix: the hand-written "Use instead" version.
    instead = _context(tmp_path, "bkm010_ro_bind.instead.Dockerfile", {"main.src": SOURCE})
    _assert_clean(instead / "Dockerfile", "BKM010", "BKM001")
    _assert_fresh(builder, instead, SOURCE + "build {v}\n")


def test_bkm010_rw_bind(builder: Builder, tmp_path: Path) -> None:
    fixture = "bkm010_rw_bind.Dockerfile"
    _assert_fires(fixture, "BKM010")
    _assert_fires(fixture, "BKM001")
    context = _context(tmp_path, fixture, {"main.src": SOURCE})
    # BuildKit discards the write; buildah 1.28 writes through to the context, but not the layer.
    _assert_copy_fails(builder, context, "/src/out/app")

    # BKM010 has no fix; BKM001's fix moves the output out of the bind in the same RUN.
    _mountie_fix(context / "Dockerfile", "BKM001")
    _assert_clean(context / "Dockerfile", "BKM010", "BKM001")
    _assert_fresh(builder, context, SOURCE + "build {v}\n")


def test_bkm011_cache_over_sources(builder: Builder, tmp_path: Path) -> None:
    fixture = "bkm011_cache_over_sources.Dockerfile"
    _assert_fires(fixture, "BKM011")
    context = _context(tmp_path, fixture, {"main.src": SOURCE})
    # BuildKit and buildah: the mount hides main.src, every time.
    for v in VERSIONS:
        build = builder.build(context, {"V": v})
        assert not build.ok, build.log
        assert "can't open 'main.src': No such file or directory" in build.log, build.log

    # No automatic fix: the hand-written "Use instead" version.
    instead = _context(tmp_path, "bkm011_cache_over_sources.instead.Dockerfile", {"main.src": SOURCE})
    _assert_clean(instead / "Dockerfile", "BKM011", "BKM001")
    _assert_fresh(builder, instead, SOURCE + "build {v}\n")


def test_near_miss_copy_out_same_run(builder: Builder, tmp_path: Path) -> None:
    fixture = "near_miss_copy_out_same_run.Dockerfile"
    context = _context(tmp_path, fixture)
    _assert_clean(context / "Dockerfile", "BKM001", "BKM002", "BKM004")
    _assert_fresh(builder, context)


def test_every_fixture_is_proven() -> None:
    """Each proof fixture is used above, and its header says what BuildKit and buildah do."""
    source = Path(__file__).read_text(encoding="utf-8")
    for path in sorted(FIXTURES.glob("*.Dockerfile")):
        assert f'"{path.name}"' in source, f"{path.name} is not used by any proof"
        header = path.read_text(encoding="utf-8").split("\nFROM ", 1)[0]
        assert "BuildKit" in header and "buildah" in header, f"{path.name}: say what BuildKit and buildah do"
