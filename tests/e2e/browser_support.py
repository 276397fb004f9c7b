"""Headless Chromium for the browser tests: skipped, with the reason, only when Chromium is not
installed and MOUNTIE_REQUIRE_BROWSER is unset (CI sets it, so there a missing browser fails)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from bot.testing.browser import chromium_path, launch

REQUIRE = "MOUNTIE_REQUIRE_BROWSER"


def require_chromium() -> None:
    if chromium_path() is None:
        if os.environ.get(REQUIRE):
            pytest.fail(f"{REQUIRE} is set but Chromium is missing: apt-get install chromium")
        pytest.skip(f"Chromium is not installed (apt-get install chromium; {REQUIRE}=1 makes this a failure)")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    require_chromium()
    with launch() as instance:
        yield instance


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context()
    try:
        yield context.new_page()
    finally:
        context.close()
