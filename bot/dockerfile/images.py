"""What Mountie knows about a few official base images' defaults.

Only facts read from the images' own Dockerfiles (docker-library) are listed; any other image has
an unknown WORKDIR (taken as `/` and marked assumed) and unknown ENV (references stay unresolved).
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple


class ImageDefaults(NamedTuple):
    workdir: str | None  # None: the image sets no WORKDIR, so it is `/`
    env: dict[str, str]


KNOWN_IMAGES: dict[str, ImageDefaults] = {
    # docker-library/golang: `ENV GOPATH /go`, `WORKDIR $GOPATH`.
    "golang": ImageDefaults("/go", {"GOPATH": "/go"}),
    # rust-lang/docker-rust: CARGO_HOME and RUSTUP_HOME under /usr/local, no WORKDIR.
    "rust": ImageDefaults(None, {"CARGO_HOME": "/usr/local/cargo", "RUSTUP_HOME": "/usr/local/rustup"}),
    # nodejs/docker-node: no WORKDIR.
    "node": ImageDefaults(None, {}),
}


def image_repository(reference: str) -> str:
    """`docker.io/library/golang:1.22@sha256:...` -> `golang`."""
    name = reference.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name = name[: len(name) - len(last)] + last.split(":", 1)[0]
    for prefix in ("docker.io/library/", "docker.io/", "index.docker.io/library/", "library/"):
        if name.startswith(prefix):
            name = name[len(prefix) :]
    return name.lower()


@lru_cache(maxsize=1024)  # a handful of base images, named again and again
def defaults_for(reference: str) -> ImageDefaults | None:
    return KNOWN_IMAGES.get(image_repository(reference))
