"""Page-size limits shared by the listings."""

from __future__ import annotations

from quantum_orchestrator.domain.errors import FieldError, InvalidInputError
from quantum_orchestrator.settings import Settings


def page_limit(limit: int, settings: Settings) -> int:
    """The requested page size, refused past the configured maximum."""
    if limit > settings.api.max_page_size:
        raise InvalidInputError(
            f"limit must be at most {settings.api.max_page_size}; page with next_cursor",
            [FieldError("limit", f"at most {settings.api.max_page_size}")],
        )
    return limit
