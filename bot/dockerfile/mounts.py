"""`RUN --mount=...` values, parsed with BuildKit's CSV grammar (`instructions/commands_runmount.go`).

Keys are lower-cased and aliases folded (`target|dst|destination`, `source|src`, `readonly|ro`,
`readwrite|rw`); the type defaults to `bind`. Every value except `from` is expanded with the ARG/ENV
scope of its RUN (Dockerfile frontend >= 1.3); a value that cannot be resolved stays None and is
listed in `unresolved`.
"""

from __future__ import annotations

import posixpath
import re
from typing import NamedTuple

from bot.dockerfile.words import Scope, expand

MOUNT_TYPES = frozenset({"bind", "cache", "tmpfs", "secret", "ssh"})
EPHEMERAL_TYPES = frozenset({"bind", "cache", "tmpfs"})
# A `type=` whose value depends on an unresolved variable: never treated as ephemeral.
UNKNOWN_TYPE = "unknown"
SHARING_MODES = frozenset({"shared", "private", "locked"})
_ALIASES = {
    "dst": "target",
    "destination": "target",
    "src": "source",
    "ro": "readonly",
    "rw": "readwrite",
}
_KNOWN_KEYS = frozenset(
    {"type", "target", "source", "from", "readonly", "readwrite", "id", "sharing", "mode", "uid", "gid"}
    | {"size", "required", "env"}
)
_TRUE = frozenset({"1", "t", "true", "TRUE", "True", "T"})
_FALSE = frozenset({"0", "f", "false", "FALSE", "False", "F"})


class MountError(ValueError):
    pass


class Mount(NamedTuple):
    type: str
    raw: str  # the flag value as written, after quote removal
    options: dict[str, str]  # key (canonical) -> value as written (before expansion)
    # Expanded, as written (relative targets are resolved by the model). "" when absent for bind,
    # cache and tmpfs mounts (BuildKit then mounts at the WORKDIR); None when unresolved.
    target: str | None
    source: str | None
    from_: str | None
    id: str | None  # expanded explicit id
    sharing: str
    readonly: bool
    uid: str | None
    gid: str | None
    mode: str | None
    unresolved: tuple[str, ...] = ()

    @property
    def ephemeral(self) -> bool:
        """Cache, tmpfs and bind mounts: writes under them never reach the layer."""
        return self.type in EPHEMERAL_TYPES

    @property
    def written_target(self) -> str | None:
        return self.options.get("target")

    @property
    def cache_id(self) -> str | None:
        """BuildKit's effective cache id: the explicit `id`, else the target as written, cleaned."""
        if self.type != "cache":
            return None
        if "id" in self.options and self.id != "":
            return self.id
        if self.target is None:
            return None
        return _clean(self.target)


def _clean(path: str) -> str:
    cleaned = posixpath.normpath(path) if path else "."
    return "/" + cleaned.lstrip("/") if cleaned.startswith("//") else cleaned


def _parse_bool(key: str, value: str) -> bool:
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise MountError(f"invalid value for {key}: {value}")


def read_csv_record(value: str) -> list[str]:
    """One record of Go's encoding/csv (no LazyQuotes), as BuildKit reads a `--mount` value.

    Stricter than Python's csv module: a quote inside an unquoted field, or anything but a comma
    after a closing quote, is an error.
    """
    if value == "":
        raise MountError("failed to parse csv mounts: EOF")
    fields: list[str] = []
    pos = 0
    n = len(value)
    while True:
        if pos < n and value[pos] == '"':
            pos += 1
            out: list[str] = []
            while True:
                end = value.find('"', pos)
                if end < 0:
                    raise MountError('failed to parse csv mounts: extraneous or missing " in quoted-field')
                out.append(value[pos:end])
                pos = end + 1
                if pos < n and value[pos] == '"':
                    out.append('"')
                    pos += 1
                    continue
                if pos < n and value[pos] != ",":
                    raise MountError('failed to parse csv mounts: extraneous or missing " in quoted-field')
                break
            fields.append("".join(out))
        else:
            end = value.find(",", pos)
            field = value[pos:] if end < 0 else value[pos:end]
            if '"' in field:
                raise MountError('failed to parse csv mounts: bare " in non-quoted-field')
            fields.append(field)
            pos = n if end < 0 else end
        if pos >= n:
            return fields
        pos += 1  # the comma
        if pos == n:
            fields.append("")
            return fields


_SIZE = re.compile(r"^(\d+(\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$")
_FROM_VARIABLE = re.compile(r"\$.", re.DOTALL)


def parse_mount(value: str, scope: Scope, escape: str = "\\") -> Mount:
    """Parse and validate one `--mount` value as BuildKit's `parseMount` and `validateMount` do.

    Values are expanded with `scope`; a check that needs a value that cannot be resolved is
    skipped (never guessed), and the option is listed in `unresolved`.
    """
    fields = read_csv_record(value)
    options: dict[str, str] = {}
    readonly: bool | None = None
    bare_required = False
    for item in fields:
        key, eq, val = item.partition("=")
        key = key.lower()
        canonical = _ALIASES.get(key, key)
        if not eq:
            if canonical == "readonly":
                readonly = True
            elif canonical == "readwrite":
                readonly = False
            elif canonical == "required":
                bare_required = True
            else:
                raise MountError(f"invalid field '{item}' must be a key=value pair")
            continue
        if canonical not in _KNOWN_KEYS:
            raise MountError(f"unexpected key '{key}' in '{item}'")
        if canonical == "from" and _FROM_VARIABLE.search(val):
            raise MountError("'from' doesn't support variable expansion, define alias stage instead")
        options[canonical] = val

    unresolved: list[str] = []
    values: dict[str, str | None] = {}
    for key, raw in options.items():
        result = raw if key == "from" else expand(raw, scope, escape)
        if result is None:
            unresolved.append(key)
        values[key] = result

    def known(key: str) -> str | None:
        return values.get(key)

    mount_type = "bind"
    if "type" in options:
        written_type = known("type")
        if written_type is None:
            mount_type = UNKNOWN_TYPE
        else:
            mount_type = written_type.lower()
            if mount_type not in MOUNT_TYPES:
                raise MountError(f"unsupported mount type {written_type!r}")
    typed = mount_type != UNKNOWN_TYPE
    for key in ("readonly", "readwrite"):
        text = known(key)
        if text is not None:
            flag = _parse_bool(key, text)
            readonly = flag if key == "readonly" else not flag
    sharing = "shared"
    if "sharing" in options:
        text = known("sharing")
        if text is not None:
            sharing = text.lower()
            if sharing not in SHARING_MODES:
                raise MountError(f"unsupported sharing value {text!r}")
        if typed and mount_type != "cache":
            raise MountError(f"invalid cache sharing set for {mount_type} mount")
    if (bare_required or "required" in options) and typed and mount_type not in ("secret", "ssh"):
        raise MountError(f"unexpected key 'required' for mount type '{mount_type}'")
    if known("required") is not None:
        _parse_bool("required", known("required") or "")
    if "size" in options:
        if typed and mount_type != "tmpfs":
            raise MountError(f"unexpected key 'size' for mount type '{mount_type}'")
        text = known("size")
        if text is not None and not _SIZE.match(text):
            raise MountError(f"invalid value for size: {text}")
    if "env" in options and typed and mount_type != "secret":
        raise MountError(f"unexpected key 'env' for mount type '{mount_type}'")
    for key, base in (("mode", 8), ("uid", 10), ("gid", 10)):
        if key not in options:
            continue
        if typed and mount_type not in ("cache", "secret", "ssh"):
            raise MountError(f"{key} not allowed for {mount_type!r} type mounts")
        text = known(key)
        if text is not None and not _parse_uint(text, base):
            raise MountError(f"invalid value {text} for {key}")
    if mount_type == "secret":
        if "from" in options:
            raise MountError("secret mount should not have a from")
        if not (known("source") or known("target") or known("id")) and not unresolved:
            raise MountError("invalid secret mount. one of source, target required")
        if known("source") and known("id"):
            raise MountError("both source and id can't be set")

    target = known("target")
    mount_id = known("id")
    if not target and "target" not in unresolved:
        if mount_type == "secret":
            name = known("source") or mount_id or ""
            target = f"/run/secrets/{posixpath.basename(name)}" if name else None
        elif mount_type == "ssh":
            target = "/run/buildkit/ssh_agent.0"
        else:
            # No target: BuildKit mounts at the RUN's WORKDIR (`filepath.Join("/", dir, "")`).
            target = ""
    if readonly is None:
        readonly = mount_type not in ("cache", "tmpfs")
    return Mount(
        type=mount_type,
        raw=value,
        options=options,
        target=target,
        source=known("source"),
        from_=known("from"),
        id=mount_id,
        sharing=sharing,
        readonly=readonly,
        uid=known("uid"),
        gid=known("gid"),
        mode=known("mode"),
        unresolved=tuple(unresolved),
    )


def _parse_uint(text: str, base: int) -> bool:
    """Go's strconv.ParseUint(text, base, 32) succeeds."""
    digits = "01234567" if base == 8 else "0123456789"
    if not text or any(ch not in digits for ch in text):
        return False
    return int(text, base) < 2**32
