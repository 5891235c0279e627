"""What goes wrong talking to Label Studio."""

from __future__ import annotations


class LabelStudioError(RuntimeError):
    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class UnsafeUrl(LabelStudioError):
    """A Label Studio URL the API token must not be sent to: a setting to change, not a
    failure that a retry can get past."""
