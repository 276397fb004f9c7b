"""Webhook payloads for the emulator's state, shaped like the ones GitHub delivers to an App.

Only what `mountie demo` sends: `pull_request` events (`opened`, `synchronize`, ...), built from
the same renderer as the REST answers, so the payload's pull request is the one the API returns.
"""

from __future__ import annotations

from typing import Any

from bot.testing.github_emulator.emulator import GitHubEmulator
from bot.testing.github_emulator.render import Renderer
from bot.testing.github_emulator.state import node_id


def pull_request_event(
    emu: GitHubEmulator,
    repo: str,
    number: int,
    action: str,
    *,
    installation_id: int,
    sender: str,
    before: str | None = None,
) -> dict[str, Any]:
    """`pull_request.<action>` for PR `number` as it is now; `before` (synchronize) is the old head."""
    with emu.store.lock:
        renderer = Renderer(emu.url, emu.store)
        record = emu.store.repos[repo.lower()]
        pr = emu.store.pull(record, number)
        payload: dict[str, Any] = {"action": action, "number": number, "pull_request": renderer.pull(pr)}
        if action == "synchronize":
            payload["before"] = before or pr.base_sha
            payload["after"] = pr.head_sha
        payload["repository"] = renderer.repo(record)
        payload["installation"] = {"id": installation_id, "node_id": node_id("MDIz", installation_id)}
        payload["sender"] = renderer.user(sender)
        return payload
