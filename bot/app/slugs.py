"""Our App's slug, remembered in the data directory, for `@<slug> recheck` commands.

The receiver never calls GitHub, so it learns the slug from what it is told: the worker writes it
after its start-up `GET /app`, and the receiver writes it when a signed payload states it (our own
check runs and suites carry `app.slug`, installation events `installation.app_slug`). Until then
only `/mountie recheck` is understood.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import threading
from pathlib import Path

FILE_NAME = "app-slug"
_VALID = re.compile(r"[a-z0-9][a-z0-9-]{0,99}")


class SlugStore:
    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / FILE_NAME
        self._lock = threading.Lock()
        self._cached: tuple[float, frozenset[str]] | None = None

    def known(self) -> frozenset[str]:
        """The slugs `@<slug> recheck` may name (lower case); re-read when the file changes."""
        try:
            mtime = self.path.stat().st_mtime
        except OSError:
            return frozenset()
        with self._lock:
            if self._cached is None or self._cached[0] != mtime:
                try:
                    text = self.path.read_text(encoding="utf-8")
                except OSError:
                    return frozenset()
                slugs = frozenset(
                    line.strip() for line in text.splitlines() if _VALID.fullmatch(line.strip())
                )
                self._cached = (mtime, slugs)
            return self._cached[1]

    def remember(self, slug: str) -> bool:
        """Record the App's slug (it replaces an older one: an App can be renamed). True if it changed."""
        slug = slug.strip().lower()
        if not _VALID.fullmatch(slug) or self.known() == {slug}:
            return False
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=".app-slug-", dir=self.path.parent)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                stream.write(slug + "\n")
            os.replace(temporary, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
        return True
