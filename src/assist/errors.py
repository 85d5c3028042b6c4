"""Errors a user can act on. The CLI prints them as one clear message, never a traceback."""

from __future__ import annotations


class AssistError(Exception):
    """Base class for errors reported to the user as a plain message."""


class InputError(AssistError):
    """Bad input: a missing or unreadable file, a missing column, a malformed value.

    The message names the file and, where known, the column and row.
    """

    def __init__(self, message: str, *, file: str | None = None, column: str | None = None,
                 row: int | None = None) -> None:
        parts = [p for p in (
            f"file {file}" if file else None,
            f"column {column!r}" if column else None,
            f"row {row}" if row is not None else None,
        ) if p]
        where = f" ({', '.join(parts)})" if parts else ""
        super().__init__(f"{message}{where}")
        self.file, self.column, self.row = file, column, row


class ConfigError(AssistError):
    """A configuration or catalog file is invalid; the message names the section and field."""
