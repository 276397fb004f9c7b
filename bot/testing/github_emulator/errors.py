"""Exceptions that handlers raise; the server turns them into GitHub-shaped error responses."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


class ApiError(Exception):
    """An error response: `{"message", "errors"?, "documentation_url", "status"}` like api.github.com."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        errors: Sequence[Any] | None = None,
        headers: Mapping[str, str] | None = None,
        documentation_url: str | None = None,
    ) -> None:
        super().__init__(f"{status} {message}")
        self.status = status
        self.message = message
        self.errors = list(errors) if errors is not None else None
        self.headers = dict(headers or {})
        self.documentation_url = documentation_url


def not_found() -> ApiError:
    return ApiError(404, "Not Found")


def unprocessable(*errors: Any) -> ApiError:
    """GitHub's "Validation Error Simple" shape: message plus a list of plain strings."""
    return ApiError(422, "Unprocessable Entity", errors=list(errors))
