"""A real builder for the proofs in this directory: buildah, in a storage of its own.

The base image `localhost/mountie-busybox` is made once per session from the host's static busybox
(there is no registry to pull from): `buildah from scratch`, `/bin/busybox` and a link per applet,
the `cargo` stand-in from `fixtures/cargo`, `buildah commit`. Everything buildah keeps lives under
a pytest temporary directory: images and layers (`--root`, `--runroot`, vfs driver, a
storage.conf of our own) and cache mounts (buildah 1.28 keeps them under `$TMPDIR/buildah-cache`,
so every test gets a `TMPDIR` of its own and starts with empty caches). Nothing reaches the
system's container store; the one file outside is buildah's blob-info cache (a digest lookup
database, no image data) at /var/lib/containers/cache, which buildah 1.28 has no option to move.

Without `buildah` on the PATH the tests are skipped, saying so; with `MOUNTIE_REQUIRE_BUILDER=1`
(CI) they fail instead. Install the builder with `tests/builder/install-builder.sh`.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
BASE_IMAGE = "localhost/mountie-busybox"
BUSYBOX = Path("/bin/busybox")
REQUIRE_ENV = "MOUNTIE_REQUIRE_BUILDER"
INSTALL_HINT = "install it with `sudo tests/builder/install-builder.sh` (Debian: buildah busybox-static)"
TIMEOUT = 120  # seconds for one buildah command; a proof build takes about half a second


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "builder: builds Dockerfiles with a real builder (buildah, root); skipped without buildah, "
        f"fails without it when {REQUIRE_ENV}=1",
    )


@dataclass(frozen=True)
class Build:
    """One `buildah bud`: whether it succeeded, its output, and the image it made."""

    ok: bool
    log: str
    image: str


@dataclass(frozen=True)
class Store:
    """A buildah storage of our own, holding the base image."""

    root: Path
    version: str

    @property
    def conf(self) -> Path:
        return self.root / "storage.conf"

    def environment(self, tmpdir: Path) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BUILDAH_", "CONTAINERS_"))}
        env["CONTAINERS_STORAGE_CONF"] = str(self.conf)
        env["TMPDIR"] = str(tmpdir)  # where buildah 1.28 keeps cache mounts
        return env

    def buildah(self, *args: str, tmpdir: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [
            "buildah",
            "--root",
            str(self.root / "storage"),
            "--runroot",
            str(self.root / "run"),
            "--storage-driver",
            "vfs",
            *args,
        ]
        done = subprocess.run(
            command,
            env=self.environment(tmpdir),
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
        if check and done.returncode != 0:
            raise AssertionError(
                f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}{done.stderr}"
            )
        return done


class Builder:
    """buildah for one test: the session's storage, and cache mounts of the test's own."""

    _tags = itertools.count(1)

    def __init__(self, store: Store, tmpdir: Path) -> None:
        self.store = store
        self.tmpdir = tmpdir

    def _buildah(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.store.buildah(*args, tmpdir=self.tmpdir, check=check)

    def build(
        self, context: Path, args: Mapping[str, str], *, layers: bool = False, target: str | None = None
    ) -> Build:
        """`buildah bud` of context/Dockerfile (up to stage `target`); `layers` keeps and reuses
        layers, as BuildKit always does."""
        image = f"localhost/mountie-proof-{next(self._tags)}"
        command = ["bud", "--isolation", "chroot", "--pull=never", f"--layers={str(layers).lower()}"]
        if target is not None:
            command += ["--target", target]
        for name, value in args.items():
            command += ["--build-arg", f"{name}={value}"]
        command += ["--tag", image, "--file", str(context / "Dockerfile"), str(context)]
        done = self._buildah(*command, check=False)
        return Build(done.returncode == 0, done.stdout + done.stderr, image)

    def read(self, image: str, path: str) -> str | None:
        """The text of `path` in the image, or None when the image has nothing there."""
        container = self._buildah("from", "--pull=never", "--quiet", image).stdout.strip()
        try:
            root = Path(self._buildah("mount", container).stdout.strip())
            file = root / path.lstrip("/")
            return file.read_text(encoding="utf-8") if file.is_file() else None
        finally:
            self._buildah("rm", container)

    def start(self, image: str) -> subprocess.CompletedProcess[str]:
        """Run the image's ENTRYPOINT and CMD in its WORKDIR, as a container would start."""
        config = json.loads(self._buildah("inspect", "--type", "image", image).stdout)["OCIv1"]["config"]
        argv = [*(config.get("Entrypoint") or []), *(config.get("Cmd") or [])]
        assert argv, f"{image} has neither ENTRYPOINT nor CMD"
        container = self._buildah("from", "--pull=never", "--quiet", image).stdout.strip()
        try:
            return self._buildah(
                "run",
                "--isolation",
                "chroot",
                "--workingdir",
                config.get("WorkingDir") or "/",
                container,
                "--",
                *argv,
                check=False,
            )
        finally:
            self._buildah("rm", container)


def _require_builder() -> str:
    """The buildah executable; skips (or fails, under MOUNTIE_REQUIRE_BUILDER=1) without it."""
    found = shutil.which("buildah")
    if found is None:
        reason = f"buildah is not installed, so the builder proofs cannot run: {INSTALL_HINT}"
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{REQUIRE_ENV}=1 but {reason}", pytrace=False)
        pytest.skip(reason)
    if os.geteuid() != 0:
        pytest.fail(
            "buildah is installed but the builder proofs need root (chroot isolation, `buildah mount`): "
            "run pytest as root, or deselect them with `-m 'not builder'`",
            pytrace=False,
        )
    if not BUSYBOX.is_file():
        pytest.fail(f"buildah is installed but {BUSYBOX} is missing: {INSTALL_HINT}", pytrace=False)
    return found


def _make_base_image(store: Store, tmpdir: Path) -> None:
    """localhost/mountie-busybox: static busybox, its applets as links, the cargo stand-in."""
    container = store.buildah("from", "--quiet", "scratch", tmpdir=tmpdir).stdout.strip()
    try:
        root = Path(store.buildah("mount", container, tmpdir=tmpdir).stdout.strip())
        for directory in ("bin", "usr/bin", "usr/local/bin", "root", "etc"):
            (root / directory).mkdir(parents=True, exist_ok=True)
        (root / "tmp").mkdir(mode=0o1777)
        (root / "tmp").chmod(0o1777)
        shutil.copy2(BUSYBOX, root / "bin" / "busybox")
        applets = subprocess.run(
            [str(BUSYBOX), "--list"], capture_output=True, text=True, check=True, timeout=TIMEOUT
        ).stdout.split()
        for applet in applets:
            if applet != "busybox":
                (root / "bin" / applet).symlink_to("busybox")
        cargo = root / "usr" / "local" / "bin" / "cargo"
        shutil.copyfile(FIXTURES / "cargo", cargo)
        cargo.chmod(0o755)
        store.buildah("config", "--env", "PATH=/usr/local/bin:/usr/bin:/bin", container, tmpdir=tmpdir)
        # The busybox must run inside the image on its own: it has no dynamic loader or libraries.
        ran = store.buildah(
            "run", "--isolation", "chroot", container, "--", "sh", "-c", "echo ok", tmpdir=tmpdir, check=False
        )
        assert ran.stdout.strip() == "ok", (
            f"{BUSYBOX} does not run in an image of its own (is it busybox-static?):\n"
            f"{ran.stdout}{ran.stderr}"
        )
        store.buildah("commit", "--quiet", container, BASE_IMAGE, tmpdir=tmpdir)
    finally:
        store.buildah("rm", container, tmpdir=tmpdir)


@pytest.fixture(scope="session")
def builder_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    _require_builder()
    root = tmp_path_factory.mktemp("buildah-store")
    version = subprocess.run(
        ["buildah", "--version"], capture_output=True, text=True, check=True, timeout=TIMEOUT
    ).stdout.strip()
    store = Store(root, version)
    store.conf.write_text(
        f'[storage]\ndriver = "vfs"\ngraphroot = "{root / "storage"}"\nrunroot = "{root / "run"}"\n',
        encoding="utf-8",
    )
    tmpdir = root / "tmp"
    tmpdir.mkdir()
    _make_base_image(store, tmpdir)
    yield store
    # vfs keeps a full copy of the file system per layer: do not leave them behind.
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def builder(builder_store: Store, tmp_path: Path) -> Builder:
    tmpdir = tmp_path / "buildah-tmp"
    tmpdir.mkdir()
    return Builder(builder_store, tmpdir)
