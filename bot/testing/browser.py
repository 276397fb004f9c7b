"""Headless Chromium for the browser tests and the README screenshot: Debian's `chromium` package,
driven by Playwright (its Python package only: `playwright install` is never needed, nor run).

`chromium_path()` finds the browser (`MOUNTIE_CHROMIUM`, else `chromium` on PATH); `launch()`
starts it with the flags a container needs (no sandbox, no GPU, no background network traffic).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
)


def chromium_path() -> str | None:
    configured = os.environ.get("MOUNTIE_CHROMIUM", "").strip()
    if configured:
        return configured if os.path.isfile(configured) else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


@contextmanager
def launch() -> Iterator[Any]:
    """A Playwright `Browser` on the system Chromium; RuntimeError when there is none."""
    from playwright.sync_api import sync_playwright

    path = chromium_path()
    if path is None:
        raise RuntimeError("no Chromium found: apt-get install chromium (or set MOUNTIE_CHROMIUM)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=list(CHROMIUM_ARGS))
        try:
            yield browser
        finally:
            browser.close()
