"""The one fix plan the cache-mount hygiene rules (BKM005-BKM009) share.

Their fixes land on the same lines: `sharing=locked` (BKM007) and `id=...` (BKM005, BKM006) on
one `--mount` flag, an `apt-get clean` removed from the same RUN (BKM009), `rm -f
/etc/apt/apt.conf.d/docker-clean` put in front of it (BKM007). GitHub suggestions are line ranges, so two
rules editing one line separately would conflict. The plan collects every change these rules
want, per instruction, and each rule's fix carries the same combined edit of the instructions it
touches (its title says what else it does): identical edits apply once, and no two of these
fixes overlap differently.

A cache id changes for every mount that shares it (the effective id, S6), so RUNs that share a
cache keep sharing it; a new id never merges two caches. No change adds an instruction (BuildKit
must parse the same instruction list): `TARGETPLATFORM` is declared on an existing `ARG` line,
and docker-clean is removed inside the RUN that needs it.

These rules tidy up; the other rules' fixes repair what is broken. When another rule's fix edits
the same lines, the engine holds this plan's fix back until that one is applied
(`bot.fixes.conflicts`), so no two suggestions ever conflict.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.analysis import Analysis
from bot.analysis.memo import memo
from bot.analysis.mount_hygiene import (
    KEEP_DOWNLOADED,
    PLATFORM_SUFFIX,
    REMOVE_DOCKER_CLEAN,
    Cleanup,
    Hygiene,
    MountRef,
    archives_mount,
    cache_mounts,
    downloads_debs,
    hygiene,
    run_steps,
    written_id,
)
from bot.analysis.run_commands import run_commands
from bot.dockerfile.model import Dockerfile, Step
from bot.fixes.mount_edit import (
    Replacement,
    delete_script_line,
    extend_instruction,
    instruction_edits,
    prepend_to_script,
    script_cut,
    set_mount_options,
)
from bot.fixes.text_edit import NoFix
from bot.rules.base import Edit, Fix

# The rules whose changes this plan merges.
PLAN_CODES = frozenset({"BKM005", "BKM006", "BKM007", "BKM008", "BKM009"})


def fix_plan(analysis: Analysis) -> FixPlan:
    """The plan for the analysed Dockerfile (computed once per model)."""
    df = analysis.dockerfile
    return memo(df, "fix_plan", lambda: FixPlan(analysis, hygiene(df)))  # on the model: it refers to it


@dataclass
class _StepChanges:
    options: dict[int, dict[str, str]] = field(default_factory=dict)
    replacements: list[Replacement] = field(default_factory=list)  # script cuts and additions
    notes: list[tuple[frozenset[str], str]] = field(default_factory=list)  # (rule codes, what it does)


@dataclass
class _Outcome:
    steps: list[Step]
    reason: str | None
    code: str


class FixPlan:
    """Every change BKM005-BKM009 want, merged per instruction (see the module docstring)."""

    def __init__(self, analysis: Analysis, facts: Hygiene) -> None:
        self.analysis = analysis
        self.df = analysis.dockerfile
        self.changes: dict[int, _StepChanges] = {}
        self.steps: dict[int, Step] = {}
        self.outcomes: dict[int, _Outcome] = {}
        self._edits: dict[int, list[Edit] | NoFix] = {}
        self._plan_ids(facts)
        self._plan_sharing(facts)
        self._plan_docker_clean(facts)
        self._plan_cleanups(facts)

    # -- recording ---------------------------------------------------------------------------

    def _changes(self, step: Step) -> _StepChanges:
        self.steps[id(step)] = step
        return self.changes.setdefault(id(step), _StepChanges())

    def _note(self, step: Step, codes: frozenset[str], note: str) -> None:
        changes = self._changes(step)
        if (codes, note) not in changes.notes:
            changes.notes.append((codes, note))

    def _set_option(self, ref: MountRef, key: str, value: str, codes: frozenset[str], note: str) -> None:
        self._changes(ref.step).options.setdefault(ref.index, {})[key] = value
        self._note(ref.step, codes, note)

    def _replace(self, step: Step, replacement: Replacement, codes: frozenset[str], note: str) -> None:
        changes = self._changes(step)
        if replacement not in changes.replacements:
            changes.replacements.append(replacement)
        self._note(step, codes, note)

    # -- BKM005 and BKM006: cache ids --------------------------------------------------------

    def _plan_ids(self, facts: Hygiene) -> None:
        wanted: dict[str, list[tuple[object, str, MountRef]]] = {}
        for relative in facts.relative:
            wanted.setdefault(relative.cache_id, []).append((relative, "BKM005", relative.ref))
        for unscoped in facts.unscoped:
            key = _group_key(unscoped.ref)
            if key is None:
                self.outcomes[id(unscoped)] = _Outcome([], "the cache id depends on unknown values", "BKM006")
                continue
            wanted.setdefault(key, []).append((unscoped, "BKM006", unscoped.ref))
        all_refs = [ref for step in run_steps(self.df) for ref in cache_mounts(step)]
        groups: list[tuple[list[tuple[object, str, MountRef]], list[MountRef], bool, str]] = []
        taken: set[str] = set()
        # Absolute targets keep their natural new id when a relative one would resolve to it.
        for key, requests in sorted(wanted.items(), key=lambda item: (not item[0].startswith("/"), item[0])):
            members = [ref for ref in all_refs if _group_key(ref) == key]
            platform = any(code == "BKM006" for _, code, _ in requests)
            try:
                new_id = self._new_id(key, members, all_refs, platform, taken)
                for ref in members:
                    set_mount_options(self.df, ref.step, ref.index, {"id": new_id})
                taken.add(new_id)
            except NoFix as exc:
                self._refuse(requests, str(exc))
                continue
            groups.append((requests, members, platform, new_id))
        declarations = self._platform_declarations([m for _, members, p, _ in groups if p for m in members])
        for requests, members, platform, new_id in groups:
            codes = frozenset(code for _, code, _ in requests)
            steps = _unique([ref.step for ref in members])
            if platform:
                if any(id(ref.step.stage) not in declarations for ref in members):
                    self._refuse(requests, _NO_ARG_LINE)
                    continue
                arg_steps = [declarations[id(ref.step.stage)] for ref in members]
            for ref in members:
                self._set_option(ref, "id", new_id, codes, f"use `id={new_id}`")
            if platform:
                for arg_step in _unique([a for a in arg_steps if a is not None]):
                    note = f"declare `TARGETPLATFORM` on the ARG line {arg_step.line}"
                    self._replace(arg_step, extend_instruction(arg_step, "TARGETPLATFORM"), codes, note)
                    steps = _unique([*steps, arg_step])
            for fact, code, _ in requests:
                self.outcomes[id(fact)] = _Outcome(steps, None, code)

    def _platform_declarations(self, members: list[MountRef]) -> dict[int, Step | None]:
        """Per stage (by id), the ARG instruction to extend with `TARGETPLATFORM` so the first RUN
        there that needs it sees it (None: already declared). A stage with no ARG line above that
        RUN is left out: a fix never adds an instruction."""
        earliest: dict[int, Step] = {}
        for ref in members:
            current = earliest.get(id(ref.step.stage))
            if current is None or ref.step.index < current.index:
                earliest[id(ref.step.stage)] = ref.step
        result: dict[int, Step | None] = {}
        for stage_id, first in earliest.items():
            if "TARGETPLATFORM" in first.scope.values:
                result[stage_id] = None
                continue
            args = [s for s in first.stage.steps if s.keyword == "ARG" and s.index < first.index]
            if args and not args[-1].instruction.heredocs:
                result[stage_id] = args[-1]
        return result

    def _refuse(self, requests: list[tuple[object, str, MountRef]], reason: str) -> None:
        for fact, code, _ in requests:
            self.outcomes[id(fact)] = _Outcome([], reason, code)

    def _new_id(
        self, key: str, members: list[MountRef], all_refs: list[MountRef], platform: bool, taken: set[str]
    ) -> str:
        no_id = [r for r in members if written_id(r.resolved.mount) is None]
        with_id = [r for r in members if written_id(r.resolved.mount) is not None]
        relative = [r for r in no_id if not (r.resolved.mount.target or "").startswith("/")]
        if relative:
            if with_id:
                raise NoFix(
                    f"the cache mount on line {with_id[0].step.line} shares this cache through "
                    f"`id={with_id[0].resolved.mount.options['id']}`; rename them together by hand"
                )
            unknown = next((r for r in relative if r.step.workdir.assumed), None)
            if unknown is not None:
                raise NoFix(
                    f"the WORKDIR of the RUN on line {unknown.step.line} comes from a base image "
                    "Mountie does not know, so the path this target resolves to is not known"
                )
            targets = {r.resolved.target for r in relative}
            if len(targets) != 1 or None in targets:
                raise NoFix("the RUNs sharing this cache mount it at different paths")
            base = next(iter(targets)) or ""
            if "$" in base or "{" in base:
                raise NoFix("the resolved target contains `$`")
        elif with_id:
            texts = {r.resolved.mount.options["id"] for r in with_id}
            if len(texts) != 1:
                raise NoFix("the mounts sharing this cache spell its id differently")
            base = next(iter(texts))
        else:
            base = key
        new_id = base + (PLATFORM_SUFFIX if platform else "")
        for other in all_refs:
            mount = other.resolved.mount
            if other not in members and new_id in (mount.cache_id, written_id(mount)):
                # Merging two caches would change what the other RUN finds in its mount.
                raise NoFix(
                    f"`id={new_id}` is already the cache of the mount on line {other.step.line}; "
                    "choose an id of your own"
                )
        if new_id in taken:
            raise NoFix(f"another cache in this Dockerfile gets `id={new_id}`; choose an id of your own")
        return new_id

    # -- BKM007: sharing and docker-clean ----------------------------------------------------

    def _plan_sharing(self, facts: Hygiene) -> None:
        for fact in facts.unlocked:
            try:
                for ref in fact.refs:
                    set_mount_options(self.df, ref.step, ref.index, {"sharing": "locked"})
            except NoFix as exc:
                self.outcomes[id(fact)] = _Outcome([], str(exc), "BKM007")
                continue
            for ref in fact.refs:
                self._set_option(ref, "sharing", "locked", _BKM007, "add `sharing=locked`")
            self.outcomes[id(fact)] = _Outcome([fact.step], None, "BKM007")

    def _plan_docker_clean(self, facts: Hygiene) -> None:
        for fact in facts.docker_clean:
            affected = self._affected_runs(fact.first)
            reason = self._docker_clean_unsafe(fact.first, affected)
            if reason is None:
                command = REMOVE_DOCKER_CLEAN
                if any(downloads_debs(step, frozenset({"apt"})) for step in affected):
                    command += f" && {KEEP_DOWNLOADED}"
                try:
                    replacement = prepend_to_script(self.df, fact.first, command)
                except NoFix as exc:
                    reason = str(exc)
            if reason is not None:
                self.outcomes[id(fact)] = _Outcome([], reason, "BKM007")
                continue
            note = "remove /etc/apt/apt.conf.d/docker-clean first"
            if KEEP_DOWNLOADED in command:
                note += " and keep downloaded packages"
            self._replace(fact.first, replacement, _BKM007, note)
            self.outcomes[id(fact)] = _Outcome([fact.first], None, "BKM007")

    def _affected_runs(self, first: Step) -> list[Step]:
        """The RUNs that see the apt configuration `first` leaves: itself, the later ones in its
        stage, and those of every stage built on it."""
        result: list[Step] = []
        for stage in self.df.stages:
            if not any(step is first for step in stage.chain()):
                continue
            for step in stage.steps:
                if step.keyword == "RUN" and (step.stage is not first.stage or step.index >= first.index):
                    result.append(step)
        return result

    def _docker_clean_unsafe(self, first: Step, affected: list[Step]) -> str | None:
        final = self.df.final_stage
        if final is not None and any(step is first for step in final.chain()):
            return (
                "removing docker-clean would ship in the final image (and reach images built from "
                "it); do it in a builder stage, or remove the cache mount on /var/cache/apt"
            )
        for step in affected:
            if downloads_debs(step) and archives_mount(step) is None:
                return (
                    f"the RUN on line {step.line} installs packages without a cache on "
                    "/var/cache/apt, so without docker-clean its .deb files would stay in the layer"
                )
        return None

    # -- BKM009: cleanups --------------------------------------------------------------------

    def _plan_cleanups(self, facts: Hygiene) -> None:
        for fact in facts.cleanups:
            if fact.no_fix is not None:
                self.outcomes[id(fact)] = _Outcome([], fact.no_fix, "BKM009")
                continue
            try:
                cuts = _cleanup_cuts(self.df, fact)
            except NoFix as exc:
                self.outcomes[id(fact)] = _Outcome([], str(exc), "BKM009")
                continue
            for cut in cuts:
                self._replace(fact.step, cut, frozenset({"BKM009"}), f"drop {fact.what}")
            self.outcomes[id(fact)] = _Outcome([fact.step], None, "BKM009")

    # -- building fixes ----------------------------------------------------------------------

    def edits_for(self, step: Step) -> list[Edit]:
        key = id(step)
        if key not in self._edits:
            changes = self.changes[key]
            try:
                replacements: list[Replacement] = list(changes.replacements)
                for index, options in sorted(changes.options.items()):
                    replacements += set_mount_options(self.df, step, index, options)
                self._edits[key] = instruction_edits(self.df, step, replacements)
            except NoFix as exc:
                self._edits[key] = exc
        result = self._edits[key]
        if isinstance(result, NoFix):
            raise result
        return result

    def fix(self, fact: object) -> tuple[Fix | None, str | None]:
        outcome = self.outcomes.get(id(fact))
        if outcome is None:
            return None, "no safe edit was found"
        if outcome.reason is not None:
            return None, outcome.reason
        edits: list[Edit] = []
        notes: list[tuple[frozenset[str], str]] = []
        try:
            for step in outcome.steps:
                edits += self.edits_for(step)
                notes += self.changes[id(step)].notes
        except NoFix as exc:
            return None, str(exc)
        own = _dedupe([note for codes, note in notes if outcome.code in codes])
        extra = _dedupe(
            [
                f"{note} ({', '.join(sorted(codes))})"
                for codes, note in notes
                if outcome.code not in codes and note not in own
            ]
        )
        title = _sentence(own)
        if extra:
            title += f"; also {', '.join(extra)}"
        return Fix(title, tuple(sorted(set(edits), key=lambda e: e.start_line))), None


_BKM007 = frozenset({"BKM007"})
_NO_ARG_LINE = (
    "the stage declares no ARG above this RUN, and mount options only see ARGs declared in the "
    "stage: add `ARG TARGETPLATFORM` above it and `-${TARGETPLATFORM}` to the id"
)


def _dedupe(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _sentence(notes: list[str]) -> str:
    text = notes[0] if len(notes) == 1 else ", ".join(notes[:-1]) + " and " + notes[-1]
    return text[:1].upper() + text[1:]


def _group_key(ref: MountRef) -> str | None:
    """Mounts with the same key share one cache: the effective id, or the id as written when it
    holds a variable."""
    mount = ref.resolved.mount
    if mount.cache_id is not None:
        return mount.cache_id
    text = written_id(mount)
    if text is not None:
        return "written:" + text
    return None


def _unique(steps: list[Step]) -> list[Step]:
    seen: list[Step] = []
    for step in steps:
        if not any(step is s for s in seen):
            seen.append(step)
    return seen


def _unique_ids(items: list[int]) -> list[int]:
    return list(dict.fromkeys(items))


def _cleanup_cuts(df: Dockerfile, fact: Cleanup) -> list[Replacement]:
    commands = run_commands(fact.step)
    assert commands is not None
    command = fact.command
    if commands.form == "exec":
        raise NoFix("the RUN uses the exec (JSON) form")
    if fact.words:
        cuts = []
        for word in fact.words:
            before = max((a.end for a in command.args if a.end <= word.start), default=None)
            if before is None or commands.script[before : word.start].replace("\\\n", "").strip():
                raise NoFix("the word to drop is not a plain separate word")
            cuts.append(script_cut(df, fact.step, before, word.end))
        return cuts
    if command.in_structure:
        raise NoFix("the command is inside a compound command or a pipeline")
    if len(commands.commands) == 1:
        raise NoFix("it is the RUN's only command")
    prev_op, next_op = command.prev_op, command.next_op
    if prev_op == "&&" and next_op in (None, ";", "\n", "||", "&&") and command.prev_end is not None:
        return [script_cut(df, fact.step, command.prev_end, command.end)]
    if next_op == "&&" and prev_op in (None, ";", "\n") and command.next_start is not None:
        return [script_cut(df, fact.step, command.start, command.next_start)]
    last = command is commands.commands[-1]
    errexit = commands.errexit_at is not None and commands.errexit_at < command.start
    if commands.form == "heredoc" and prev_op in (None, "\n") and next_op in (None, "\n"):
        line_start = commands.script.rfind("\n", 0, command.start) + 1
        line_end = commands.script.find("\n", command.end)
        line_text = commands.script[line_start : line_end if line_end >= 0 else len(commands.script)]
        if line_text.strip() == commands.script[command.start : command.end] and (not last or errexit):
            return [delete_script_line(fact.step, command.start)]
    if next_op == ";" and prev_op in (None, ";", "\n") and command.next_start is not None:
        return [script_cut(df, fact.step, command.start, command.next_start)]
    raise NoFix("removing the command would change what the RUN's exit status depends on")
