"""`RUN --mount=...` values, parsed with BuildKit's CSV grammar (`instructions/commands_runmount.go`).

Keys are lower-cased and aliases folded (`target|dst|destination`, `source|src`, `readonly|ro`,
`readwrite|rw`); the type defaults to `bind`. Every value except `from` is expanded with the ARG/ENV
scope of its RUN (Dockerfile frontend >= 1.3); a value that cannot be resolved stays None and is
listed in `unresolved`.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field

from bot.dockerfile.words import Scope, expand

MOUNT_TYPES = frozenset({"bind", "cache", "tmpfs", "secret", "ssh"})
EPHEMERAL_TYPES = frozenset({"bind", "cache", "tmpfs"})
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


@dataclass(frozen=True, slots=True)
class Mount:
    type: str
    raw: str  # the flag value as written, after quote removal
    options: dict[str, str]  # key (canonical) -> value as written (before expansion)
    target: str | None  # expanded; None when absent or unresolved
    source: str | None
    from_: str | None
    id: str | None  # expanded explicit id
    sharing: str
    readonly: bool
    uid: str | None
    gid: str | None
    mode: str | None
    unresolved: tuple[str, ...] = field(default=())

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
        if "id" in self.options:
            return self.id
        if self.target is None:
            return None
        return _clean(self.target)


def _clean(path: str) -> str:
    import posixpath

    cleaned = posixpath.normpath(path) if path else "."
    return "/" + cleaned.lstrip("/") if cleaned.startswith("//") else cleaned


def _parse_bool(key: str, value: str) -> bool:
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise MountError(f"invalid value {value!r} for {key}: expected true or false")


def parse_mount(value: str, scope: Scope, escape: str = "\\") -> Mount:
    try:
        fields = next(csv.reader([value]), [])
    except csv.Error as exc:
        raise MountError(f"cannot read mount options {value!r}: {exc}") from None
    options: dict[str, str] = {}
    readonly: bool | None = None
    for item in fields:
        key, eq, val = item.partition("=")
        key = _ALIASES.get(key.strip().lower(), key.strip().lower())
        if not eq:
            if key == "readonly":
                readonly = True
                continue
            if key == "readwrite":
                readonly = False
                continue
            if key == "required":
                options[key] = "true"
                continue
            raise MountError(f"invalid field {item!r} in --mount: it must be a key=value pair")
        if key not in _KNOWN_KEYS:
            raise MountError(f"unexpected key {key!r} in --mount={value}")
        if key == "readonly":
            readonly = _parse_bool(key, val)
        elif key == "readwrite":
            readonly = not _parse_bool(key, val)
        options[key] = val

    unresolved: list[str] = []

    def resolved(key: str) -> str | None:
        if key not in options:
            return None
        if key == "from":
            if "$" in options[key]:
                raise MountError("'from' doesn't support variable expansion, define alias stage instead")
            return options[key]
        result = expand(options[key], scope, escape)
        if result is None:
            unresolved.append(key)
        return result

    mount_type = (resolved("type") or "bind").lower()
    if mount_type not in MOUNT_TYPES:
        raise MountError(f"unsupported mount type {mount_type!r}")
    sharing = (resolved("sharing") or "shared").lower()
    if "sharing" in options and sharing not in SHARING_MODES:
        raise MountError(f"unsupported sharing value {sharing!r}")
    if "sharing" in options and mount_type != "cache":
        raise MountError("sharing is only valid for cache mounts")
    target = resolved("target")
    mount_id = resolved("id")
    if target is None and "target" not in options:
        if mount_type == "secret":
            target = f"/run/secrets/{mount_id or resolved('source') or ''}".rstrip("/")
        elif mount_type == "ssh":
            target = "/run/buildkit/ssh_agent.0"
    for numeric in ("uid", "gid"):
        if numeric in options and options[numeric].isdigit() is False and "$" not in options[numeric]:
            raise MountError(f"invalid {numeric} {options[numeric]!r}: it must be a number")
    if readonly is None:
        readonly = mount_type == "bind"
    return Mount(
        type=mount_type,
        raw=value,
        options=options,
        target=target,
        source=resolved("source"),
        from_=resolved("from"),
        id=mount_id,
        sharing=sharing,
        readonly=readonly,
        uid=resolved("uid"),
        gid=resolved("gid"),
        mode=resolved("mode"),
        unresolved=tuple(unresolved),
    )
