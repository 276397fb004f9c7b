"""The RUN script reader: commands wrapped in `sh -c '...'` are read too."""

from __future__ import annotations

from bot.dockerfile.shell import commands


def _words(script: str) -> list[tuple[str, ...]]:
    return [c.words for c in commands(script)]


def test_sh_c_script_commands_follow_the_wrapper() -> None:
    parsed = commands("sh -c 'mkdir -p out && echo \"build $V\" > out/app'")
    assert [c.words[0] for c in parsed] == ["sh", "mkdir", "echo"]
    assert parsed[2].redirects[0].target == "out/app"
    # The wrapped commands carry the wrapper's span: fixes never cut inside the quoted script.
    assert {(c.start, c.end) for c in parsed} == {(parsed[0].start, parsed[0].end)}


def test_combined_flags_and_other_shells_are_unwrapped() -> None:
    assert ("cargo", "build") in _words("bash -euxc 'cargo build'")
    assert ("cargo", "build") in _words("dash -e -c 'cargo build'")


def test_a_cd_inside_the_wrapper_stays_inside_it() -> None:
    parsed = commands("cd /x && bash -ec 'cd sub; cargo build' && ls")
    cargo = next(c for c in parsed if c.words[:1] == ("cargo",))
    ls = next(c for c in parsed if c.words[:1] == ("ls",))
    assert cargo.cwd == "/x/sub"
    assert ls.cwd == "/x"


def test_not_a_wrapper() -> None:
    assert _words("sh script.sh") == [("sh", "script.sh")]
    assert _words("python -c 'import os'") == [("python", "-c", "import os")]
    assert _words("sh --login -c 'make'") == [("sh", "--login", "-c", "make")]


def test_nesting_is_bounded() -> None:
    script = "echo deep"
    for _ in range(10):
        script = f"sh -c {script!r}" if "'" not in script else f'sh -c "{script}"'
    assert len(commands(script)) <= 5
