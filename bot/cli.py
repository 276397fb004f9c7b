"""The `mountie` command.

    mountie check [PATH ...]   lint Dockerfiles (files, directories searched recursively, `-` stdin)
    mountie fix [PATH ...]     apply every available fix in place (`--diff`: print a diff instead)
    mountie rules              list the rules (`--format text|markdown|json|reference`)
    mountie explain CODE       print a rule's documentation (code or name, any case)
    mountie serve              run the GitHub App: webhook receiver and a supervised worker process
    mountie worker             run only the job worker (huey consumer)
    mountie review OWNER/REPO#N  review one pull request now (`--dry-run`: print it, post nothing)
    mountie setup              register the GitHub App from app.yml (manifest flow), write .env
    mountie demo               the App reviewing a pull request on a local GitHub emulator
    mountie --version

`check` options: `--format text|json|sarif|github` (default text), `--fail-level
info|warning|error` (default: the configuration's `fail-level`, else warning), `--no-fix-diff`
(text: name each fix without its diff), `--stdin-filename NAME` (how `-` is reported, and where
its .dockerignore is looked up), `-o/--output FILE` (write the report there instead of standard
output), `--config FILE` / `--no-config`, `-j/--jobs N` (check the files in N worker processes;
default: one per usable CPU; 1: in this process; fewer than `POOL_MIN_ITEMS` files are always
checked in this process). `fix` takes `--diff`, `--fail-level`, `--config`, `--no-config`,
`--jobs` (the workers read and fix; this process writes, in order) and `--stdin-filename`.

Configuration (`bot/config.py`): `--config FILE`, else the first of `.github/mountie.yml`,
`.github/mountie.yaml`, `.mountie.yml`, `.mountie.yaml` in the current directory or the nearest
parent, stopping at the repository root (the first directory with a `.git`). It disables rules,
overrides severities, sets the fail level and the fix style, and adds (`files.include`) or drops
(`files.exclude`) files, globs relative to the repository root. Its mistakes are warnings on
standard error (`file:line: warning: ... (ignored)`); a `--config` file that does not exist is an
input error.

Exit status of `check`: 0 when no finding is at or above the fail level; 1 when one is; 2 when
the command line is wrong or some input could not be checked (a missing path, a directory with
no Dockerfile, an unreadable file, a file that is not UTF-8 text, a file BuildKit cannot parse,
an empty file, a file over 1 MiB). Every other input is still checked and reported first; each
input that could not be checked gets one line on standard error, `path: error: ...` or
`path:line: error: ...`. Non-fatal problems (BuildKit reads the text differently from what it
suggests) are reported with the findings and do not change the exit status. A worker process
that dies (`--jobs`) stops the command with an error line and status 2 (`check` prints no report;
`fix` has written the files before those the worker had).

Exit status of `fix`: 0 when, after fixing, no finding at or above `--fail-level` remains (every
finding there was fixed); 1 when some remain (no fix for them, or a fix that could not be
applied); 2 as for `check`. `--diff` computes the same status as if the fixes were written.
Overlapping fixes are applied in passes: a pass applies every fix that overlaps no other
(errors first), then the file is checked again, so the next pass sees fresh line numbers. A pass
whose result BuildKit could not parse is dropped. Files are written atomically (a temporary file
in the same directory, then a rename), only when they change, keeping their mode, newline style
and byte-order mark.

For each Dockerfile, the `.dockerignore` of its build context is looked up as the Docker CLI
does when the Dockerfile's directory is the context: `<name>.dockerignore` beside it, then
`.dockerignore` in the same directory (for `-`, only with `--stdin-filename`).

This module imports only what `check` needs: the GitHub App's dependencies are imported inside
the subcommands that use them, and so are the configuration's parser (only when a configuration
exists), the output formats (the one chosen) and what the worker processes need, so `mountie check`
starts fast; `main` builds only the named subcommand's arguments.
"""

from __future__ import annotations

import argparse
import codecs
import contextlib
import gc
import os
import stat
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NoReturn

from bot import __version__
from bot.config_locations import find_config
from bot.discovery import FileFilter, InputError, Target, discover, find_dockerignore
from bot.dockerfile.errors import Problem
from bot.engine import MAX_BYTES, LintOptions, LintResult, decode, lint_text
from bot.output import (
    EXIT_ERROR,
    EXIT_FINDINGS,
    EXIT_OK,
    FORMATS,
    STDIN_NAME,
    FileReport,
    Report,
    plural,
)
from bot.parallel import POOL_MIN_ITEMS, WorkerDiedError, ordered_map, usable_cpus
from bot.rules import ALL_RULES, RULES_BY_CODE
from bot.rules.base import Edit, Finding, Rule, Severity

if TYPE_CHECKING:
    from bot.analysis import DockerIgnore
    from bot.config import RepoConfig

# Read at most this much of a file: anything longer is reported without being read whole (UTF-8
# takes at most 4 bytes a character, so it is over the engine's 1 MiB limit anyway).
READ_LIMIT = 4 * MAX_BYTES
# Passes of `fix` over one file (each applies every fix that overlaps no other).
MAX_FIX_PASSES = 5
SEVERITIES = [severity.label for severity in Severity]


class _Streams:
    """Where the command writes: standard output/error, replaceable in tests."""

    def __init__(self) -> None:
        self.out: IO[str] = sys.stdout
        self.err: IO[str] = sys.stderr

    def error(self, where: str, message: str) -> None:
        print(f"{where}: error: {message}", file=self.err)


# --- configuration -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Settings:
    """The repository configuration in force, and what the command line overrides."""

    config: RepoConfig | None
    fail_level: Severity
    files: FileFilter | None = None

    def options(self, dockerignore: DockerIgnore | None) -> LintOptions:
        if self.config is None:
            return LintOptions(dockerignore=dockerignore)
        return LintOptions.from_config(self.config, dockerignore)


def _find_config(start: Path) -> Path | None:
    """The nearest configuration from `start` up to the repository root (a directory with .git);
    bot.config, the parser, is imported only when there is one."""
    for directory in (start, *start.parents):
        found = find_config(directory)
        if found is not None:
            return found
        if os.path.exists(os.path.join(directory, ".git")):
            break
    return None


def load_settings(args: argparse.Namespace, streams: _Streams) -> Settings | None:
    """None when an explicitly named configuration file cannot be read (exit 2)."""
    path: Path | None = None
    if args.config is not None:
        path = Path(args.config)
        if not path.is_file():
            streams.error(args.config, "no such configuration file")
            return None
    elif not args.no_config:
        path = _find_config(Path.cwd())
    config = None
    if path is not None:
        from bot.config import load_config_file

        config = load_config_file(path)
    if config is not None and path is not None:
        if args.config is not None and any(error.line == 0 for error in config.errors):
            streams.error(args.config, config.errors[0].message)
            return None
        shown = os.path.relpath(path) if not os.path.relpath(path).startswith("..") else str(path)
        for error in config.errors:
            where = f"{shown}:{error.line}" if error.line else shown
            print(f"{where}: warning: {error.message} (ignored)", file=streams.err)
    if args.fail_level is not None:
        fail_level = Severity.parse(args.fail_level)
    else:
        fail_level = config.fail_level if config is not None else Severity.WARNING
    files = None
    if config is not None and path is not None and (config.include or config.exclude):
        root = path.parent.parent if path.parent.name == ".github" else path.parent
        files = FileFilter(str(root), config.include, config.exclude)
    return Settings(config, fail_level, files)


# --- reading -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Source:
    path: str  # as shown
    text: str
    file: str | None  # the file to rewrite (None for standard input)
    bom: bool
    dockerignore: DockerIgnore | None = None
    notes: tuple[str, ...] = field(default=())  # warnings to print (an unreadable .dockerignore)


def _read_bytes(target: Target) -> bytes:
    if target.is_stdin:
        if sys.stdin is None:  # started with standard input closed
            raise OSError(9, "standard input is not available")
        stream = getattr(sys.stdin, "buffer", None)
        if stream is not None:
            data: bytes = stream.read(READ_LIMIT + 1)
            return data
        return sys.stdin.read(READ_LIMIT + 1).encode("utf-8", "surrogateescape")
    with open(target.path, "rb", buffering=0) as handle:
        # One read of the size the file says it has (asking for the whole limit would allocate it,
        # 4 MiB, for each file), then on to the end when that was not all: a pipe (size 0), or a
        # file that grew meanwhile.
        info = os.fstat(handle.fileno())
        wanted = min(info.st_size, READ_LIMIT) + 1
        parts = [handle.read(wanted)]
        got = len(parts[0])
        if got == wanted or not stat.S_ISREG(info.st_mode):
            while got <= READ_LIMIT and (part := handle.read(min(READ_LIMIT + 1 - got, 1 << 16))):
                parts.append(part)
                got += len(part)
        return parts[0] if len(parts) == 1 else b"".join(parts)


def _load_dockerignore(dockerfile: str | None) -> tuple[DockerIgnore | None, tuple[str, ...]]:
    if dockerfile is None:
        return None, ()
    path = find_dockerignore(dockerfile)
    if path is None:
        return None, ()
    from bot.analysis import DockerIgnore

    try:
        data = path.read_bytes()
    except OSError as error:
        return None, (f"{path.as_posix()}: warning: cannot read ({error.strerror or error}); ignoring it",)
    return DockerIgnore.parse(data.decode("utf-8-sig", "replace"), source=path.as_posix()), ()


def read_source(target: Target, stdin_filename: str | None) -> Source | InputError | FileReport:
    """The decoded text of one target; an `InputError` when it cannot be read or decoded; a
    finished `FileReport` (with a fatal problem) when it is too large to read."""
    shown = (stdin_filename or STDIN_NAME) if target.is_stdin else target.path
    try:
        data = _read_bytes(target)
    except OSError as error:
        return InputError(shown, (error.strerror or str(error)).lower())
    if len(data) > READ_LIMIT:
        try:
            size = f"{os.stat(target.path).st_size:,} bytes" if not target.is_stdin else ""
        except OSError:
            size = ""
        size = size if size and not size.startswith("0 ") else f"over {READ_LIMIT // (1024 * 1024)} MiB"
        problem = Problem(1, f"file is {size}; files over 1 MiB are not analysed")
        return FileReport(shown, "", LintResult(shown, (), (problem,), None))
    try:
        text = decode(data)
    except UnicodeDecodeError as error:
        # utf-8-sig counts from after a byte order mark; the message counts in the file.
        offset = error.start + (len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0)
        return InputError(shown, f"not UTF-8 text (byte 0x{data[offset]:02x} at offset {offset})")
    ignore_for = (stdin_filename if target.is_stdin else target.path) or None
    dockerignore, notes = _load_dockerignore(ignore_for)
    return Source(
        path=shown,
        text=text,
        file=None if target.is_stdin else target.path,
        bom=data.startswith(codecs.BOM_UTF8),
        dockerignore=dockerignore,
        notes=notes,
    )


def _lint(source: Source, settings: Settings) -> LintResult | InputError:
    try:
        return lint_text(source.text, source.path, settings.options(source.dockerignore))
    except Exception as error:  # a bug in a rule must not stop the other files
        if os.environ.get("MOUNTIE_DEBUG"):
            raise
        return InputError(
            source.path, f"internal error while checking ({type(error).__name__}: {error}); please report it"
        )


def _report_unchecked(streams: _Streams, report: FileReport) -> None:
    for problem in report.result.problems:
        if problem.fatal:
            streams.error(f"{report.path}:{problem.line}", problem.message)


# --- many files: worker processes (bot/parallel.py) -------------------------------------------


def _jobs(args: argparse.Namespace) -> int:
    jobs: int | None = args.jobs
    return jobs if jobs is not None else usable_cpus()


def _is_stdin(target: Target) -> bool:
    return target.is_stdin


def _portable(item: object) -> object:
    """What a worker sends back: `item` without what is costly to pickle and no output uses (the
    Dockerfile model, the .dockerignore)."""
    if type(item) is tuple:  # the pairs the work functions return (not a NamedTuple value)
        return tuple(_portable(part) for part in item)
    if isinstance(item, LintResult):
        return replace(item, dockerfile=None)
    if isinstance(item, FileReport):
        return replace(item, result=replace(item.result, dockerfile=None))
    if isinstance(item, FixOutcome):
        return replace(item, result=replace(item.result, dockerfile=None))
    if isinstance(item, Source):
        return replace(item, dockerignore=None)
    return item


# --- check -------------------------------------------------------------------------------------


def _check_target(
    target: Target, stdin_filename: str | None, settings: Settings
) -> tuple[tuple[str, ...], FileReport | InputError]:
    """One file checked: the warnings to print first, and its report (or why it has none)."""
    loaded = read_source(target, stdin_filename)
    if isinstance(loaded, InputError | FileReport):
        return (), loaded
    result = _lint(loaded, settings)
    if isinstance(result, InputError):
        return loaded.notes, result
    return loaded.notes, FileReport(loaded.path, loaded.text, result)


def collect(
    paths: Sequence[str],
    stdin_filename: str | None,
    settings: Settings,
    streams: _Streams,
    jobs: int = 1,
) -> tuple[list[FileReport], list[InputError]]:
    targets, errors = discover(list(paths), settings.files)
    files: list[FileReport] = []
    checks = ordered_map(
        lambda target: _check_target(target, stdin_filename, settings),
        targets,
        jobs,
        here=_is_stdin,
        portable=_portable,
    )
    for notes, checked in checks:
        for note in notes:
            print(note, file=streams.err)
        if isinstance(checked, InputError):
            errors.append(checked)
            continue
        files.append(checked)
        # Every file's model stays alive until the report is printed, and models hold reference
        # cycles: without this, each collection walks the whole growing heap (a quarter of the run).
        gc.freeze()
    for error in errors:
        streams.error(error.path, error.message)
    for file in files:
        _report_unchecked(streams, file)
    return files, errors


def _renderer(name: str, fix_diffs: bool) -> Callable[[Report], str]:
    if name == "json":
        from bot.output import json_format

        return json_format.render_check
    if name == "sarif":
        from bot.output import sarif

        return sarif.render_check
    if name == "github":
        from bot.output import github

        return github.render_check
    from bot.output import text

    return lambda report: text.render_check(report, fix_diffs=fix_diffs)


def _emit(streams: _Streams, output: str | None, content: str) -> bool:
    if output is None or output == "-":
        streams.out.write(content)
        streams.out.flush()
        return True
    try:
        with open(output, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(content)
    except OSError as error:
        streams.error(output, f"cannot write the report: {(error.strerror or str(error)).lower()}")
        return False
    return True


def cmd_check(args: argparse.Namespace, streams: _Streams) -> int:
    settings = load_settings(args, streams)
    if settings is None:
        return EXIT_ERROR
    try:
        files, errors = collect(args.paths, args.stdin_filename, settings, streams, _jobs(args))
    except WorkerDiedError as error:
        streams.error("mountie check", str(error))
        return EXIT_ERROR
    report = Report(tuple(files), tuple(errors), settings.fail_level)
    content = _renderer(args.format, not args.no_fix_diff)(report)
    if not _emit(streams, args.output, content):
        return EXIT_ERROR
    return report.exit_code


# --- fix ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FixOutcome:
    text: str  # the fixed text (the original when nothing applied)
    applied: tuple[Finding, ...]  # as found in the pass that fixed them
    result: LintResult  # the fixed text, checked again
    unparsable: bool  # a pass produced text BuildKit could not parse, and was dropped


def _overlaps(a: Edit, b: Edit) -> bool:
    return a.start_line <= b.end_line and b.start_line <= a.end_line


def _choose(findings: Sequence[Finding]) -> tuple[list[Finding], list[Edit], int]:
    """The fixes of one pass: each fix whole or not at all, none overlapping another (identical
    edits are shared), errors first. Returns them, their edits and how many were left out."""
    chosen: list[Finding] = []
    edits: list[Edit] = []
    skipped = 0
    candidates = [f for f in findings if f.fix is not None and f.fix.edits]
    for finding in sorted(candidates, key=lambda f: (-f.severity, f.line, f.column, f.code)):
        assert finding.fix is not None
        own = list(dict.fromkeys(finding.fix.edits))
        if any(_overlaps(a, b) for i, a in enumerate(own) for b in own[i + 1 :]):
            skipped += 1  # a malformed fix: its own edits overlap
            continue
        if any(_overlaps(e, a) and e != a for e in own for a in edits):
            skipped += 1
            continue
        chosen.append(finding)
        edits.extend(e for e in own if e not in edits)
    return chosen, edits, skipped


def fix_text(text: str, path: str, options: LintOptions) -> FixOutcome:
    """Apply every fix that can be applied, in passes, checking the text again after each."""
    from bot.fixes.apply import EditConflict, apply_edits

    current = text
    result = lint_text(current, path, options)
    applied: list[Finding] = []
    unparsable = False
    for _ in range(MAX_FIX_PASSES):
        if result.fatal:
            break
        chosen, edits, skipped = _choose(result.findings)
        if not chosen:
            break
        try:
            fixed = apply_edits(current, edits)
        except (EditConflict, IndexError):
            break
        if fixed == current:
            break
        fixed_result = lint_text(fixed, path, options)
        if fixed_result.fatal:
            unparsable = True
            break
        current, result = fixed, fixed_result
        applied.extend(chosen)
        if not skipped:
            break
    return FixOutcome(current, tuple(applied), result, unparsable)


def write_atomic(path: str, data: bytes) -> None:
    """Replace the file's contents in one rename, keeping its mode (and a symlink)."""
    import shutil
    import tempfile

    real = os.path.realpath(path)
    handle, temporary = tempfile.mkstemp(prefix=".mountie-", suffix=".tmp", dir=os.path.dirname(real))
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        with contextlib.suppress(OSError):
            shutil.copymode(real, temporary)
        os.replace(temporary, real)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def cmd_fix(args: argparse.Namespace, streams: _Streams) -> int:
    from bot.output import text as text_output

    settings = load_settings(args, streams)
    if settings is None:
        return EXIT_ERROR
    fail_level = settings.fail_level
    # The fixed text (stdin), or the diff, is the standard output: messages go to standard error.
    to_stdout = args.diff or any(path == "-" for path in args.paths)
    log = streams.err if to_stdout else streams.out

    targets, errors = discover(list(args.paths), settings.files)
    for error in errors:
        streams.error(error.path, error.message)
    status = EXIT_ERROR if errors else EXIT_OK
    fixed_count = changed_files = remaining = 0
    # Workers (--jobs) only read and fix the texts; the files are written here, in order. Every
    # target is a different file (`discover` drops a second path to the same real file, and a
    # write replaces the file by a rename, so a hard link keeps the text it had), so reading one
    # before an earlier one is written changes nothing.
    fixes = ordered_map(
        lambda target: _fix_target(target, args.stdin_filename, settings),
        targets,
        _jobs(args),
        here=_is_stdin,
        portable=_portable,
    )
    try:
        for loaded, outcome in fixes:
            if isinstance(loaded, InputError):
                streams.error(loaded.path, loaded.message)
                status = EXIT_ERROR
                continue
            if isinstance(loaded, FileReport):
                _report_unchecked(streams, loaded)
                status = EXIT_ERROR
                continue
            for note in loaded.notes:
                print(note, file=streams.err)
            if isinstance(outcome, InputError):
                streams.error(outcome.path, outcome.message)
                status = EXIT_ERROR
                continue
            assert outcome is not None
            if outcome.result.fatal:
                _report_unchecked(streams, FileReport(loaded.path, loaded.text, outcome.result))
                status = EXIT_ERROR
                continue

            for finding in outcome.applied:
                assert finding.fix is not None
                print(f"{loaded.path}:{finding.line}: fixed {finding.code}: {finding.fix.title}", file=log)
            for problem in outcome.result.problems:
                print(text_output.problem_line(loaded.path, problem), file=log)
            for finding in outcome.result.findings:
                print(text_output.finding_line(loaded.path, finding), file=log)
                if finding.fix is not None:
                    why = (
                        "the fixed file would not parse (please report it)"
                        if outcome.unparsable
                        else "it overlapped another fix or appeared after fixing; run `mountie fix` again"
                    )
                    print(f"{text_output.INDENT}fix not applied: {why}", file=log)
                else:
                    print(f"{text_output.INDENT}no fix: {text_output.no_fix_reason(finding)}", file=log)
            remaining += len(outcome.result.findings)
            if any(f.severity >= fail_level for f in outcome.result.findings) and status == EXIT_OK:
                status = EXIT_FINDINGS

            changed = outcome.text != loaded.text
            fixed_count += len(outcome.applied)
            changed_files += changed
            if args.diff:
                if changed:
                    streams.out.write(text_output.unified_diff(loaded.path, loaded.text, outcome.text))
                continue
            if loaded.file is None:  # standard input: the fixed text to standard output
                streams.out.write(outcome.text)
                continue
            if changed:
                data = (codecs.BOM_UTF8 if loaded.bom else b"") + outcome.text.encode(
                    "utf-8", "surrogateescape"
                )
                try:
                    write_atomic(loaded.file, data)
                except OSError as error:
                    streams.error(
                        loaded.path, f"cannot write the fixed file: {(error.strerror or str(error)).lower()}"
                    )
                    status = EXIT_ERROR
    except WorkerDiedError as error:
        streams.out.flush()
        streams.error("mountie fix", str(error))
        return EXIT_ERROR
    streams.out.flush()

    if fixed_count:
        verb = "Would fix" if args.diff else "Fixed"
        summary = f"{verb} {plural(fixed_count, 'finding')} in {plural(changed_files, 'file')}"
    else:
        summary = "Nothing to fix"
    if remaining:
        summary += f"; {plural(remaining, 'finding')} {'remains' if remaining == 1 else 'remain'}"
    summary += "."
    print(summary, file=log)
    return status


def _fix_target(
    target: Target, stdin_filename: str | None, settings: Settings
) -> tuple[Source | InputError | FileReport, FixOutcome | InputError | None]:
    """One file read and fixed, not written: what was read, and the outcome (None when nothing
    could be read)."""
    loaded = read_source(target, stdin_filename)
    if not isinstance(loaded, Source):
        return loaded, None
    try:
        outcome = fix_text(loaded.text, loaded.path, settings.options(loaded.dockerignore))
    except Exception as error:
        if os.environ.get("MOUNTIE_DEBUG"):
            raise
        message = f"internal error while fixing ({type(error).__name__}: {error}); please report it"
        return loaded, InputError(loaded.path, message)
    return loaded, outcome


# --- rules, explain ----------------------------------------------------------------------------


def cmd_rules(args: argparse.Namespace, streams: _Streams) -> int:
    from bot.output import text

    if args.format == "json":
        from bot.output import json_format

        streams.out.write(json_format.rules_json(ALL_RULES))
    elif args.format == "markdown":
        streams.out.write(text.rules_markdown(ALL_RULES))
    elif args.format == "reference":
        streams.out.write(text.rules_reference(ALL_RULES))
    else:
        streams.out.write(text.rules_text(ALL_RULES))
    return EXIT_OK


def find_rule(key: str) -> Rule | None:
    wanted = key.strip()
    rule = RULES_BY_CODE.get(wanted.upper())
    if rule is not None:
        return rule
    name = wanted.lower().replace("_", "-")
    return next((r for r in ALL_RULES if r.name == name), None)


def cmd_explain(args: argparse.Namespace, streams: _Streams) -> int:
    from bot.output import text

    rule = find_rule(args.rule)
    if rule is None:
        known = ", ".join(r.code for r in ALL_RULES)
        streams.error("mountie explain", f"unknown rule {args.rule!r} (known: {known}; see `mountie rules`)")
        return EXIT_ERROR
    streams.out.write(text.explain(rule))
    return EXIT_OK


# --- the command line --------------------------------------------------------------------------


def _terminal_columns() -> int:
    """`shutil.get_terminal_size().columns`, without importing shutil (and the compression modules
    it imports): argparse sizes a help formatter that way for every argument added."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        stdout = sys.__stdout__
        try:
            columns = os.get_terminal_size(stdout.fileno()).columns if stdout is not None else 0
        except (AttributeError, ValueError, OSError):
            columns = 0
        columns = columns or 80
    return columns


class _HelpFormatter(argparse.HelpFormatter):
    def __init__(
        self,
        prog: str,
        indent_increment: int = 2,
        max_help_position: int = 24,
        width: int | None = None,
        **options: Any,
    ) -> None:
        width = _terminal_columns() - 2 if width is None else width
        super().__init__(prog, indent_increment, max_help_position, width, **options)


class _Parser(argparse.ArgumentParser):
    """Exits with status 2 on usage errors, as argparse does, but never from inside `main`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            self._print_message(message, sys.stderr)
        raise _ParserExitError(status)


class _ParserExitError(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


_Commands = argparse._SubParsersAction


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The command line. With `command`, only that subcommand gets its arguments, which is all
    `main` needs when the first argument names it: building all nine takes longer than checking
    a file (the usage, the help and the errors of that subcommand are the same)."""
    parser = _Parser(
        prog="mountie",
        description="Catch BuildKit mount hazards in Dockerfiles.",
        epilog="Exit status: 0 clean, 1 findings at or above the fail level, 2 usage or input errors.",
    )
    parser.add_argument("--version", action="version", version=f"mountie {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, add in SUBCOMMANDS.items():
        if command is None or command == name:
            add(commands)
    return parser


def _add_check(commands: _Commands[_Parser]) -> None:
    check = commands.add_parser(
        "check",
        help="lint Dockerfiles",
        description="Lint Dockerfiles: files, directories (searched recursively) or - for standard input.",
    )
    check.add_argument(
        "paths", nargs="*", default=["."], metavar="PATH", help="default: the current directory"
    )
    check.add_argument(
        "-f", "--format", choices=FORMATS, default="text", help="output format (default: text)"
    )
    _add_common(check)
    _add_jobs(check, "check")
    check.add_argument(
        "--no-fix-diff", action="store_true", help="text format: name each fix without showing its diff"
    )
    check.add_argument(
        "-o", "--output", metavar="FILE", help="write the report to FILE instead of standard output"
    )
    _add_stdin_filename(check)


def _add_fix(commands: _Commands[_Parser]) -> None:
    fix = commands.add_parser(
        "fix",
        help="apply every available fix in place",
        description="Apply every available fix in place (only files that change are written).",
    )
    fix.add_argument("paths", nargs="*", default=["."], metavar="PATH", help="default: the current directory")
    fix.add_argument("--diff", action="store_true", help="print a unified diff instead of writing the files")
    _add_common(fix)
    _add_jobs(fix, "fix")
    _add_stdin_filename(fix)


def _add_rules(commands: _Commands[_Parser]) -> None:
    rules = commands.add_parser("rules", help="list the rules", description="List the rules.")
    rules.add_argument(
        "-f",
        "--format",
        choices=("text", "markdown", "json", "reference"),
        default="text",
        help="markdown: the README's table; reference: every rule's documentation (the README's rule "
        "reference, which review comments link to)",
    )


def _add_explain(commands: _Commands[_Parser]) -> None:
    explain = commands.add_parser(
        "explain", help="print a rule's documentation", description="Print a rule's documentation."
    )
    explain.add_argument("rule", metavar="CODE", help="a rule code (BKM001) or name, in any case")


def _add_serve(commands: _Commands[_Parser]) -> None:
    """`serve` and `worker`: the GitHub App (settings: environment and .env, see bot/app/settings.py)."""
    serve = commands.add_parser(
        "serve",
        help="run the GitHub App: webhook receiver and a worker process",
        description="Run the webhook receiver (POST /webhook, GET /healthz, GET /metrics) and, unless "
        "--no-worker, one supervised `mountie worker` process. The queue is SQLite in MOUNTIE_DATA_DIR, "
        "or Redis with MOUNTIE_QUEUE_URL: then run any number of `serve --no-worker` behind a load "
        "balancer and `mountie worker` processes on any machines. Stops on SIGINT or SIGTERM.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on (default: 8000)")
    serve.add_argument("--no-worker", action="store_true", help="run only the receiver")
    _add_worker_options(serve)


def _add_worker(commands: _Commands[_Parser]) -> None:
    worker = commands.add_parser(
        "worker",
        help="run the job worker",
        description="Run queued jobs (reviews) until SIGINT or SIGTERM, which let running jobs finish "
        "(or put them back on the queue after --shutdown-timeout). Every worker process also sweeps for "
        "reviews a killed worker left unfinished (MOUNTIE_SWEEP_INTERVAL).",
    )
    _add_worker_options(worker)


def _add_worker_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workers", type=_positive_int, default=2, metavar="N", help="worker threads (default: 2)"
    )
    parser.add_argument(
        "--shutdown-timeout",
        type=float,
        default=8.0,
        metavar="SECONDS",
        help="on stop, how long running jobs may take to finish before they are requeued (default: 8)",
    )
    parser.add_argument(
        "--env-file",
        metavar="FILE",
        help="settings file (default: .env in the current directory, if any)",
    )


def _add_setup(commands: _Commands[_Parser]) -> None:
    """`setup` (register the App from app.yml: bot/app/setup_flow.py) and `demo` (bot/app/demo.py)."""
    setup = commands.add_parser(
        "setup",
        help="register the GitHub App from its manifest and write .env",
        description="Register Mountie as a GitHub App (GitHub's manifest flow): serve a page on localhost "
        "whose button posts app.yml to GitHub, exchange the code GitHub sends back, write the App id, "
        "key, webhook secret and client id/secret to the env file (mode 600), print the install link.",
    )
    setup.add_argument(
        "--org", metavar="ORG", help="register it on this organisation (default: your account)"
    )
    setup.add_argument(
        "--public-url",
        metavar="URL",
        help="where GitHub reaches Mountie: the webhook is URL/webhook (default: an inactive webhook)",
    )
    setup.add_argument("--name", help="the App's name (default: app.yml's; names are unique on GitHub)")
    setup.add_argument(
        "--github-url",
        default="https://github.com",
        metavar="URL",
        help="GitHub's web address (GitHub Enterprise Server: https://HOST; default: https://github.com)",
    )
    setup.add_argument(
        "--api-url",
        metavar="URL",
        help="GitHub's REST API (default: GITHUB_API_URL, else https://api.github.com, or "
        "GITHUB-URL/api/v3 when --github-url names another host)",
    )
    setup.add_argument("--env-file", default=".env", metavar="FILE", help="where to write (default: .env)")
    setup.add_argument(
        "--key-file",
        metavar="FILE",
        help="where to write the private key (default: <slug>.<date>.private-key.pem beside the env file)",
    )
    setup.add_argument(
        "--key-in-env",
        action="store_true",
        help="put the private key in the env file (GITHUB_PRIVATE_KEY) instead, e.g. for docker compose",
    )
    setup.add_argument(
        "--manifest", metavar="FILE", help="the App manifest (default: ./app.yml, else Mountie's own)"
    )
    setup.add_argument("--host", default="127.0.0.1", help="address of the local page (default: 127.0.0.1)")
    setup.add_argument("--port", type=int, default=0, help="port of the local page (default: any free port)")
    setup.add_argument("--no-browser", action="store_true", help="only print the page's address")
    setup.add_argument("--force", action="store_true", help="replace the App credentials the env file holds")
    setup.add_argument(
        "--timeout",
        type=float,
        default=3600.0,
        metavar="SECONDS",
        help="give up after this long (default: 3600, how long GitHub's codes last)",
    )


def _add_demo(commands: _Commands[_Parser]) -> None:
    demo = commands.add_parser(
        "demo",
        help="see the App review a pull request, with no GitHub account",
        description="Run the real `mountie serve` against a GitHub emulator on 127.0.0.1: deliver a signed "
        "pull_request.opened for a Dockerfile with a cache-mount hazard, print the review, apply its "
        "suggestion and print the green re-review.",
    )
    demo.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="how long to wait for each review (default: 60)",
    )


def _add_review(commands: _Commands[_Parser]) -> None:
    """`review`: one pull request through the App's review pipeline (bot/app/review_cli.py)."""
    review = commands.add_parser(
        "review",
        help="review one pull request now, as the App would (--dry-run: print it, post nothing)",
        description="Run the App's review of one pull request: with the App's settings (environment or "
        "env file), or with GITHUB_TOKEN (a user's token: --dry-run only). --dry-run reads everything and "
        "prints the review and check run Mountie would post, posting nothing.",
    )
    review.add_argument("pull", metavar="OWNER/REPO#N", help="the pull request (or its URL)")
    review.add_argument("--dry-run", action="store_true", help="print what would be posted; post nothing")
    review.add_argument(
        "--app-slug",
        default="mountie",
        metavar="SLUG",
        help="with GITHUB_TOKEN: the App whose comments are Mountie's (default: mountie)",
    )
    review.add_argument(
        "--env-file", metavar="FILE", help="settings file (default: .env in the current directory, if any)"
    )


def cmd_review(args: argparse.Namespace, streams: _Streams) -> int:
    from bot.app.review_cli import run_review

    return run_review(args, streams.out, streams.err)


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return int(text)


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--fail-level",
        choices=SEVERITIES,
        help="exit 1 when a finding is at or above this severity (default: the configuration's, or warning)",
    )
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="configuration file (default: .github/mountie.yml or .mountie.yml, searched from the current "
        "directory up to the repository root)",
    )
    parser.add_argument("--no-config", action="store_true", help="ignore any configuration file")


def _add_jobs(parser: argparse.ArgumentParser, verb: str) -> None:
    parser.add_argument(
        "-j",
        "--jobs",
        type=_positive_int,
        metavar="N",
        help=f"{verb} files in N processes (default: one per usable CPU; 1: all in this process). "
        f"Fewer than {POOL_MIN_ITEMS} files are always {verb}ed in this process",
    )


def _add_stdin_filename(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--stdin-filename",
        metavar="NAME",
        help="the path to report for - (standard input); its directory's .dockerignore is used",
    )


def _app_command(name: str, args: argparse.Namespace, streams: _Streams) -> int:
    """Runs a GitHub App command, importing the App's dependencies only now."""
    from bot.app import commands

    handler: Callable[[argparse.Namespace, IO[str]], int] = getattr(commands, name)
    return handler(args, streams.err)


COMMANDS: dict[str, Callable[[argparse.Namespace, _Streams], int]] = {
    "check": cmd_check,
    "fix": cmd_fix,
    "rules": cmd_rules,
    "explain": cmd_explain,
    "serve": lambda args, streams: _app_command("run_serve", args, streams),
    "worker": lambda args, streams: _app_command("run_worker", args, streams),
    "review": cmd_review,
    "setup": lambda args, streams: _app_command("run_setup", args, streams),
    "demo": lambda args, streams: _app_command("run_demo", args, streams),
}


SUBCOMMANDS: dict[str, Callable[[_Commands[_Parser]], None]] = {
    "check": _add_check,
    "fix": _add_fix,
    "rules": _add_rules,
    "explain": _add_explain,
    "serve": _add_serve,
    "worker": _add_worker,
    "review": _add_review,
    "setup": _add_setup,
    "demo": _add_demo,
}


def main(argv: Sequence[str] | None = None) -> int:
    streams = _Streams()
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv[0] if argv and argv[0] in SUBCOMMANDS else None)
    try:
        args = parser.parse_args(argv)
    except _ParserExitError as stop:
        return stop.status
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_ERROR
    try:
        return COMMANDS[args.command](args, streams)
    except BrokenPipeError:
        # The reader went away (`mountie check | head`): stop quietly, without a second error
        # when Python flushes standard output at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
