"""The one error hierarchy of the project.

Library code raises these; only the edges (the CLI, the dashboard) catch them and turn them into
one clear line for a person. Anything else escaping is a bug and keeps its traceback.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

_Value = TypeVar("_Value")


class ApigwError(Exception):
    """Base of every error a user can cause and fix (bad input, bad settings, missing data)."""

    exit_code = 2


class InputError(ApigwError):
    """A path or file that cannot be read at all; names the file (and line when known)."""

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None) -> None:
        location = path or ""
        if path is not None and line is not None:
            location = f"{path}:{line}"
        super().__init__(f"{location}: {message}" if location else message)
        self.path = path
        self.line = line


class FormatError(InputError):
    """A file whose format is unknown, or that does not match the format forced by the user."""


class ConfigError(ApigwError):
    """An invalid setting; the message names the setting and what is accepted."""


def chosen(table: Mapping[str, _Value], name: str, what: str) -> _Value:
    """`table[name]`; an unknown name is a ConfigError that lists the names accepted."""
    try:
        return table[name]
    except KeyError:
        raise ConfigError(f"unknown {what} {name!r}; known: {', '.join(table)}") from None


class WarehouseError(ApigwError):
    """The warehouse directory is missing, unreadable, or holds data this version cannot read."""


class QueryError(ApigwError):
    """An unknown query or parameter, or a parameter value of the wrong type."""
