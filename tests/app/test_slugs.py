"""The App's slug, remembered in the data directory for `@<slug> recheck`."""

from __future__ import annotations

from pathlib import Path

from bot.app.slugs import SlugStore


def test_unknown_until_remembered_then_shared(tmp_path: Path) -> None:
    store = SlugStore(tmp_path)
    assert store.known() == frozenset()
    assert store.remember("Mountie-Bot")
    assert store.known() == {"mountie-bot"}
    assert not store.remember("mountie-bot")  # unchanged: no write
    assert SlugStore(tmp_path).known() == {"mountie-bot"}  # another process reads it


def test_a_renamed_app_replaces_the_old_slug(tmp_path: Path) -> None:
    store, other = SlugStore(tmp_path), SlugStore(tmp_path)
    store.remember("old-name")
    assert other.known() == {"old-name"}
    store.remember("new-name")
    assert other.known() == {"new-name"}


def test_invalid_slugs_are_refused(tmp_path: Path) -> None:
    store = SlugStore(tmp_path)
    for bad in ("", "has space", "-leading", "emoji🙂", "a" * 101):
        assert not store.remember(bad)
    assert store.known() == frozenset()
    (tmp_path / "app-slug").write_text("not a slug!\n", encoding="utf-8")
    assert store.known() == frozenset()
