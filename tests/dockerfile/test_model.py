"""Stages, WORKDIR, USER, SHELL, ARG/ENV scope, exec vs shell form and ONBUILD in the model."""

from __future__ import annotations

import pytest

from bot.dockerfile.model import Dockerfile, Step, parse_dockerfile


def _df(text: str) -> Dockerfile:
    df = parse_dockerfile(text)
    assert df.ok, df.problems
    return df


def _step(df: Dockerfile, line: int) -> Step:
    return next(step for step in df.steps() if step.line == line)


# -- stages ---------------------------------------------------------------------------------------


def test_stage_names_are_lower_cased_and_indexed() -> None:
    df = _df("FROM rust AS Builder\nRUN x\nFROM debian\nFROM alpine AS final\n")
    assert [(s.index, s.name, s.label) for s in df.stages] == [
        (0, "builder", "builder"),
        (1, None, "1"),
        (2, "final", "final"),
    ]


@pytest.mark.parametrize(
    ("ref", "index"), [("builder", 0), ("BUILDER", 0), ("Builder", 0), ("0", 0), ("1", 1), ("final", 2)]
)
def test_stage_lookup_by_name_or_index(ref: str, index: int) -> None:
    df = _df("FROM rust AS builder\nFROM debian\nFROM alpine AS final\n")
    stage = df.stage_for(ref)
    assert stage is not None
    assert stage.index == index


@pytest.mark.parametrize("ref", ["nginx:latest", "3", "ghcr.io/acme/tools:1", "build"])
def test_unknown_stage_reference_is_an_image(ref: str) -> None:
    assert _df("FROM rust AS builder\nFROM debian\nFROM alpine\n").stage_for(ref) is None


def test_invalid_stage_name() -> None:
    df = parse_dockerfile("FROM rust AS 1st\n")
    assert not df.ok
    assert "invalid name for build stage" in df.problems[0].message


def test_from_a_stage_is_exact_and_only_looks_back() -> None:
    df = _df("FROM rust AS builder\nFROM builder AS child\nFROM later AS early\nFROM alpine AS later\n")
    child, early = df.stages[1], df.stages[2]
    assert child.parent is df.stages[0]
    assert early.parent is None  # `later` is defined after it: an image
    # `FROM Builder` is an image reference, not the stage.
    assert _df("FROM rust AS builder\nFROM Builder\n").stages[1].parent is None


def test_child_stage_inherits_env_workdir_user_and_shell_but_not_args() -> None:
    df = _df(
        "FROM scratch AS builder\nARG PROFILE=release\nENV CARGO_TARGET_DIR=/out\n"
        "WORKDIR /app\nUSER builder\n"
        'SHELL ["/bin/bash", "-c"]\nFROM builder AS test\nRUN cargo test\n'
    )
    step = _step(df, 8)
    assert step.stage.name == "test"
    assert step.workdir.path == "/app"
    assert step.user == "builder"
    assert step.shell == ("/bin/bash", "-c")
    assert step.scope.lookup("CARGO_TARGET_DIR") == (True, "/out")
    assert step.scope.lookup("PROFILE") == (True, None)  # the ARG stayed in its stage: unset
    assert [s.line for s in step.stage.chain()] == [2, 3, 4, 5, 6, 8]


def test_global_args_need_redeclaring_in_a_stage() -> None:
    df = _df("ARG VERSION=1.2\nARG BASE=alpine\nFROM ${BASE}:3.20\nRUN echo\nARG VERSION\nRUN echo\n")
    assert df.stages[0].base == "alpine:3.20"
    assert _step(df, 4).scope.lookup("VERSION") == (False, None)  # unknown base: may be its ENV
    assert _step(df, 6).scope.lookup("VERSION") == (True, "1.2")


def test_stage_arg_default_overrides_the_global_one() -> None:
    df = _df("ARG V=global\nFROM scratch\nARG V=local\nRUN x\n")
    assert _step(df, 4).scope.lookup("V") == (True, "local")


def test_arg_without_default_is_unknown() -> None:
    df = _df("FROM scratch\nARG NAME\nRUN x\n")
    assert _step(df, 3).scope.lookup("NAME") == (False, None)


def test_platform_args_are_unknown() -> None:
    df = _df("FROM scratch\nARG TARGETARCH\nRUN x\n")
    assert _step(df, 3).scope.lookup("TARGETARCH") == (False, None)


def test_env_overrides_arg_and_sees_the_scope_before_it() -> None:
    df = _df("FROM scratch\nARG A=arg\nENV A=env B=$A\nENV C=${A}\nRUN x\n")
    scope = _step(df, 5).scope
    assert scope.lookup("A") == (True, "env")
    assert scope.lookup("B") == (True, "arg")  # every pair of one ENV sees the scope before it
    assert scope.lookup("C") == (True, "env")


def test_legacy_env_form() -> None:
    df = _df("FROM scratch\nENV GREETING hello   world\nENV TAB\tvalue\nRUN x\n")
    scope = _step(df, 4).scope
    assert scope.lookup("GREETING") == (True, "hello   world")
    assert scope.lookup("TAB") == (True, "value")


def test_known_base_images_supply_workdir_and_env() -> None:
    df = _df("FROM golang:1.22 AS go\nRUN x\nFROM docker.io/library/rust:1.79\nRUN y\n")
    go, rust = _step(df, 2), _step(df, 4)
    assert (go.workdir.path, go.workdir.assumed) == ("/go", False)
    assert go.scope.lookup("GOPATH") == (True, "/go")
    assert (rust.workdir.path, rust.workdir.assumed) == ("/", False)
    assert rust.scope.lookup("CARGO_HOME") == (True, "/usr/local/cargo")


def test_unknown_base_image_env_is_unknown() -> None:
    df = _df("FROM example/image\nRUN x\n")
    step = _step(df, 2)
    assert step.scope.lookup("ANYTHING") == (False, None)
    assert step.workdir.assumed


# -- WORKDIR --------------------------------------------------------------------------------------


def test_workdir_joins_relative_paths() -> None:
    df = _df("FROM scratch\nWORKDIR /srv\nWORKDIR app/\nWORKDIR ../lib\nRUN x\nWORKDIR /\nRUN y\n")
    assert _step(df, 5).workdir.path == "/srv/lib"
    assert _step(df, 7).workdir.path == "/"


def test_relative_workdir_on_an_unknown_base_stays_assumed() -> None:
    df = _df("FROM example/base\nWORKDIR app\nRUN x\nWORKDIR /abs\nRUN y\n")
    assert (_step(df, 3).workdir.path, _step(df, 3).workdir.assumed) == ("/app", True)
    assert (_step(df, 5).workdir.path, _step(df, 5).workdir.assumed) == ("/abs", False)


def test_workdir_with_variables() -> None:
    df = _df("FROM scratch\nENV HOME=/home/app\nWORKDIR $HOME/src\nRUN x\n")
    assert _step(df, 4).workdir.path == "/home/app/src"


def test_workdir_with_an_unknown_variable_is_reported_not_guessed() -> None:
    df = parse_dockerfile("FROM scratch\nARG DIR\nWORKDIR /opt\nWORKDIR $DIR\nRUN x\n")
    assert df.ok
    assert [p.line for p in df.problems] == [4]
    assert not df.problems[0].fatal
    assert _step(df, 5).workdir.assumed


# -- USER / SHELL ----------------------------------------------------------------------------------


def test_user_is_expanded() -> None:
    df = _df("FROM scratch\nARG UID=1000\nUSER ${UID}:${UID}\nRUN x\n")
    step = _step(df, 4)
    assert (step.user, step.user_known) == ("1000:1000", True)


def test_shell_changes_the_shell_of_later_runs() -> None:
    df = _df('FROM scratch\nRUN a\nSHELL ["pwsh", "-Command"]\nRUN b\n')
    assert _step(df, 2).runs_posix_shell
    assert not _step(df, 4).runs_posix_shell


def test_shell_requires_json() -> None:
    df = parse_dockerfile("FROM scratch\nSHELL /bin/bash -c\n")
    assert not df.ok


# -- exec form / shell form ----------------------------------------------------------------------


def test_exec_and_shell_form() -> None:
    df = _df('FROM scratch\nRUN ["cargo", "build"]\nRUN cargo build\nCMD [ "a" , "b" ]\n')
    assert df.instructions[1].exec_form == ("cargo", "build")
    assert df.instructions[2].exec_form is None
    assert df.instructions[3].exec_form == ("a", "b")


def test_invalid_json_is_shell_form_with_a_note() -> None:
    df = parse_dockerfile("FROM scratch\nRUN [cargo, build]\n")
    assert df.ok
    assert df.instructions[1].exec_form is None
    assert [p.fatal for p in df.problems] == [False]


def test_json_array_of_non_strings_is_an_error() -> None:
    df = parse_dockerfile('FROM scratch\nRUN ["echo", 1]\n')
    assert not df.ok
    assert "comprised of strings only" in df.problems[0].message


def test_exec_form_after_mount_flags() -> None:
    df = _df('FROM scratch\nRUN --mount=type=cache,target=/c ["make", "all"]\n')
    ins = df.instructions[1]
    assert ins.exec_form == ("make", "all")
    assert [f.name for f in ins.flags] == ["mount"]


def test_heredoc_script_is_the_run_command() -> None:
    df = _df("FROM scratch\nRUN <<EOF bash\necho hi\nEOF\nRUN cat <<EOF\nx\nEOF\n")
    assert df.instructions[1].heredoc_script is not None
    assert df.instructions[2].heredoc_script is None  # a heredoc argument, not the script


# -- ONBUILD ---------------------------------------------------------------------------------------


def test_onbuild_keeps_the_trigger_with_its_flags() -> None:
    df = _df("FROM scratch\nONBUILD RUN --mount=type=cache,target=/root/.cache pip install .\n")
    ins = df.instructions[1]
    assert ins.keyword == "ONBUILD"
    assert ins.trigger is not None
    assert ins.trigger.keyword == "RUN"
    assert [(f.name, f.value) for f in ins.trigger.flags] == [("mount", "type=cache,target=/root/.cache")]
    assert ins.trigger.args == "pip install ."


@pytest.mark.parametrize("trigger", ["ONBUILD RUN x", "FROM alpine", "MAINTAINER me"])
def test_onbuild_forbidden_triggers(trigger: str) -> None:
    assert not parse_dockerfile(f"FROM scratch\nONBUILD {trigger}\n").ok


# -- structural problems ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no instructions"),
        ("# only a comment\n", "no instructions"),
        ("ARG X=1\n", "no FROM"),
        ("RUN x\n", "before the first FROM"),
        ("FROM a\nFETCH x\n", "unknown instruction"),
        ("FROM a b\n", "FROM takes"),
    ],
)
def test_structural_problems(text: str, message: str) -> None:
    df = parse_dockerfile(text)
    assert not df.ok
    assert message in df.problems[0].message


def test_keywords_are_case_insensitive() -> None:
    df = _df("from alpine as Base\nrun --mount=type=cache,target=/c echo\n")
    assert [i.keyword for i in df.instructions] == ["FROM", "RUN"]
    assert df.instructions[1].written_keyword == "run"
    assert df.stages[0].name == "base"
