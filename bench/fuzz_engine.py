"""Coverage-guided fuzzing of the engine with atheris (libFuzzer), for long runs outside CI.

    python -m bench.fuzz_engine [--oracle] [--slow SECONDS] [LIBFUZZER ARGS ...] [CORPUS_DIR ...]
    e.g. python -m bench.fuzz_engine -max_total_time=600 -jobs=2 /tmp/mountie-corpus

Needs atheris (`pip install -e '.[bench]'`; wheels for CPython 3.11 on Linux). Each input's bytes
are decoded as UTF-8 (invalid bytes replaced: the CLI refuses such files before the engine sees
them, see tests/cli) and linted with every rule. An input fails, and libFuzzer saves it as
`crash-*`, when:

* the engine raises anything;
* one lint takes more than `--slow` seconds of CPU (default 2: a super-linear path);
* a finding's line numbers fall outside the file;
* a fix, applied alone, leaves a file the model cannot parse, or on which the engine raises;
* with `--oracle`, a fix turns a file BuildKit's own parser (the `dockerfile` package, as in
  tests/oracle.py) accepts into one it refuses (a line over 64 KiB included: the model refuses
  those as BuildKit does, so such a fix already fails the check above). The oracle is slow; it
  divides the rate by about ten.

Without a corpus directory the run starts from a temporary copy of tests/fixtures (every rule's
fixtures and the parser probes), and a dictionary of Dockerfile tokens is passed to libFuzzer.
A failing input is also written to `failure-<sha1>` in the current directory. Reproduce it with
`python -m bench.fuzz_engine failure-<sha1>`.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
import tempfile
import time
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["bot"]):
    from bot.dockerfile.model import parse_dockerfile
    from bot.engine import lint_text
    from bot.fixes.apply import apply_edits

ROOT = Path(__file__).resolve().parent.parent
TOKENS = [
    "FROM ", " AS ", "RUN ", "COPY ", "ADD ", "WORKDIR ", "ENV ", "ARG ", "USER ", "SHELL ", "CMD ",
    "ENTRYPOINT ", "VOLUME ", "ONBUILD ", "HEALTHCHECK ", "--mount=type=cache,target=", "--mount=type=bind,",
    "--mount=type=tmpfs,target=", "--mount=type=secret,id=", ",sharing=locked", ",id=", ",from=",
    ",source=", ",readonly", ",uid=", "--from=", "<<EOF\n", "<<-EOF\n", "\nEOF\n", "\\\n", "`\n",
    "# escape=`\n", "# syntax=docker/dockerfile:1\n", "# check=skip=all\n", "${", ":-", ":+", "}", "$HOME",
    "/app/target", "target/release/app", "node_modules", "/var/cache/apt", "/root/.cache", "cargo build",
    "npm ci", "apt-get install -y", "cp -r ", "mv ", "rm -rf ", " && ", "[\"", "\", \"", "\"]", "\r\n",
    "# mountie ignore=BKM001\n", "scratch",
]  # fmt: skip


class SlowInputError(Exception):
    """An input whose lint cost more CPU time than allowed."""


def check(text: str, slow: float, oracle: bool) -> None:
    start = time.process_time()
    result = lint_text(text)
    spent = time.process_time() - start
    if spent > slow:
        raise SlowInputError(f"{spent:.2f}s of CPU for {len(text):,} characters")
    total = len(result.dockerfile.lines) if result.dockerfile is not None else 0
    for finding in result.findings:
        if not 1 <= finding.line <= finding.end_line <= total:
            raise AssertionError(f"{finding.code} on lines {finding.line}-{finding.end_line} of {total}")
    accepted: bool | None = None
    for finding in result.findings:
        if finding.fix is None:
            continue
        fixed = apply_edits(text, finding.fix.edits)
        if not parse_dockerfile(fixed).ok:
            raise AssertionError(f"the {finding.code} fix leaves a file the model cannot read")
        lint_text(fixed)
        if oracle:
            if accepted is None:
                accepted = _oracle_accepts(text)
            if accepted and not _oracle_accepts(fixed):
                raise AssertionError(f"the {finding.code} fix leaves a file BuildKit refuses")


def _oracle_accepts(text: str) -> bool:
    import dockerfile

    try:
        dockerfile.parse_string(text)
    except dockerfile.GoParseError:
        return False
    return True


def _seed_corpus() -> Path:
    corpus = Path(tempfile.mkdtemp(prefix="mountie-fuzz-"))
    for index, path in enumerate(sorted((ROOT / "tests" / "fixtures").rglob("*"))):
        if path.is_file():
            shutil.copyfile(path, corpus / f"{index:04d}-{path.name}")
    return corpus


def _dictionary() -> Path:
    with tempfile.NamedTemporaryFile("w", suffix=".dict", delete=False, encoding="utf-8") as handle:
        for token in TOKENS:  # libFuzzer's format: printable ASCII, with \\, \" and \xNN escapes
            escaped = "".join(
                f"\\{chr(b)}" if chr(b) in '\\"' else chr(b) if 32 <= b < 127 else f"\\x{b:02X}"
                for b in token.encode()
            )
            handle.write(f'"{escaped}"\n')
    return Path(handle.name)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fuzz_engine", description=__doc__.splitlines()[0])
    parser.add_argument("--oracle", action="store_true", help="also check fixes with BuildKit's parser")
    parser.add_argument("--slow", type=float, default=2.0, help="CPU seconds that make an input fail")
    args, rest = parser.parse_known_args(argv)

    def one_input(data: bytes) -> None:
        try:
            check(data.decode("utf-8", "replace"), args.slow, args.oracle)
        except BaseException:
            # libFuzzer saves crash files for signals, not always for Python exceptions.
            Path(f"failure-{hashlib.sha1(data).hexdigest()}").write_bytes(data)
            raise

    paths = [a for a in rest if not a.startswith("-")]
    flags = [a for a in rest if a.startswith("-")]
    if not paths:
        paths = [str(_seed_corpus())]
    if not any(f.startswith("-dict=") for f in flags) and all(Path(p).is_dir() for p in paths):
        flags.append(f"-dict={_dictionary()}")
    atheris.Setup([sys.argv[0], *flags, *paths], one_input)
    atheris.Fuzz()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
