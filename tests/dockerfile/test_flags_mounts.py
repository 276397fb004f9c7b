"""Instruction flags (`extractBuilderFlags`, BFlags) and the `--mount` CSV grammar
(`commands_runmount.go`)."""

from __future__ import annotations

import pytest

from bot.dockerfile.flags import parse_flags, split_flags
from bot.dockerfile.model import Dockerfile, parse_dockerfile
from bot.dockerfile.mounts import MountError, parse_mount, read_csv_record
from bot.dockerfile.words import EMPTY_SCOPE, Scope

# -- flags ----------------------------------------------------------------------------------------


def test_flags_are_leading_double_dash_words() -> None:
    flags, rest, _ = parse_flags("--mount=type=cache,target=/x --network=none cargo --build", "\\")
    assert [(f.name, f.value) for f in flags] == [("mount", "type=cache,target=/x"), ("network", "none")]
    assert rest == "cargo --build"


def test_quotes_inside_flags_are_removed_and_escape_escapes() -> None:
    words, _ = split_flags("--mount=\"type=cache,target=/a b\" --x=a\\ b --y='c d' run", "\\")
    assert [w for w, _, _ in words] == ["--mount=type=cache,target=/a b", "--x=a b", "--y=c d"]


def test_double_dash_ends_the_flags() -> None:
    flags, rest, _ = parse_flags("--mount=type=tmpfs,target=/t -- --not-a-flag x", "\\")
    assert [f.name for f in flags] == ["mount"]
    assert rest == "--not-a-flag x"


def test_bare_flag_has_no_value() -> None:
    flags, _, _ = parse_flags("--link --from=build a b", "\\")
    assert [(f.name, f.value) for f in flags] == [("link", None), ("from", "build")]


def test_flag_spans_point_into_the_logical_line() -> None:
    df = parse_dockerfile("FROM a\nRUN  --mount=type=cache,target=/c  echo\n")
    ins = df.instructions[1]
    (flag,) = ins.flags
    assert ins.raw.logical[flag.start : flag.end] == "--mount=type=cache,target=/c"
    assert ins.raw.logical[ins.args_offset :] == "echo"


def _problem(text: str) -> str:
    df = parse_dockerfile(text)
    assert not df.ok, df.problems
    return df.problems[0].message


def test_mount_requires_equals() -> None:
    # `--mount type=cache` is the flag `--mount` without a value, then a command.
    assert "requires a value" in _problem("FROM a\nRUN --mount type=cache,target=/x echo\n")


def test_flag_names_are_case_sensitive() -> None:
    assert "unknown flag" in _problem("FROM a\nRUN --MOUNT=type=cache,target=/x echo\n")


def test_unknown_flag() -> None:
    assert "unknown flag --chown" in _problem("FROM a\nRUN --chown=1 echo\n")


def test_repeated_mount_flags() -> None:
    df = parse_dockerfile(
        "FROM a\nWORKDIR /w\nRUN --mount=type=cache,target=/a --mount=type=tmpfs,target=b "
        "--mount=type=secret,id=tok echo\n"
    )
    mounts = df.stages[0].steps[1].mounts
    assert [(m.mount.type, m.target) for m in mounts] == [
        ("cache", "/a"),
        ("tmpfs", "/w/b"),
        ("secret", "/run/secrets/tok"),
    ]


# -- the CSV record ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "fields"),
    [
        ("type=cache,target=/x", ["type=cache", "target=/x"]),
        ('"target=/a,b",type=bind', ["target=/a,b", "type=bind"]),
        ('"a ""quoted"" word"', ['a "quoted" word']),
        ("a,,b", ["a", "", "b"]),
        ("a,", ["a", ""]),
    ],
)
def test_csv_record(value: str, fields: list[str]) -> None:
    assert read_csv_record(value) == fields


@pytest.mark.parametrize("value", ["", 'target=/a"b', '"target=/a"b', '"unterminated'])
def test_csv_errors_like_go(value: str) -> None:
    with pytest.raises(MountError):
        read_csv_record(value)


# -- mount options ---------------------------------------------------------------------------------


def test_type_defaults_to_bind_and_bind_is_read_only() -> None:
    mount = parse_mount("target=/src,source=.", EMPTY_SCOPE)
    assert (mount.type, mount.readonly, mount.ephemeral) == ("bind", True, True)


@pytest.mark.parametrize("kind", ["cache", "tmpfs"])
def test_cache_and_tmpfs_are_read_write(kind: str) -> None:
    assert not parse_mount(f"type={kind},target=/x", EMPTY_SCOPE).readonly


@pytest.mark.parametrize(
    ("value", "readonly"),
    [
        ("type=cache,target=/x,ro", True),
        ("type=cache,target=/x,readonly", True),
        ("type=cache,target=/x,ro=true", True),
        ("type=bind,target=/x,rw", False),
        ("type=bind,target=/x,readwrite=1", False),
        ("type=bind,target=/x,rw=false", True),
        ("type=bind,target=/x,readonly=F", False),
    ],
)
def test_readonly_forms(value: str, readonly: bool) -> None:
    assert parse_mount(value, EMPTY_SCOPE).readonly is readonly


@pytest.mark.parametrize(
    ("value", "key", "expected"),
    [
        ("dst=/a", "target", "/a"),
        ("destination=/a", "target", "/a"),
        ("TARGET=/a", "target", "/a"),
        ("src=x,target=/a", "source", "x"),
    ],
)
def test_aliases_and_key_case(value: str, key: str, expected: str) -> None:
    mount = parse_mount(value, EMPTY_SCOPE)
    assert getattr(mount, key) == expected


def test_type_and_sharing_values_are_case_insensitive() -> None:
    mount = parse_mount("type=CACHE,target=/x,sharing=Locked", EMPTY_SCOPE)
    assert (mount.type, mount.sharing) == ("cache", "locked")


def test_quoted_field_keeps_commas() -> None:
    mount = parse_mount('type=cache,"target=/a,b"', EMPTY_SCOPE)
    assert mount.target == "/a,b"


def test_default_cache_id_is_the_cleaned_target_as_written() -> None:
    assert parse_mount("type=cache,target=/app/target/", EMPTY_SCOPE).cache_id == "/app/target"
    assert parse_mount("type=cache,target=target", EMPTY_SCOPE).cache_id == "target"
    assert parse_mount("type=cache,target=/x,id=mine", EMPTY_SCOPE).cache_id == "mine"
    assert parse_mount("type=cache,target=/x,id=", EMPTY_SCOPE).cache_id == "/x"
    assert parse_mount("type=bind,target=/x", EMPTY_SCOPE).cache_id is None


def test_values_are_expanded_with_the_run_scope() -> None:
    scope = Scope({"ARCH": "arm64", "DIR": "/cache"}, complete=True)
    mount = parse_mount("type=cache,id=apt-${ARCH},target=$DIR/apt", scope)
    assert (mount.id, mount.target, mount.unresolved) == ("apt-arm64", "/cache/apt", ())


def test_unresolved_values_are_never_guessed() -> None:
    mount = parse_mount("type=cache,target=$GOPATH/pkg/mod,uid=${UID}", Scope({}, complete=False))
    assert mount.target is None
    assert mount.uid is None
    assert set(mount.unresolved) == {"target", "uid"}


def test_unresolved_type_is_not_ephemeral() -> None:
    mount = parse_mount("type=$KIND,target=/x", Scope({}, complete=False))
    assert not mount.ephemeral


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("type=volume,target=/x", "unsupported mount type"),
        ("type=cache,target=/x,sharing=exclusive", "unsupported sharing value"),
        ("type=bind,target=/x,sharing=locked", "invalid cache sharing"),
        ("type=cache,target=/x,uid=app", "invalid value app for uid"),
        ("type=cache,target=/x,gid=-1", "invalid value -1 for gid"),
        ("type=cache,target=/x,mode=0899", "invalid value 0899 for mode"),
        ("type=bind,target=/x,uid=1000", "uid not allowed"),
        ("type=tmpfs,target=/x,mode=0700", "mode not allowed"),
        ("type=cache,target=/x,size=1g", "unexpected key 'size'"),
        ("type=tmpfs,target=/x,size=lots", "invalid value for size"),
        ("type=cache,target=/x,required", "unexpected key 'required'"),
        ("type=cache,target=/x,ro=maybe", "invalid value for readonly"),
        ("type=cache,target=/x,colour=blue", "unexpected key 'colour'"),
        ("type=cache,target=/x,nokey", "must be a key=value pair"),
        ("type=cache,from=$STAGE,target=/x", "doesn't support variable expansion"),
        ("type=secret,from=build,id=x", "secret mount should not have a from"),
        ("type=secret,source=a,id=b", "both source and id"),
        ("type=secret", "one of source, target required"),
        ("", "EOF"),
    ],
)
def test_invalid_mounts(value: str, message: str) -> None:
    with pytest.raises(MountError, match=message):
        parse_mount(value, EMPTY_SCOPE)


def test_valid_option_combinations() -> None:
    parse_mount("type=tmpfs,target=/t,size=64m", EMPTY_SCOPE)
    parse_mount("type=cache,target=/c,uid=1000,gid=1000,mode=0755,sharing=private", EMPTY_SCOPE)
    parse_mount("type=secret,id=npmrc,target=/root/.npmrc,required", EMPTY_SCOPE)
    parse_mount("type=secret,id=tok,env=TOKEN", EMPTY_SCOPE)
    parse_mount("type=ssh,required=true", EMPTY_SCOPE)
    parse_mount("type=cache,from=$", EMPTY_SCOPE)  # a lone `$` is not a variable


def test_secret_and_ssh_default_targets() -> None:
    assert parse_mount("type=secret,id=aws", EMPTY_SCOPE).target == "/run/secrets/aws"
    assert parse_mount("type=secret,source=conf/token.txt", EMPTY_SCOPE).target == "/run/secrets/token.txt"
    assert parse_mount("type=ssh", EMPTY_SCOPE).target == "/run/buildkit/ssh_agent.0"


# -- mount targets in the model --------------------------------------------------------------------


def _mount_targets(df: Dockerfile) -> list[str | None]:
    return [m.target for step in df.steps() for m in step.mounts]


def test_relative_target_resolves_against_the_workdir() -> None:
    df = parse_dockerfile("FROM scratch\nWORKDIR /app\nRUN --mount=type=cache,target=target x\n")
    assert _mount_targets(df) == ["/app/target"]


def test_missing_target_mounts_at_the_workdir() -> None:
    df = parse_dockerfile("FROM scratch\nWORKDIR /src\nRUN --mount=type=bind x\n")
    assert _mount_targets(df) == ["/src"]


def test_mount_at_root_is_rejected() -> None:
    assert "invalid mount target" in _problem("FROM scratch\nRUN --mount=type=cache,target=/ x\n")
    assert "invalid mount target" in _problem("FROM scratch\nRUN --mount=type=bind,target=. x\n")


def test_relative_target_on_an_unknown_workdir_is_not_guessed() -> None:
    # The base image may set a WORKDIR, so `target=.` is not known to be `/`.
    df = parse_dockerfile("FROM example/base\nRUN --mount=type=bind,target=. make\n")
    assert df.ok
    assert _mount_targets(df) == [None]
    df = parse_dockerfile("FROM example/base\nRUN --mount=type=cache,target=target make\n")
    assert _mount_targets(df) == ["/target"]
    assert df.stages[0].steps[0].workdir.assumed
