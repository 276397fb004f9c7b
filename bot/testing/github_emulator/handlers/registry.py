"""operationId -> handler table, filled by the @handles decorator in the handler modules."""

from __future__ import annotations

from collections.abc import Callable

from bot.testing.github_emulator.context import Context, Response

Handler = Callable[[Context], Response]
HANDLERS: dict[str, Handler] = {}


def handles(operation_id: str) -> Callable[[Handler], Handler]:
    def register(func: Handler) -> Handler:
        if operation_id in HANDLERS:
            raise ValueError(f"two handlers for {operation_id}")
        HANDLERS[operation_id] = func
        return func

    return register
